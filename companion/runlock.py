"""One running session per pain log. The next start closes sessions a crash left open,
which must never touch a session another process is still running."""

from __future__ import annotations

import fcntl
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from companion.errors import CompanionError

if TYPE_CHECKING:
    from companion.store import PainLog


@contextmanager
def single_run(data_dir: Path) -> Iterator[None]:
    path = data_dir / "run.lock"
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        try:  # a read-only folder: flock works on a lock file opened for reading
            fd = os.open(path, os.O_RDONLY)
        except OSError as e:
            # Nothing can be written there anyway; guide the session, say what is missing.
            print(f"companion: cannot take the run lock {path} ({e.strerror}); make sure "
                  "no other companion uses this data folder", file=sys.stderr)
            yield
            return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CompanionError(f"another companion is already running a session with "
                                 f"{data_dir}; stop it first (or use another --data-dir)")
        yield
    finally:
        os.close(fd)  # closing releases the lock, also when the process is killed


def close_left_open(log: "PainLog") -> None:
    """Close what a crash left open; if the log cannot be written now (full disk, read-only
    folder), say so and carry on: the session must still be guided."""
    if not getattr(log, "opened", True):  # already said that it cannot be opened
        return
    try:
        log.close_interrupted(time.time())
    except CompanionError as e:
        print(f"companion: could not close the session a crash left open: {e}",
              file=sys.stderr)

