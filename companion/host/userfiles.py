"""Reading a file a user named or dropped in a folder, safely: only a regular file (a FIFO
called `x.yaml` would hang every command, `/dev/zero` would fill memory) and only up to a
size that fits its purpose."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from companion.core.errors import CompanionError

MB = 1024 * 1024


def open_regular(path: Path, what: str) -> int:
    """An open read-only descriptor for a regular file; CompanionError naming the path
    otherwise. Opened non-blocking, so a FIFO is refused instead of waited on."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise CompanionError(f"{path}: no such {what}") from None
    except IsADirectoryError:
        raise CompanionError(f"{path}: is a folder, not a {what}") from None
    except OSError as e:
        raise CompanionError(f"{path}: cannot read the {what} ({e.strerror})") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file (a pipe or device?)"
        raise CompanionError(f"{path}: {kind}; a {what} must be an ordinary file")
    os.set_blocking(fd, True)
    return fd


def read_limited(path: Path, limit: int, what: str) -> bytes:
    """The whole content of a regular file of at most `limit` bytes."""
    fd = open_regular(path, what)
    with os.fdopen(fd, "rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise CompanionError(f"{path}: too large for a {what} ({_size(limit)} at most)")
    return data


def _size(n: int) -> str:
    return f"{n // MB} MB" if n >= MB else f"{n // 1024} KB"
