"""One running session per pain log. The next start closes sessions a crash left open,
which must never touch a session another process is still running."""

from __future__ import annotations

import fcntl
import logging
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Protocol

from companion.core.errors import CompanionError

logger = logging.getLogger(__name__)


@contextmanager
def single_run(data_dir: Path) -> Iterator[None]:
    """Hold the data folder's run lock while the session runs. A folder that cannot hold one
    (read-only, missing, someone else's) is said in one line and the session runs anyway."""
    path = data_dir / "run.lock"
    fd = None
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except (OSError, ValueError) as first:
        try:  # a read-only folder: flock works on a lock file opened for reading
            fd = os.open(path, os.O_RDONLY)
        except (OSError, ValueError):
            _unlocked(path, first)
    if fd is None:
        yield
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CompanionError(f"another companion is already running a session with "
                                 f"{data_dir}; stop it first (or use another --data-dir)")
        except OSError as e:  # a file system without locks (some network mounts)
            _unlocked(path, e)
        yield
    finally:
        os.close(fd)  # closing releases the lock, also when the process is killed


def _unlocked(path: Path, err: BaseException) -> None:
    """Say in one line why there is no run lock, in the pain log's words (logfile.in_the_way):
    the session is still guided, but nothing keeps a second companion out of the folder."""
    from companion.storage.logfile import in_the_way

    found = in_the_way(path)
    why = found[0] if found else (getattr(err, "strerror", None) or str(err))
    logger.warning("cannot take the run lock %s: %s; make sure no other companion uses this "
                   "data folder", path, why)


class _Closes(Protocol):
    """A PainLog, or a LateLog that opens one when first written to."""

    def close_interrupted(self, at: float) -> int: ...


def close_left_open(log: _Closes) -> None:
    """Close what a crash left open; if the log cannot be written now (full disk, read-only
    folder), say so and carry on: the session must still be guided."""
    if not getattr(log, "opened", True):  # already said that it cannot be opened
        return
    try:
        log.close_interrupted(time.time())
    except CompanionError as e:
        logger.warning("could not close the session a crash left open: %s", e)

