"""`companion history`, `export`, `import` and `report`: the pain log back out (and in)."""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable, Optional

from companion.host import config
from companion.storage import report, trends
from companion.core.errors import CompanionError
from companion.storage.portability import (export_csv, export_json, iso, parse_export,
                                          write_private)
from companion.storage.store import DB_NAME, PainLog, usable_time
from companion.host.userfiles import MB, read_limited

IMPORT_LIMIT = 64 * MB  # years of daily sessions are well under 1 MB of JSON
REPORT_FILE = "pain-report.html"


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add `history`, `export`, `import` and `report`; all take --data-dir through `common`."""
    history = sub.add_parser(
        "history", parents=[common], help="pain per body area: first, latest, median, change",
        description="For each body area: the first and latest pain rating (0-10), the change, "
                    "the median of the first week of ratings and of the latest week (rolling), "
                    "how many ratings, and when. Advice shows while it applies.")
    how = history.add_mutually_exclusive_group()
    how.add_argument("--json", action="store_true", help="print a JSON list instead")
    how.add_argument("--spoken", action="store_true",
                     help='print what "how am I doing" says aloud')
    history.set_defaults(func=run_history)

    export = sub.add_parser(
        "export", parents=[common], help="write every session and rating as CSV or JSON",
        description="CSV: one row per rating. JSON: {\"sessions\": [...], \"ratings\": [...]}. "
                    "Times are ISO 8601 with the UTC offset. `companion import` reads the JSON.")
    export.add_argument("--format", choices=("csv", "json"), default="csv",
                        help="csv (default) or json")
    export.add_argument("--output", "-o", metavar="FILE",
                        help="write here (mode 0600) instead of standard output")
    export.set_defaults(func=run_export)

    restore = sub.add_parser(
        "import", parents=[common], help="add the sessions and ratings of a JSON export",
        description="Read a file written by `companion export --format json` into the log. "
                    "What the log already holds (same routine and start, same rating at the "
                    "same second) is skipped, so importing twice adds nothing.")
    restore.add_argument("file", metavar="FILE.json", help="the export; - for standard input")
    restore.set_defaults(func=run_import)

    page = sub.add_parser(
        "report", parents=[common], help="write an HTML page with charts of the pain log",
        description="One self-contained HTML file (no network needed): pain per body area "
                    f"over time, sessions per week and a table of sessions. Written to "
                    f"{REPORT_FILE} in the current folder unless --html says where; open it "
                    "in any browser.")
    page.add_argument("--html", "-o", metavar="FILE", default=REPORT_FILE,
                      help=f"write the page here (mode 0600; default: {REPORT_FILE} in the "
                           "current folder); - for standard output")
    page.set_defaults(func=run_report)


def open_log(args: argparse.Namespace, create: bool = False) -> PainLog:
    """The pain log of the folder every command agrees on (config.data_dir_choice). Only
    commands that add ratings create the folder: a mistyped --data-dir must not look like an
    empty log, nor leave one behind."""
    folder, chosen_by = config.data_dir_choice(args)
    try:
        there = folder.exists()
    except OSError as e:  # a parent folder this user cannot enter
        raise CompanionError(f"cannot look into the data folder {folder}: {e.strerror}. "
                             "Choose another with --data-dir DIR or $COMPANION_DATA_DIR.") from None
    if not create and not there:
        by = "" if chosen_by == config.DEFAULT_SOURCE else f" (from {chosen_by})"
        raise CompanionError(f"no pain log: the folder {folder}{by} does not exist. "
                             "`companion run` creates it with the first session; check the "
                             "path if you have sessions elsewhere.")
    return PainLog(folder / DB_NAME)


class _ReaderGone(Exception):
    """Standard output's reader went away (`| head` has all it wanted)."""


def writes_stdout(command: Callable[[argparse.Namespace], int]
                  ) -> Callable[[argparse.Namespace], int]:
    """A command whose output goes through emit(): a reader that went away ends it quietly."""
    @functools.wraps(command)
    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except _ReaderGone:
            return 0
    return run


def emit(text: str) -> None:
    """Print `text` and make sure it got out: a full disk behind `> file` is one clear line
    and exit status 1, a closed pipe a quiet end (see writes_stdout). Either way standard
    output then points at /dev/null, so the interpreter's own last flush has nothing left to
    fail on."""
    if sys.stdout is None:  # started with standard output closed
        return
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        _drop_stdout()
        raise _ReaderGone from None
    except OSError as e:
        _drop_stdout()
        raise CompanionError(f"cannot write to standard output: {e.strerror}",
                             exit_code=1) from None


def _drop_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def summarise(ratings: list[dict[str, Any]], sessions: Optional[list[dict[str, Any]]] = None,
              now: Optional[float] = None) -> list[dict[str, Any]]:
    """Per area: first, latest, change, medians, count, when, and whether to see someone."""
    advised = set(trends.advice_areas(ratings, sessions or [], now)) if now is not None else set()
    return [{"area": t.area, "first": t.first, "latest": t.latest, "change": t.change,
             "first_median": _num(t.first_median), "rolling_median": _num(t.rolling_median),
             "median_change": _num(t.median_change), "count": t.count,
             "first_at": iso(t.first_at), "latest_at": iso(t.latest_at),
             "days": round(t.span_days, 1), "see_professional": t.area in advised}
            for t in trends.area_trends(ratings)]


def _num(x: float) -> float | int:
    """5.0 -> 5, 5.5 stays: medians of whole ratings are whole or halves."""
    return int(x) if float(x).is_integer() else x


@writes_stdout
def run_history(args: argparse.Namespace) -> int:
    now = time.time()
    with open_log(args) as log:
        ratings, sessions = log.ratings(), log.sessions()
        where = log.path
    if args.spoken:
        emit(trends.spoken_summary(ratings, now) + "\n")
        return 0
    rows = summarise(ratings, sessions, now)
    untimed = sum(usable_time(r["at"]) is None for r in ratings)
    if args.json:
        emit(json.dumps(rows, indent=2, ensure_ascii=False) + "\n")
        return 0
    lines = []
    if not rows:
        lines.append(f"No pain ratings yet (log: {where}).\n"
                     "Say \"pain six\" during a session and they will show up here.")
    else:
        lines.append(format_table(rows))
        advised = [row["area"] for row in rows if row["see_professional"]]
        if advised:  # shown every time while it applies; spoken only once
            lines.append("\nAdvice: " + trends.advice_line(advised))
    if untimed:
        lines.append(f"\n{untimed} rating{'s' * (untimed != 1)} left out: the log holds no "
                     "usable time for them (edited by hand?); `companion export` shows them "
                     "as stored.")
    emit("\n".join(lines) + "\n")
    return 0


def format_table(rows: list[dict[str, Any]]) -> str:
    header = ("area", "first", "latest", "change", "median", "vs start", "ratings", "first on",
              "latest on")
    lines = [header] + [
        (row["area"] or "(none)", str(row["first"]), str(row["latest"]), _signed(row["change"]),
         str(row["rolling_median"]), _signed(row["median_change"]), str(row["count"]),
         row["first_at"][:10], row["latest_at"][:10])
        for row in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]

    def fmt(line: tuple[str, ...]) -> str:
        # Area left-aligned, numbers right-aligned so changes line up.
        cells = [line[0].ljust(widths[0])]
        cells += [cell.rjust(width) for cell, width in zip(line[1:7], widths[1:7])]
        cells += [cell.ljust(width) for cell, width in zip(line[7:], widths[7:])]
        return "  ".join(cells).rstrip()

    note = ("Pain 0 (none) to 10 (worst); change = latest - first, negative is better.\n"
            "median = median of the 7 days up to the latest rating; vs start = that median "
            "minus the median of the first 7 days.")
    return "\n".join([fmt(line) for line in lines] + ["", note])


def _signed(x: float) -> str:
    return f"{x:+g}" if x else "0"


@writes_stdout
def run_export(args: argparse.Namespace) -> int:
    with open_log(args) as log:
        sessions, ratings = log.sessions(), log.ratings()
    text = export_json(sessions, ratings) if args.format == "json" else export_csv(ratings)
    if args.output in (None, "-"):
        emit(text)
    else:
        write_private(Path(args.output), text)
        print(f"wrote {len(ratings)} ratings from {len(sessions)} sessions to {args.output}",
              file=sys.stderr)
    return 0


@writes_stdout
def run_import(args: argparse.Namespace) -> int:
    source = "standard input" if args.file == "-" else args.file
    try:
        data = read_stdin(IMPORT_LIMIT) if args.file == "-" else \
            read_limited(Path(args.file), IMPORT_LIMIT, "JSON export file")
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise CompanionError(f"{source} is not a text file; import needs the file written by "
                             "`companion export --format json`.") from None
    except CompanionError as e:
        raise CompanionError(f"cannot read {e}.") from None
    export = parse_export(text, source)  # all checked before anything is written
    with open_log(args, create=True) as log:
        done = log.import_rows(export)
        where = log.path
    emit(f"imported {done.sessions_added} sessions and {done.ratings_added} ratings into "
         f"{where}\n")
    if done.sessions_skipped or done.ratings_skipped:
        emit(f"skipped {done.sessions_skipped} sessions and {done.ratings_skipped} ratings "
             "already in the log\n")
    return 0


def read_stdin(limit: int) -> bytes:
    """Standard input, up to `limit` bytes: the same bound as a file."""
    try:
        data = sys.stdin.buffer.read(limit + 1)
    except OSError as e:
        raise CompanionError(f"standard input: {e.strerror}") from None
    if len(data) > limit:
        raise CompanionError(f"standard input: too large for a JSON export file "
                             f"({limit // MB} MB at most)")
    return data


@writes_stdout
def run_report(args: argparse.Namespace) -> int:
    with open_log(args) as log:
        sessions, ratings = log.sessions(), log.ratings()
    page = report.render(sessions, ratings, time.time())
    if args.html == "-":
        emit(page)
        return 0
    target = Path(args.html)
    write_private(target, page, "the report",
                  "Choose another file with --html, or - to print the page.")
    print(f"wrote the report of {len(sessions)} sessions and {len(ratings)} ratings to "
          f"{target.absolute()}; open it in a browser", file=sys.stderr)
    return 0
