"""`companion routines`: list the routines, show one as the timed plan a session will
follow, and check routine files before they are used."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Optional

from companion.core import cues
from companion.core.errors import CompanionError
from companion.storage.library import (Library, RoutineError, load_routine_file, normalise,
                               routine_files)
from companion.core.routines import Routine

_SPOKEN = re.compile(r"^[a-z]+( [a-z]+)*$")


def register(sub, common) -> None:
    """Add `routines list`, `routines show` and `routines validate`."""
    p = sub.add_parser("routines", parents=[common], help="list, show and check routines",
                       description="List the routines, show one step by step, or check "
                                   "routine files for mistakes.")
    p.set_defaults(func=cmd_list, json=False)
    rsub = p.add_subparsers(dest="routines_command", metavar="ACTION")

    lp = rsub.add_parser("list", parents=[common], help="list all routines (the default)",
                         description="List the shipped routines and your own (from the "
                                     "routines/ folder in the config dir).")
    lp.add_argument("--json", action="store_true", help="print a JSON array instead of a table")
    lp.set_defaults(func=cmd_list)

    sp = rsub.add_parser("show", parents=[common], help="show one routine step by step",
                         description="Show a routine's safety notes and the timed steps a "
                                     "session walks through.")
    sp.add_argument("name", metavar="NAME",
                    help="routine name or spoken alias (e.g. neck, 'lower back'), or a "
                         "routine file")
    sp.add_argument("--json", action="store_true", help="print the routine and plan as JSON")
    sp.set_defaults(func=cmd_show)

    vp = rsub.add_parser("validate", parents=[common], help="check routine files",
                         description="Check routine files; each problem names the file, "
                                     "the line and the field. With no FILE, checks every "
                                     "routine, shipped and your own.")
    vp.add_argument("files", metavar="FILE", nargs="*",
                    help="routine .yaml files (default: every routine)")
    vp.set_defaults(func=cmd_validate)


def _minutes(seconds: int) -> str:
    m, s = divmod(seconds, 60)
    return f"{m} min {s} s" if s else f"{m} min"


def session_minutes(r: Routine) -> int:
    """The "about N minutes" of a spoken session, as its intro says it: the steps' own
    time plus the time the companion stands still while it says the instructions (the
    intro, the safety notes, each step's cue), estimated the way the voice loop does."""
    from companion.core.rehearsal import instruction_seconds

    return cues.minutes(r.duration_s + instruction_seconds(r))


def _tool(r: Routine) -> str:
    return r.tool.value.replace("_", " ")


def _warn_library(lib: Library) -> None:
    for problem in lib.problems + lib.warnings:
        print(f"warning: {problem}", file=sys.stderr)
    seen: dict[str, str] = {}
    for r in lib.routines.values():
        for a in sorted({normalise(r.name), *(normalise(x) for x in r.aliases)}):
            if a in seen and seen[a] != r.name:
                print(f"warning: '{a}' is an alias of both '{seen[a]}' and '{r.name}'; "
                      f"saying it starts '{seen[a]}'", file=sys.stderr)
            seen.setdefault(a, r.name)


def cmd_list(args: argparse.Namespace) -> int:
    lib = Library()
    _warn_library(lib)
    routines = sorted(lib.routines.values(), key=lambda r: r.name)
    if args.json:
        print(json.dumps([{
            "name": r.name, "title": r.title, "aliases": r.aliases, "areas": r.areas,
            "tool": r.tool.value, "duration_s": r.duration_s, "minutes": session_minutes(r),
            "description": r.description,
        } for r in routines], indent=2))
        return 0
    if not routines:
        print("No routines found.", file=sys.stderr)
        return 1
    rows = [("NAME", "TITLE", "AREAS", "TOOL", "MIN")]
    rows += [(r.name, r.title, ", ".join(r.areas), _tool(r), str(session_minutes(r)))
             for r in routines]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[4].rjust(3))
    return 0


def _find(name: str) -> Routine:
    candidate = Path(name).expanduser()
    if candidate.suffix in (".yaml", ".yml") and (candidate.exists() or candidate.is_symlink()):
        try:
            return load_routine_file(candidate)
        except RoutineError as e:
            raise CompanionError(f"{candidate} has mistakes:\n" + str(e), exit_code=1) from None
    lib = Library()
    _warn_library(lib)
    try:
        return lib.find(name)
    except KeyError as e:  # the same message and exit code as `companion run NAME`
        raise CompanionError(e.args[0]) from None


def cmd_show(args: argparse.Namespace) -> int:
    r = _find(args.name)
    plan = r.plan()
    if args.json:
        out = r.model_dump(mode="json")
        out["duration_s"] = r.duration_s
        out["plan"] = [{"index": p.index, "kind": p.kind, "name": p.name, "label": p.label,
                        "side": p.side, "rep": p.rep, "area": p.area, "seconds": p.seconds,
                        "cue": p.cue, "breaths": p.breaths, "max_s": p.max_s,
                        "rate": p.rate, "safety": p.safety} for p in plan]
        print(json.dumps(out, indent=2))
        return 0
    print(f"{r.name}: {r.title}")
    print(f"  say:   {', '.join(r.aliases)}")
    print(f"  tool:  {_tool(r)}")
    print(f"  areas: {', '.join(r.areas)}")
    if r.description:
        print(f"  {r.description}")
    if r.safety:
        print("\nSafety:")
        for note in r.safety:
            print(f"  - {note}")
    print("\nSteps:")
    kw = max(len(p.kind) for p in plan)
    nw = max(len(p.name) for p in plan)
    iw = len(str(len(plan)))
    for p in plan:
        extra = f" [{p.breaths} breaths, up to {p.max_s} s]" if p.kind == "hold" else ""
        print(f"  {p.index + 1:>{iw}}  {p.kind:<{kw}}  {p.name:<{nw}}  {p.seconds:>3} s  "
              f"{p.cue}{extra}")
        if p.safety:
            print(f"  {'':>{iw}}  {'':<{kw}}  {'':<{nw}}         safety: {p.safety}")
    print(f"\nTotal: {_minutes(r.duration_s)} ({r.duration_s} s, {len(plan)} steps); "
          f"about {session_minutes(r)} min spoken, with the instructions")
    return 0


def _check_file(f: Path) -> tuple[list[str], list[str], Optional[Routine]]:
    """Problems (the file cannot be used), warnings (it can, but something is off) and
    the routine when it loads."""
    if not f.exists() and not f.is_symlink():
        return [f"{f}: no such file"], [], None
    if f.is_dir():
        return [f"{f}: is a folder; give the routine files in it, e.g. {f}/*.yaml"], [], None
    problems: list[str] = []
    if f.suffix not in (".yaml", ".yml"):
        problems.append(f"{f}: routine files must end in .yaml or .yml, or they are not loaded")
    try:
        r = load_routine_file(f)
    except RoutineError as e:
        return problems + e.problems, [], None
    warnings = [f"{f.name}: aliases: '{a}' should be plain lowercase words without digits "
                "or punctuation, or the speech recognizer cannot hear it"
                for a in r.aliases if not _SPOKEN.match(a)]
    return problems, warnings, r


def cmd_validate(args: argparse.Namespace) -> int:
    """Each FILE, or with none every routine file the companion loads: `ok: FILE` on
    stdout, or each problem on stderr; exit 1 if any file has one."""
    lib = Library()
    names = args.files or [str(f) for f in routine_files()]
    if not args.files:
        for line in lib.warnings:  # two files with one name: only one is used
            print(f"warning: {line}", file=sys.stderr)
    failed = False
    for name in names:
        problems, warnings, r = _check_file(Path(name))
        other = lib.files.get(r.name) if r and args.files else None
        if r is not None and other is not None and other.resolve() != Path(name).resolve():
            warnings.append(f"{name}: the routine '{r.name}' is also defined by {other}; "
                            "rename one to keep both")
        for line in warnings:
            print(f"warning: {line}", file=sys.stderr)
        if problems:
            failed = True
            for line in problems:
                print(line, file=sys.stderr)
        else:
            print(f"ok: {name}")
    return 1 if failed else 0
