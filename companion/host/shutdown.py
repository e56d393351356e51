"""Ctrl-C and SIGTERM end a session the same way: the loop sees KeyboardInterrupt, closes
the session in the log, and exits 130."""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Iterator


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt()


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """While inside, SIGTERM (systemd stopping the service) raises KeyboardInterrupt."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signals can only be handled on the main thread
        return
    old = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)
