"""The process keeps one malloc arena (host/malloc.py): threads that allocate at once share
the main heap instead of each getting an arena of their own, which glibc gives back less
readily (the recognition bench peaked 10-12 MB higher without)."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys

import pytest

# Four threads allocate at once, then glibc's own report counts the heaps (arenas).
PROBE = r"""
import ctypes, sys, tempfile, threading
if sys.argv[1] == "companion":
    import companion  # noqa: F401
libc = ctypes.CDLL(None)
start = threading.Barrier(4)
def work():
    start.wait()
    keep = [bytearray(50000) for _ in range(200)]
    del keep
threads = [threading.Thread(target=work) for _ in range(4)]
for t in threads: t.start()
for t in threads: t.join()
libc.fopen.restype = ctypes.c_void_p
with tempfile.NamedTemporaryFile() as f:
    fp = ctypes.c_void_p(libc.fopen(f.name.encode(), b"w"))
    libc.malloc_info(0, fp)
    libc.fclose(fp)
    print(open(f.name).read().count("<heap nr="))
"""


def _heaps(what: str) -> int:
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    out = subprocess.run([sys.executable, "-c", PROBE, what], capture_output=True, text=True,
                         env=env, check=True)
    return int(out.stdout)


def _glibc() -> bool:
    try:
        return hasattr(ctypes.CDLL(None), "malloc_info")
    except OSError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux") or not _glibc(),
                    reason="malloc arenas are glibc's (Linux)")
def test_threads_share_one_arena_once_companion_is_imported():
    assert _heaps("plain") > 1  # without it, threads that allocate at once get their own
    assert _heaps("companion") == 1
