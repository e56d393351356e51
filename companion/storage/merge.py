"""An export merged into the pain log (`companion log import`): what the log holds already is
recognised, to the second (exports carry whole seconds), and left alone; the rest is added.
Runs inside the caller's write transaction (PainLog.import_rows)."""

from __future__ import annotations

import math
import sqlite3
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from companion.storage.rows import rows

if TYPE_CHECKING:
    from companion.storage.export_format import Export, ExportedRating


@dataclass
class ImportResult:
    """What PainLog.import_rows added, and what it found already in the log."""

    sessions_added: int = 0
    sessions_skipped: int = 0
    ratings_added: int = 0
    ratings_skipped: int = 0


def merge_export(db: sqlite3.Connection, export: "Export") -> ImportResult:
    """Add what the log does not hold yet of a checked export. Held means equal to the
    second: a session by routine and start, a rating by its session, time, value, step and
    area. So importing the same file twice adds nothing, and a newer export adds only what
    is new."""
    result = ImportResult()
    pool: dict[tuple[Any, ...], list[int]] = defaultdict(list)
    for s_row in rows(db, "SELECT id, routine, started_at FROM sessions ORDER BY started_at, id"):
        pool[(s_row["routine"], _second(s_row["started_at"]))].append(s_row["id"])
    held: Counter[tuple[Any, ...]] = Counter(
        (r_row["session_id"], _second(r_row["at"]), r_row["value"],
         r_row["step_index"], r_row["step"], r_row["area"])
        for r_row in rows(db, "SELECT session_id, at, value, step_index, step, area "
                              "FROM ratings"))
    target: dict[int, int] = {}  # the file's session id -> the log's
    for s in export.sessions:
        same = pool.get((s.routine, _second(s.started_at)))
        if same:
            target[s.id] = same.pop(0)
            result.sessions_skipped += 1
            continue
        cur = db.execute(
            "INSERT INTO sessions (routine, started_at, ended_at, end_reason, "
            "steps_started, steps_skipped, ratings_count) VALUES (?, ?, ?, ?, ?, ?, 0)",
            (s.routine, s.started_at, s.ended_at, s.end_reason, s.steps_started,
             s.steps_skipped))
        target[s.id] = int(cur.lastrowid or 0)
        result.sessions_added += 1
    routines = {s.id: s.routine for s in export.sessions}
    for r in export.ratings:
        key = (target[r.session_id], *_rating_key(r))
        if held[key] > 0:  # a count, so two equal ratings in one second both survive
            held[key] -= 1
            result.ratings_skipped += 1
            continue
        db.execute("INSERT INTO ratings (session_id, at, value, step_index, step, area, "
                   "routine) VALUES (?, ?, ?, ?, ?, ?, ?)",
                   (key[0], r.at, r.value, r.step_index, r.step, r.area,
                    r.routine or routines[r.session_id]))
        result.ratings_added += 1
    # Ended sessions keep their counts in the row; recount what ratings they now have.
    db.executemany("UPDATE sessions SET ratings_count = (SELECT COUNT(*) FROM ratings "
                   "WHERE session_id = sessions.id) WHERE id = ? AND ended_at IS NOT NULL",
                   [(i,) for i in sorted(set(target.values()))])
    return result


def _second(at: Any) -> Any:
    """A stored time to the whole second, as an export has it; a value that is no number
    (a hand edit) as it is, so it matches nothing and breaks nothing."""
    try:
        return math.floor(at)
    except (TypeError, ValueError, OverflowError):
        return at


def _rating_key(r: "ExportedRating") -> tuple[Any, ...]:
    """An imported rating's match for the stored ones, after its session id."""
    return (_second(r.at), r.value, r.step_index, r.step, r.area)
