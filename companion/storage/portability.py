"""Taking the pain log out (CSV, JSON) and putting a JSON export back in.

Exports carry times to the second (ISO 8601 with offset), so an import recognises what the log
already holds by the second: a session by its routine and start, a rating by its session,
time, value, step and area. Importing the same file twice adds nothing.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Optional

from companion.core.errors import CompanionError
from companion.storage.store import PainLog

CSV_FIELDS = ("session_id", "time", "routine", "step", "area", "value")
_MAX_PROBLEMS = 5
# Imported times must fall in this span: nobody rated pain with this companion before 2000,
# and a time far ahead is a typo or a wrong clock (a day of slack for time zones and clocks).
EARLIEST = datetime(2000, 1, 1, tzinfo=timezone.utc)
_SLACK_S = 86_400.0
_INT_MAX = 2 ** 63 - 1  # what SQLite can store in an INTEGER
# A spreadsheet runs a cell that starts with one of these (CSV injection; OWASP).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_WANTED = ('a JSON object with "sessions" and "ratings" lists, as written by '
           "`companion export --format json`")


def iso(at: Any) -> Optional[str]:
    """Unix seconds as local ISO 8601 with its offset: readable and still unambiguous. A value
    that is no time a datetime can hold (text, a blob, 1e300: the log keeps what was written)
    comes back as it is stored, so an export still gets every row out."""
    if at is None:
        return None
    try:
        return datetime.fromtimestamp(at, timezone.utc).astimezone().isoformat(timespec="seconds")
    except (TypeError, ValueError, OverflowError, OSError):
        return raw(at)


def raw(value: Any) -> str:
    """A stored value as text: bytes as an SQL blob literal, anything else as str()."""
    return f"x'{value.hex()}'" if isinstance(value, bytes) else str(value)


def export_json(sessions: list[dict[str, Any]], ratings: list[dict[str, Any]]) -> str:
    out = {
        "sessions": [{"id": s["id"], "routine": s["routine"], "started_at": iso(s["started_at"]),
                      "ended_at": iso(s["ended_at"]), "end_reason": s["end_reason"],
                      "steps_started": s["steps_started"], "steps_skipped": s["steps_skipped"],
                      "ratings_count": s["ratings_count"]} for s in sessions],
        "ratings": [{"id": r["id"], "session_id": r["session_id"], "time": iso(r["at"]),
                     "routine": r["routine"], "step_index": r["step_index"], "step": r["step"],
                     "area": r["area"], "value": r["value"]} for r in ratings],
    }
    return json.dumps(out, indent=2, ensure_ascii=False) + "\n"


def export_csv(ratings: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(CSV_FIELDS)
    # Text cells in double quotes (OWASP's advice, and a CR in a step name would otherwise
    # end the row: "\n" lines quote only cells holding "\n"); numbers stay bare.
    writer = csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_NONNUMERIC)
    for r in ratings:
        writer.writerow([_cell(v) for v in (r["session_id"], iso(r["at"]), r["routine"],
                                            r["step"], r["area"], r["value"])])
    return buffer.getvalue()


def _cell(value: Any) -> Any:
    """A text cell that a spreadsheet would run as a formula gets a leading ' (OWASP). Only
    text cells: the numeric columns (session id, value) are never negative, so no number needs
    it, and times are ISO text starting with a digit unless the log holds a raw value."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def write_private(path: Path, text: str, what: str = "the export",
                  fix: str = "Choose another file with --output, or leave it out to print to "
                             "the screen.") -> None:
    """Write 0600: exports and reports are the same health data as the log."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)  # O_CREAT's mode does nothing for a file that already exists
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            out.write(text)
    except OSError as e:
        raise CompanionError(f"cannot write {what} to {path}: {e.strerror}. {fix}") from e


@dataclass
class ImportResult:
    sessions_added: int = 0
    sessions_skipped: int = 0
    ratings_added: int = 0
    ratings_skipped: int = 0


def parse_export(text: str, source: str, now: Optional[float] = None
                 ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Check an export and return its sessions and ratings with times as Unix seconds.
    Raises CompanionError listing what is wrong, by field, e.g. ratings[3].value. Times must
    be from 2000 to a day after `now` (default: the clock)."""
    if text.lstrip().startswith("session_id,"):
        raise CompanionError(f"{source} is a CSV export; import needs the JSON one "
                             "(companion export --format json -o FILE.json).")
    try:
        doc = json.loads(text, parse_constant=_no_constant)
    except ValueError as e:  # JSONDecodeError, bad UTF-8 escapes, NaN
        where = (f"line {e.lineno}, column {e.colno}: {e.msg}"
                 if isinstance(e, json.JSONDecodeError) else str(e))
        raise CompanionError(f"{source} is not JSON ({where}). Import needs {_WANTED}.") from None
    except RecursionError:
        raise CompanionError(f"{source} is not a usable export: its JSON is nested too deeply. "
                             f"Import needs {_WANTED}.") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("sessions"), list) \
            or not isinstance(doc.get("ratings"), list):
        found = "an object without them" if isinstance(doc, dict) else f"a {_kind(doc)}"
        raise CompanionError(f"{source}: expected {_WANTED}; found {found}.")
    problems: list[str] = []
    latest = (time.time() if now is None else now) + _SLACK_S
    session_fields = {**_SESSION, "started_at": (_time_until(latest), True),
                      "ended_at": (_maybe(_time_until(latest)), False)}
    sessions = [_checked(s, f"sessions[{i}]", session_fields, problems)
                for i, s in enumerate(doc["sessions"])]
    ratings = [_checked(r, f"ratings[{i}]", {**_RATING, "time": (_time_until(latest), True)},
                        problems)
               for i, r in enumerate(doc["ratings"])]
    ids = Counter(s["id"] for s in sessions if "id" in s)
    for i, s in enumerate(sessions):
        if ids[s.get("id")] > 1:
            problems.append(f"sessions[{i}].id: {s.get('id')} is used by more than one session")
        elif (s.get("ended_at") or math.inf) < s.get("started_at", -math.inf):
            problems.append(f"sessions[{i}].ended_at: before started_at")
    for i, r in enumerate(ratings):
        if "session_id" in r and r["session_id"] not in ids:
            problems.append(f"ratings[{i}].session_id: no session {r['session_id']} in the file")
    if problems:
        more = len(problems) - _MAX_PROBLEMS
        lines = problems[:_MAX_PROBLEMS] + ([f"... and {more} more"] if more > 0 else [])
        raise CompanionError(f"{source} is not a usable export; nothing was imported:\n  "
                             + "\n  ".join(lines))
    return sessions, ratings


def import_export(log: PainLog, sessions: list[dict[str, Any]],
                  ratings: list[dict[str, Any]]) -> ImportResult:
    """Add what the log does not hold yet, all in one transaction."""
    result = ImportResult()
    pool: dict[tuple[Any, ...], list[int]] = defaultdict(list)
    for s in log.sessions():
        pool[(s["routine"], math.floor(s["started_at"]))].append(s["id"])
    held: Counter[tuple[Any, ...]] = Counter(
        (r["session_id"], *_rating_key(r)) for r in log.ratings())
    target: dict[int, int] = {}  # the file's session id -> the log's
    with log.writing() as db:
        for s in sessions:
            same = pool.get((s["routine"], math.floor(s["started_at"])))
            if same:
                target[s["id"]] = same.pop(0)
                result.sessions_skipped += 1
                continue
            cur = db.execute(
                "INSERT INTO sessions (routine, started_at, ended_at, end_reason, steps_started, "
                "steps_skipped, ratings_count) VALUES (?, ?, ?, ?, ?, ?, 0)",
                (s["routine"], s["started_at"], s.get("ended_at"), s.get("end_reason"),
                 s.get("steps_started", 0), s.get("steps_skipped", 0)))
            target[s["id"]] = int(cur.lastrowid or 0)
            result.sessions_added += 1
        routines = {s["id"]: s["routine"] for s in sessions}
        for r in ratings:
            key = (target[r["session_id"]], *_rating_key(r))
            if held[key] > 0:  # a count, so two equal ratings in one second both survive
                held[key] -= 1
                result.ratings_skipped += 1
                continue
            db.execute("INSERT INTO ratings (session_id, at, value, step_index, step, area, "
                       "routine) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (key[0], r["at"], r["value"], r.get("step_index"), r.get("step"),
                        r.get("area"), r.get("routine") or routines[r["session_id"]]))
            result.ratings_added += 1
        # Ended sessions keep their counts in the row; recount what ratings they now have.
        db.executemany("UPDATE sessions SET ratings_count = (SELECT COUNT(*) FROM ratings "
                       "WHERE session_id = sessions.id) WHERE id = ? AND ended_at IS NOT NULL",
                       [(i,) for i in sorted(set(target.values()))])
    return result


def _rating_key(r: dict[str, Any]) -> tuple[Any, ...]:
    return (math.floor(r["at"]), r["value"], r.get("step_index"), r.get("step"), r.get("area"))


# Field checks: each returns the value to keep, or raises ValueError saying what is wrong.
def _int(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise ValueError(f"must be a whole number, not {_show(v)}")
    if not -_INT_MAX <= v <= _INT_MAX:
        raise ValueError(f"is too large to store (at most {_INT_MAX}), not {_show(v)}")
    return v


def _count(v: Any) -> int:
    if _int(v) < 0:
        raise ValueError(f"must not be negative, not {v}")
    return int(v)


def _value(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 10:
        raise ValueError(f"must be a pain rating, a whole number from 0 to 10, not {_show(v)}")
    return v


def _text(v: Any) -> str:
    if not isinstance(v, str) or not v.strip():
        raise ValueError(f"must be a non-empty string, not {_show(v)}")
    try:
        v.encode("utf-8")
    except UnicodeEncodeError as e:  # JSON can spell half a UTF-16 pair: "\ud800"
        raise ValueError(f"is not valid text: it holds {_show(v[e.start])}, half of a UTF-16 "
                         "surrogate pair") from None
    return v


def _time(v: Any) -> float:
    try:
        moment = datetime.fromisoformat(v) if isinstance(v, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise ValueError("must be a time with its UTC offset like 2023-11-14T22:13:20+00:00, "
                         f"not {_show(v)}")
    try:
        return moment.timestamp()
    except (OverflowError, ValueError):  # 0001-01-01T00:00:00+14:00 is in year 0 in UTC
        return -math.inf


def _time_until(latest: float) -> Callable[[Any], float]:
    """A time check that also wants a plausible time: from 2000 to `latest`."""
    def check(v: Any) -> float:
        at = _time(v)
        if not EARLIEST.timestamp() <= at <= latest:
            until = datetime.fromtimestamp(latest, timezone.utc).isoformat(timespec="seconds")
            raise ValueError(f"must be a time from {EARLIEST:%Y-%m-%d} to a day from now "
                             f"({until}), not {_show(v)}")
        return at
    return check


def _show(v: Any) -> str:
    """A value from the file for a message: JSON, ASCII only, at most about 60 characters."""
    try:
        shown = json.dumps(v)
    except (RecursionError, ValueError):
        shown = f"a {_kind(v)}"
    return shown if len(shown) <= 60 else shown[:57] + "..."


def _maybe(check: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda v: None if v is None else check(v)


# field: (check, required). The file's "time" is stored as "at".
_SESSION = {"id": (_int, True), "routine": (_text, True), "started_at": (_time, True),
            "ended_at": (_maybe(_time), False), "end_reason": (_maybe(_text), False),
            "steps_started": (_count, False), "steps_skipped": (_count, False)}
_RATING = {"session_id": (_int, True), "time": (_time, True), "value": (_value, True),
           "routine": (_maybe(_text), False), "step_index": (_maybe(_int), False),
           "step": (_maybe(_text), False), "area": (_maybe(_text), False)}


def _checked(item: Any, where: str, fields: dict[str, tuple[Callable[[Any], Any], bool]],
             problems: list[str]) -> dict[str, Any]:
    if not isinstance(item, dict):
        problems.append(f"{where}: must be an object, not a {_kind(item)}")
        return {}
    out: dict[str, Any] = {}
    for name, (check, required) in fields.items():
        if name not in item:
            if required:
                problems.append(f"{where}.{name}: missing")
            continue
        try:
            out["at" if name == "time" else name] = check(item[name])
        except ValueError as e:
            problems.append(f"{where}.{name}: {e}")
    return out


def _kind(v: Any) -> str:
    return {dict: "object", list: "list", str: "string", bool: "true/false", int: "number",
            float: "number", type(None): "null"}.get(type(v), type(v).__name__)


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number JSON allows")
