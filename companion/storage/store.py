"""The pain log: one SQLite file of sessions, step events and pain ratings.

It is personal health data, so the folder is 0700 and the file 0600 before SQLite writes a
byte. Ratings are committed with synchronous=FULL before log_rating returns, because the
caller confirms them aloud right after; step events are batched (they are only context).
"""

from __future__ import annotations

import operator
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Iterator, Optional

from companion.host import paths
from companion.core.errors import CompanionError
from companion.storage.logfile import make_private_dir, make_private_file, problem, uri_path
from companion.storage.merge import ImportResult, merge_export
from companion.storage.rows import rows as _rows

if TYPE_CHECKING:
    from companion.storage.export_format import Export

DB_NAME = "companion.sqlite3"
SCHEMA_VERSION = 2

# Step events wait in memory until a rating, the end of the session, or one of these limits.
_BATCH_EVENTS = 20
_BATCH_SECONDS = 30.0

# Entry N upgrades a log to schema version N (entry 0 is unused). Append, never edit.
_MIGRATIONS: list[str] = ["", """
CREATE TABLE sessions (id INTEGER PRIMARY KEY, routine TEXT NOT NULL, started_at REAL NOT NULL,
    ended_at REAL, end_reason TEXT, steps_started INTEGER NOT NULL DEFAULT 0,
    steps_skipped INTEGER NOT NULL DEFAULT 0, ratings_count INTEGER NOT NULL DEFAULT 0);
CREATE TABLE step_events (id INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions(id), at REAL NOT NULL, kind TEXT NOT NULL,
    step_index INTEGER, step TEXT, area TEXT, detail TEXT);
CREATE INDEX step_events_by_session ON step_events(session_id, at);
CREATE TABLE ratings (id INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions(id), at REAL NOT NULL,
    value INTEGER NOT NULL CHECK (typeof(value) = 'integer' AND value BETWEEN 0 AND 10),
    step_index INTEGER, step TEXT, area TEXT, routine TEXT NOT NULL);
CREATE INDEX ratings_by_area ON ratings(area, at);
CREATE INDEX ratings_by_session ON ratings(session_id)
""", """
CREATE TABLE notices (key TEXT PRIMARY KEY, at REAL NOT NULL)
"""]
assert len(_MIGRATIONS) == SCHEMA_VERSION + 1

# Counts are stored when a session ends; open sessions get them live.
_OF_SESSION = "WHERE session_id = sessions.id"
_COUNTS = {
    "steps_started": f"SELECT COUNT(DISTINCT step_index) FROM step_events {_OF_SESSION} "
                     "AND kind = 'started'",
    "steps_skipped": f"SELECT COUNT(*) FROM step_events {_OF_SESSION} AND kind = 'skipped'",
    "ratings_count": f"SELECT COUNT(*) FROM ratings {_OF_SESSION}",
}
_LAST_SEEN = (f"SELECT MAX(t) FROM (SELECT MAX(at) AS t FROM step_events {_OF_SESSION} "
              f"UNION ALL SELECT MAX(at) FROM ratings {_OF_SESSION})")

# Times the commands chart, count and compare: Unix seconds from 1970 to 2100. A log can hold
# anything in a time column (a hand edit, text, an import from before imports were checked);
# such rows are shown raw and left out of trends and charts instead of crashing them.
SHOWN_FROM, SHOWN_UNTIL = 0.0, 4_102_444_800.0  # 1970-01-01, 2100-01-01 UTC
# Columns that hold text. SQLite keeps whatever was written: these read back as str or None.
_INSERT_EVENT = ("INSERT INTO step_events (session_id, at, kind, step_index, step, area, "
                 "detail) VALUES (?, ?, ?, ?, ?, ?, ?)")


def usable_time(value: Any) -> Optional[float]:
    """`value` as Unix seconds if it is a number between 1970 and 2100, else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if SHOWN_FROM <= value < SHOWN_UNTIL else None


class PainLog:
    """One open pain log. Use as a context manager, or call close()."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._pending: list[tuple[Any, ...]] = []
        self._routines: dict[int, str] = {}
        self._conn: Optional[sqlite3.Connection] = None
        try:
            with self._guard("open"):
                make_private_dir(self.path.parent)
                make_private_file(self.path)
                # mode=rw: SQLite must never create the file itself (it would use the umask).
                uri = "file:" + uri_path(self.path) + "?mode=rw"
                self._conn = sqlite3.connect(uri, uri=True, timeout=5.0, isolation_level=None)
                self._conn.row_factory = sqlite3.Row
                # Bytes that are not UTF-8 (a hand edit) read as U+FFFD, not as an error.
                self._conn.text_factory = lambda b: b.decode("utf-8", "replace")
                self._conn.execute("PRAGMA foreign_keys = ON")
                self._conn.execute("PRAGMA synchronous = FULL")
                # The rollback journal takes its mode from the db file (tested); WAL adds files.
                self._conn.execute("PRAGMA journal_mode = DELETE").fetchone()
                self._migrate()
        except BaseException:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            raise

    @classmethod
    def open(cls, data_dir: str | Path | None = None) -> "PainLog":
        """The log in --data-dir, else $COMPANION_DATA_DIR, else the XDG data folder."""
        return cls(paths.data_dir(data_dir) / DB_NAME)

    def start_session(self, routine: str, at: float) -> int:
        with self._guard("write to"), self._transaction() as db:
            cur = db.execute("INSERT INTO sessions (routine, started_at) VALUES (?, ?)",
                             (routine, float(at)))
        session_id = int(cur.lastrowid or 0)
        self._routines[session_id] = routine
        return session_id

    def log_event(self, session_id: int, at: float, kind: str, step_index: Optional[int] = None,
                  step: Optional[str] = None, area: Optional[str] = None,
                  detail: Optional[str] = None) -> None:
        """Queue a step event ("started", "ended", "skipped", "safety", "paused", ...)."""
        self._routine_of(session_id)  # fail now, not at a later flush
        self._pending.append((session_id, float(at), kind, step_index, step, area, detail))
        if len(self._pending) >= _BATCH_EVENTS or float(at) - self._pending[0][1] >= _BATCH_SECONDS:
            try:
                self.flush()
            except CompanionError:
                # A call that fails has not happened: take this event back out, so a caller
                # that retries the call (SafeLog) does not queue it twice. Earlier events
                # stay queued for the next write that succeeds.
                self._pending.pop()
                raise

    def log_rating(self, session_id: int, at: float, value: int, step_index: Optional[int],
                   step: Optional[str], area: Optional[str], corrects: bool = False) -> int:
        """Store a 0-10 rating; it is on disk when this returns. Returns the rating id.
        corrects: it replaces the session's last rating (misheard, said again), which keeps
        its id; a "corrected" step event records the value it had."""
        try:
            number = operator.index(value)  # ints (numpy's too), not floats or strings
        except TypeError:
            number = -1
        if isinstance(value, bool) or not 0 <= number <= 10:
            raise ValueError(f"a pain rating is a whole number from 0 to 10, not {value!r}")
        routine = self._routine_of(session_id)
        with self._guard("save the rating in"), self._transaction() as db:
            last = db.execute("SELECT id, value FROM ratings WHERE session_id = ? "
                              "ORDER BY id DESC LIMIT 1", (session_id,)).fetchone() \
                if corrects else None
            if last is not None:
                db.execute("UPDATE ratings SET value = ?, at = ?, step_index = ?, step = ?, "
                           "area = ? WHERE id = ?",
                           (number, float(at), step_index, step, area, last[0]))
                db.execute(_INSERT_EVENT, (session_id, float(at), "corrected", step_index, step,
                                           area, f"pain {last[1]} -> {number}"))
                return int(last[0])
            cur = db.execute(
                "INSERT INTO ratings (session_id, at, value, step_index, step, area, routine) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (session_id, float(at), number, step_index, step, area, routine))
        return int(cur.lastrowid or 0)

    def end_session(self, session_id: int, at: float, reason: str) -> None:
        self._routine_of(session_id)
        with self._guard("write to"), self._transaction() as db:
            db.execute(f"UPDATE sessions SET ended_at = ?, end_reason = ?, {_count_sets()} "
                       "WHERE id = ?", (float(at), reason, session_id))

    def reopen_session(self, session_id: int) -> None:
        """An ended session goes on (its "stop" was taken back): open until ended again."""
        self._routine_of(session_id)
        with self._guard("write to"), self._transaction() as db:
            db.execute("UPDATE sessions SET ended_at = NULL, end_reason = NULL WHERE id = ?",
                       (session_id,))

    def close_interrupted(self, at: float) -> int:
        """Mark sessions that never ended (a crash, a pulled plug) as "interrupted", ending at
        their last event or rating, or at `at` if they have none. Returns how many."""
        with self._guard("write to"), self._transaction() as db:
            cur = db.execute(
                f"UPDATE sessions SET ended_at = COALESCE(({_LAST_SEEN}), ?), "
                f"end_reason = 'interrupted', {_count_sets()} WHERE ended_at IS NULL", (float(at),))
        return cur.rowcount

    def flush(self) -> None:
        """Write queued step events now."""
        if self._pending:
            with self._guard("write to"), self._transaction():
                pass  # _transaction writes the queue

    def sessions(self) -> list[dict[str, Any]]:
        """Every session, oldest first: id, routine, started_at, ended_at, end_reason, counts."""
        self.flush()
        counts = ", ".join(f"CASE WHEN ended_at IS NULL THEN ({sql}) ELSE {name} END AS {name}"
                           for name, sql in _COUNTS.items())
        return self._select(f"SELECT id, routine, started_at, ended_at, end_reason, "
                            f"{counts} FROM sessions ORDER BY started_at, id")

    def ratings(self) -> list[dict[str, Any]]:
        """Every rating, oldest first: id, session_id, at, value, step_index, step, area,
        routine."""
        return self._select("SELECT id, session_id, at, value, step_index, step, area, routine "
                            "FROM ratings ORDER BY at, id")

    def events(self, session_id: Optional[int] = None) -> list[dict[str, Any]]:
        """Step events, oldest first, optionally of one session."""
        self.flush()
        one = session_id is not None
        return self._select("SELECT session_id, at, kind, step_index, step, area, detail FROM "
                            f"step_events {'WHERE session_id = ?' if one else ''} ORDER BY at, id",
                            (session_id,) if one else ())

    def latest_at(self) -> Optional[float]:
        """The time of the newest thing logged (a session begun or ended, a step, a rating),
        or None for an empty log: how late the clock has been seen to be."""
        self.flush()
        rows = self._select("SELECT MAX(t) AS t FROM (SELECT MAX(started_at) AS t FROM sessions "
                            "UNION ALL SELECT MAX(ended_at) FROM sessions UNION ALL "
                            "SELECT MAX(at) FROM step_events UNION ALL SELECT MAX(at) FROM ratings)")
        t = rows[0]["t"] if rows else None
        return float(t) if isinstance(t, (int, float)) else None

    def notices(self) -> dict[str, float]:
        """Things to say only once (advice), by key, with when they were said."""
        return {row["key"]: row["at"] for row in self._select("SELECT key, at FROM notices")}

    def add_notice(self, key: str, at: float) -> bool:
        """Remember that `key` was said; False if it already had been."""
        with self._guard("write to"), self._transaction() as db:
            cur = db.execute("INSERT OR IGNORE INTO notices (key, at) VALUES (?, ?)",
                             (key, float(at)))
        return cur.rowcount == 1

    def import_rows(self, export: "Export") -> ImportResult:
        """Add what the log does not hold yet of a checked export, all in one transaction
        (merge.merge_export: importing the same file twice adds nothing)."""
        with self._guard("write to"), self._transaction() as db:
            # Read inside the write lock: another import cannot slip in between.
            return merge_export(db, export)

    def close(self) -> None:
        if self._conn is None:
            return
        try:
            self.flush()
        finally:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> "PainLog":
        return self

    def __exit__(self, exc_type: Optional[type], exc: Optional[BaseException],
                 tb: Optional[TracebackType]) -> None:
        try:
            self.close()
        except CompanionError:
            if exc_type is None:
                raise  # otherwise the original error matters more than lost step events

    @property
    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise CompanionError(f"the pain log {self.path} is already closed")
        return self._conn

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One durable write: queued step events go first, so everything commits together."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            if self._pending:
                db.executemany(_INSERT_EVENT, self._pending)
            yield db
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        self._pending.clear()  # only once they are really on disk

    def _migrate(self) -> None:
        db = self._db
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version == SCHEMA_VERSION:
            return  # nothing to write: a read-only log can still be read
        if version > SCHEMA_VERSION:
            raise CompanionError(f"{self.path} was written by a newer companion (schema {version}, "
                                 f"this one knows {SCHEMA_VERSION}); upgrade the companion.")
        with self._transaction():
            # Re-read inside the lock: another process may have just done this.
            version = db.execute("PRAGMA user_version").fetchone()[0]
            for target in range(version + 1, SCHEMA_VERSION + 1):
                for statement in _MIGRATIONS[target].split(";"):
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {target}")

    def _routine_of(self, session_id: int) -> str:
        if session_id not in self._routines:
            with self._guard("read"):
                row = self._db.execute("SELECT routine FROM sessions WHERE id = ?",
                                       (session_id,)).fetchone()
            if row is None:
                raise ValueError(f"no session {session_id} in {self.path}")
            self._routines[session_id] = row[0]
        return self._routines[session_id]

    def _select(self, sql: str, args: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        with self._guard("read"):
            return _rows(self._db, sql, args)

    @contextmanager
    def _guard(self, doing: str) -> Iterator[None]:
        """Turn SQLite and OS failures into a CompanionError that says what to do."""
        try:
            yield
        except (sqlite3.Error, OSError) as e:
            raise problem(e, doing, self.path) from e

def _count_sets() -> str:
    return ", ".join(f"{name} = ({sql})" for name, sql in _COUNTS.items())
