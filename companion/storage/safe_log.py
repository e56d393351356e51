"""A pain log that never stops a session: when the disk is full or read-only, writes wait
in memory, in order, and go to disk as soon as it takes them again."""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Union

from companion.core.errors import CompanionError
from companion.core.interfaces import Log

if TYPE_CHECKING:
    from companion.storage.store import PainLog

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StartSession:
    """A session row to write. Its id is handed out at once as `provisional` (negative), so
    the session goes on while the disk refuses; apply() maps it to the real id."""

    routine: str
    at: float
    provisional: int

    def apply(self, log: Log, ids: dict[int, int]) -> None:
        ids[self.provisional] = log.start_session(self.routine, self.at)


@dataclass(frozen=True)
class LogEvent:
    """A step event ("started", "skipped", ...) of a session, by real or provisional id."""

    session_id: int
    at: float
    kind: str
    step_index: Optional[int] = None
    step: Optional[str] = None
    area: Optional[str] = None
    detail: Optional[str] = None

    def apply(self, log: Log, ids: dict[int, int]) -> None:
        log.log_event(ids.get(self.session_id, self.session_id), self.at, self.kind,
                      self.step_index, self.step, self.area, self.detail)


@dataclass(frozen=True)
class LogRating:
    """A 0-10 pain rating, already checked: a bad value must never block the queue."""

    session_id: int
    at: float
    value: int
    step_index: int
    step: str
    area: str
    corrects: bool = False  # replaces the session's last rating

    def apply(self, log: Log, ids: dict[int, int]) -> None:
        log.log_rating(ids.get(self.session_id, self.session_id), self.at, self.value,
                       self.step_index, self.step, self.area, self.corrects)


@dataclass(frozen=True)
class EndSession:
    """The end of a session and why it ended."""

    session_id: int
    at: float
    reason: str

    def apply(self, log: Log, ids: dict[int, int]) -> None:
        log.end_session(ids.get(self.session_id, self.session_id), self.at, self.reason)


@dataclass(frozen=True)
class ReopenSession:
    """A session that ended goes on after all (its "stop" was taken back)."""

    session_id: int

    def apply(self, log: Log, ids: dict[int, int]) -> None:
        log.reopen_session(ids.get(self.session_id, self.session_id))


Write = Union[StartSession, LogEvent, LogRating, EndSession, ReopenSession]


class SafeLog:
    """Wraps a store.PainLog. Every call is queued and the queue flushed at once; a write
    that fails stays at the head of the queue and is retried on the next call or flush().
    Session ids handed out before the session row exists are provisional (negative) and
    mapped to the real id when it is written."""

    def __init__(self, log: Log) -> None:
        self.log = log
        self.pending: deque[Write] = deque()
        self.error: Optional[CompanionError] = None
        self._ids: dict[int, int] = {}  # provisional session id -> the log's
        self._next_provisional = -1

    def unsaved_ratings(self) -> int:
        return sum(isinstance(w, LogRating) for w in self.pending)

    def flush(self) -> bool:
        """Write what is queued; True when everything is on disk."""
        while self.pending:
            try:
                self.pending[0].apply(self.log, self._ids)
            except CompanionError as e:
                self.error = e
                return False
            self.pending.popleft()
        self.error = None
        return True

    def _queue(self, write: Write) -> bool:
        self.pending.append(write)
        return self.flush()

    def start_session(self, routine: str, at: float) -> int:
        provisional = self._next_provisional
        self._next_provisional -= 1
        self._queue(StartSession(routine, at, provisional))
        return provisional

    def log_event(self, session_id: int, at: float, kind: str, step_index: Optional[int] = None,
                  step: Optional[str] = None, area: Optional[str] = None,
                  detail: Optional[str] = None) -> None:
        self._queue(LogEvent(session_id, at, kind, step_index, step, area, detail))

    def log_rating(self, session_id: int, at: float, value: int, step_index: int, step: str,
                   area: str, corrects: bool = False) -> int:
        if not 0 <= int(value) <= 10:  # a bad value must fail now, not block the queue
            raise ValueError(f"pain rating must be 0-10, not {value}")
        return 1 if self._queue(LogRating(session_id, at, value, step_index, step, area,
                                          corrects)) else 0

    def end_session(self, session_id: int, at: float, reason: str) -> None:
        self._queue(EndSession(session_id, at, reason))

    def reopen_session(self, session_id: int) -> None:
        self._queue(ReopenSession(session_id))


def saved_or_said(log: SafeLog) -> int:
    """0 when every write reached the disk; else say what was lost and return 1."""
    if log.flush():
        return 0
    n = log.unsaved_ratings()
    what = f"{n} pain rating{'s' * (n != 1)}" if n else "the session record"
    logger.warning("%s could not be saved and %s lost: %s", what, "are" if n > 1 else "is",
                   log.error)
    return 1


class LateLog:
    """The pain log, opened when it can be: a data folder that is read-only (or full) from
    the start still lets a session be guided. Every call tries to open the log; until that
    works it raises CompanionError, which SafeLog answers by keeping the write in memory."""

    def __init__(self, data_dir: Path) -> None:
        from companion.storage.store import DB_NAME

        self.path = data_dir / DB_NAME
        self._log: "PainLog | None" = None
        try:
            self._open()
        except CompanionError as e:
            logger.warning("%s. Guiding the session anyway; ratings wait in memory.",
                           str(e).rstrip("."))

    def _open(self) -> "PainLog":
        from companion.storage.store import PainLog

        if self._log is None:
            self._log = PainLog(self.path)
        return self._log

    @property
    def opened(self) -> bool:
        return self._log is not None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._open(), name)

    def close(self) -> None:
        if self._log is not None:
            self._log.close()

    def __enter__(self) -> "LateLog":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
