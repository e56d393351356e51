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
def stop_signals_as_interrupt() -> Iterator[None]:
    """While inside, SIGTERM (systemd stopping the service) and SIGINT (Ctrl-C, `kill -INT`)
    raise KeyboardInterrupt. SIGINT is set explicitly: a process started in the background
    by a shell without job control (`companion run &` in a script, a CI job) inherits it
    ignored, and Python then leaves it ignored, so Ctrl-C did nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signals can only be handled on the main thread
        return
    old = {s: signal.signal(s, _interrupt) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
