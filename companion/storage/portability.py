"""Taking the pain log out (CSV, JSON) and putting a JSON export back in.

Exports carry times to the second (ISO 8601 with offset), so an import recognises what the log
already holds by the second (PainLog.import_rows). The format itself is export_format.Export.
"""

from __future__ import annotations

import csv
import io
import json
import os
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from companion.core.errors import CompanionError

if TYPE_CHECKING:
    from pydantic_core import ErrorDetails

    from companion.storage.export_format import Export

CSV_FIELDS = ("session_id", "time", "routine", "step", "area", "value")
_MAX_PROBLEMS = 5
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
    """The log as export_format.Export reads it back. Written from the rows, not through the
    models: a log can hold what an import refuses (a hand edit), and every row must get out."""
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


def parse_export(text: str, source: str, now: Optional[float] = None) -> Export:
    """Check an export and return it with times as Unix seconds. Raises CompanionError
    listing what is wrong, by field, e.g. ratings[3].value. Times must be from 2000 to a day
    after `now` (default: the clock)."""
    # Imported here: building the models costs every command's start-up (the CLI loads
    # this module to register export and import), and only import needs them.
    from pydantic import ValidationError

    from companion.storage.export_format import LATEST, SLACK_S, Export, kind

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
    # The outer shape is one message for the whole file, not a problem per field.
    if not isinstance(doc, dict) or not isinstance(doc.get("sessions"), list) \
            or not isinstance(doc.get("ratings"), list):
        found = "an object without them" if isinstance(doc, dict) else f"a {kind(doc)}"
        raise CompanionError(f"{source}: expected {_WANTED}; found {found}.")
    latest = (time.time() if now is None else now) + SLACK_S
    try:
        return Export.model_validate(doc, context={LATEST: latest})
    except ValidationError as e:
        problems = [_said(err) for err in e.errors(include_url=False)]
    more = len(problems) - _MAX_PROBLEMS
    lines = problems[:_MAX_PROBLEMS] + ([f"... and {more} more"] if more > 0 else [])
    raise CompanionError(f"{source} is not a usable export; nothing was imported:\n  "
                         + "\n  ".join(lines))


def _said(err: ErrorDetails) -> str:
    """One pydantic error as "where: what", where as the file spells it: ratings[3].value."""
    from companion.storage.export_format import kind

    where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in err["loc"])
    if err["type"] == "missing":
        what = "missing"
    elif err["type"] in ("model_type", "model_attributes_type", "dict_type"):
        what = f"must be an object, not a {kind(err['input'])}"
    else:
        what = err["msg"]
    return f"{where.lstrip('.')}: {what}"


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number JSON allows")
