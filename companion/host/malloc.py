"""One malloc arena for the whole process (glibc's M_ARENA_MAX = 1).

CTranslate2 decodes on threads of its own, and glibc gives each thread an arena of its own
that it hands back to the system less readily than the main heap: with one arena the
recognition bench peaks 12 MB lower and ends 10-25 MB lower, the same results, about 1 %
more CPU (AMD EPYC, oneDNN, 2026-12-06; hearing README). It must be set before the first
thread needs an arena, so it is done when the package is imported. Elsewhere than glibc
(or with MALLOC_ARENA_MAX already set by the user) it does nothing."""

from __future__ import annotations

import ctypes
import os

M_ARENA_MAX = -8  # glibc's malloc.h


def one_arena() -> bool:
    """Ask glibc for one arena; whether it was set."""
    if "MALLOC_ARENA_MAX" in os.environ or os.uname().sysname != "Linux":
        return False
    try:
        # The process's own symbols, libc's among them: ctypes.util.find_library would run
        # ldconfig (a child process, output to /dev/null) on every import.
        return bool(ctypes.CDLL(None).mallopt(M_ARENA_MAX, 1))
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
