"""One running session per pain log. The next start closes sessions a crash left open,
which must never touch a session another process is still running."""

from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from companion.errors import CompanionError


@contextmanager
def single_run(data_dir: Path) -> Iterator[None]:
    path = data_dir / "run.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CompanionError(f"another companion is already running a session with "
                                 f"{data_dir}; stop it first (or use another --data-dir)")
        yield
    finally:
        os.close(fd)  # closing releases the lock, also when the process is killed
