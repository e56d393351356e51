"""`companion bench loop|soak|speech|all`: benchmarks that print figures (recognition's own
benchmark registers itself under the same `bench` command in cmd_hearing)."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from companion.cli import nested_subcommands
from companion.errors import CompanionError

ROOT = Path(__file__).resolve().parent.parent


def register(sub, common) -> None:
    bench = nested_subcommands(sub, "bench", "benchmarks")
    lp = bench.add_parser("loop", help="end-of-speech to action latency, idle CPU, hold "
                                       "timing over a long replay, memory")
    lp.add_argument("--engine", choices=("auto", "vosk", "pocketsphinx"), default="auto")
    lp.add_argument("--minutes", type=float, default=30.0, help="length of the long replay")
    lp.add_argument("--json", action="store_true", help="print the figures as JSON")
    lp.set_defaults(func=cmd_loop)
    so = bench.add_parser("soak", help="hours of replayed idle room audio at full speed: "
                                       "spurious commands, memory over time, stalls")
    so.add_argument("--hours", type=float, default=8.0, help="length of the idle stream")
    so.add_argument("--seed", type=int, default=0, help="which stream (same seed, same audio)")
    so.add_argument("--engine", choices=("auto", "vosk", "pocketsphinx"), default="auto")
    so.add_argument("--json", action="store_true", help="print the figures as JSON")
    so.set_defaults(func=cmd_soak)
    st = bench.add_parser("startup", help="live on the default devices: time to listening, "
                                          "idle CPU and memory")
    st.add_argument("--idle-seconds", type=float, default=20.0)
    st.add_argument("--json", action="store_true", help="print the figures as JSON")
    st.set_defaults(func=cmd_startup)
    sp = bench.add_parser("speech", help="cue time-to-first-audio, render time, memory "
                                         "(runs scripts/bench_speech.py)")
    sp.add_argument("--virtual-audio", action="store_true",
                    help="start the virtual sound card for a machine without one")
    sp.set_defaults(func=cmd_speech)
    al = bench.add_parser("all", help="every benchmark, one after another, one table")
    al.add_argument("--quick", action="store_true",
                    help="smaller runs (recognition --limit 20, loop --minutes 10, "
                         "soak --hours 0.5)")
    al.add_argument("--virtual-audio", action="store_true",
                    help="start the virtual sound card for the speech benchmark")
    al.set_defaults(func=cmd_all)


def cmd_loop(args: argparse.Namespace) -> int:
    from companion import loop_bench

    figures = loop_bench.run(args.engine, args.minutes)
    print(json.dumps(figures, indent=2) if args.json else loop_bench.table(figures))
    return 0


def cmd_soak(args: argparse.Namespace) -> int:
    from companion import soak

    if args.hours <= 0:
        raise CompanionError("--hours must be more than 0")
    try:
        figures = soak.run(args.hours, args.seed, args.engine, progress=True)
    except FileNotFoundError as e:
        raise CompanionError(f"{e}: the soak is built from ../shared/data/speech") from None
    print(json.dumps(figures, indent=2) if args.json else soak.table(figures))
    return 0


def cmd_startup(args: argparse.Namespace) -> int:
    from companion import startup_bench

    try:
        figures = startup_bench.run(args.idle_seconds)
    except RuntimeError as e:
        raise CompanionError(f"{e}. Check the devices with `companion doctor`.") from None
    print(json.dumps(figures, indent=2) if args.json else startup_bench.table(figures))
    return 0


def _speech_script() -> Path:
    script = ROOT / "scripts" / "bench_speech.py"
    if not script.exists():
        raise CompanionError(f"{script} is not here: the speech benchmark runs from a checkout")
    return script


def cmd_speech(args: argparse.Namespace) -> int:
    extra = ["--virtual-audio"] if args.virtual_audio else []
    return subprocess.call([sys.executable, str(_speech_script()), *extra])


def _run(title: str, argv: list[str]) -> tuple[str, float, int, str]:
    t0 = time.monotonic()
    r = subprocess.run(argv, capture_output=True, text=True)
    return title, time.monotonic() - t0, r.returncode, (r.stdout + (r.stderr if r.returncode
                                                                     else "")).rstrip()


def cmd_all(args: argparse.Namespace) -> int:
    me = [sys.executable, "-m", "companion", "bench"]
    runs = [
        _run("recognition", me + ["recognition"] + (["--limit", "20"] if args.quick else [])),
        _run("loop", me + ["loop"] + (["--minutes", "10"] if args.quick else [])),
        _run("soak", me + ["soak"] + (["--hours", "0.5"] if args.quick else [])),
        _run("startup", me + ["startup"]),
        _run("speech", [sys.executable, str(_speech_script())]
             + (["--virtual-audio"] if args.virtual_audio else [])),
    ]
    for title, seconds, code, text in runs:
        status = "ok" if code == 0 else f"FAILED (exit {code})"
        print(f"== {title}: {status}, {seconds:.0f} s")
        print(text)
        print()
    return 0 if all(code == 0 for _, _, code, _ in runs) else 1
