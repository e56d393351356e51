"""`companion history` and `companion export`: reading the pain log back out."""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional

from companion.errors import CompanionError
from companion.store import PainLog

CSV_FIELDS = ("session_id", "time", "routine", "step", "area", "value")


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add `history` and `export`; both take --data-dir through `common`."""
    history = sub.add_parser(
        "history", parents=[common], help="pain per body area: first, latest and the change",
        description="For each body area: the first and latest pain rating (0-10), the change "
                    "between them, how many ratings, and when.")
    history.add_argument("--json", action="store_true", help="print a JSON list instead")
    history.set_defaults(func=run_history)

    export = sub.add_parser(
        "export", parents=[common], help="write every session and rating as CSV or JSON",
        description="CSV: one row per rating. JSON: {\"sessions\": [...], \"ratings\": [...]}. "
                    "Times are ISO 8601 with the UTC offset.")
    export.add_argument("--format", choices=("csv", "json"), default="csv",
                        help="csv (default) or json")
    export.add_argument("--output", "-o", metavar="FILE",
                        help="write here (mode 0600) instead of standard output")
    export.set_defaults(func=run_export)


def iso(at: Optional[float]) -> Optional[str]:
    """Unix seconds as local ISO 8601 with its offset: readable and still unambiguous."""
    if at is None:
        return None
    return datetime.fromtimestamp(at, timezone.utc).astimezone().isoformat(timespec="seconds")


def summarise(ratings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per area (ratings are oldest first): first, latest, change, count and when."""
    by_area: dict[Optional[str], list[dict[str, Any]]] = {}
    for rating in ratings:
        by_area.setdefault(rating["area"], []).append(rating)
    rows = []
    for area in sorted(by_area, key=lambda a: (a is None, a or "")):
        first, latest = by_area[area][0], by_area[area][-1]
        rows.append({"area": area, "first": first["value"], "latest": latest["value"],
                     "change": latest["value"] - first["value"], "count": len(by_area[area]),
                     "first_at": iso(first["at"]), "latest_at": iso(latest["at"])})
    return rows


def run_history(args: argparse.Namespace) -> int:
    with PainLog.open(args.data_dir) as log:
        ratings = log.ratings()
        where = log.path
    rows = summarise(ratings)
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
    elif not rows:
        print(f"No pain ratings yet (log: {where}).\n"
              "Say \"pain six\" during a session and they will show up here.")
    else:
        print(format_table(rows))
    return 0


def format_table(rows: list[dict[str, Any]]) -> str:
    header = ("area", "first", "latest", "change", "ratings", "first on", "latest on")
    lines = [header] + [
        (row["area"] or "(none)", str(row["first"]), str(row["latest"]),
         f"{row['change']:+d}" if row["change"] else "0", str(row["count"]),
         row["first_at"][:10], row["latest_at"][:10])
        for row in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]

    def fmt(line: tuple[str, ...]) -> str:
        # Area left-aligned, numbers right-aligned so changes line up.
        cells = [line[0].ljust(widths[0])]
        cells += [cell.rjust(width) for cell, width in zip(line[1:5], widths[1:5])]
        cells += [cell.ljust(width) for cell, width in zip(line[5:], widths[5:])]
        return "  ".join(cells).rstrip()

    note = "Pain 0 (none) to 10 (worst); change = latest - first, negative is better."
    return "\n".join([fmt(line) for line in lines] + ["", note])


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
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    for r in ratings:
        writer.writerow([r["session_id"], iso(r["at"]), r["routine"], r["step"], r["area"],
                         r["value"]])
    return buffer.getvalue()


def run_export(args: argparse.Namespace) -> int:
    with PainLog.open(args.data_dir) as log:
        sessions, ratings = log.sessions(), log.ratings()
    text = export_json(sessions, ratings) if args.format == "json" else export_csv(ratings)
    if args.output in (None, "-"):
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        write_private(Path(args.output), text)
        print(f"wrote {len(ratings)} ratings from {len(sessions)} sessions to {args.output}",
              file=sys.stderr)
    return 0


def write_private(path: Path, text: str) -> None:
    """Write an export 0600: it is the same health data as the log."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)  # O_CREAT's mode does nothing for a file that already exists
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            out.write(text)
    except OSError as e:
        raise CompanionError(f"cannot write the export to {path}: {e.strerror}. Choose another "
                             "file with --output, or leave it out to print to the screen.") from e
