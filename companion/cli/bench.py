"""`companion bench loop|soak|speech|voice|all`: benchmarks that print figures (recognition's own
benchmark registers itself under the same `bench` command in cmd_hearing)."""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import time
from pathlib import Path
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Optional

from companion.cli.parsing import nested_subcommands
from companion.host.config import ENGINES, RATE_DEFAULT, RATE_LIMITS, WHISPER_MODELS
from companion.core.errors import CompanionError
from companion.core.vocabulary import MOMENTS

ROOT = Path(__file__).resolve().parents[2]


def register(sub, common) -> None:
    bench = nested_subcommands(sub, "bench", "benchmarks")
    lp = bench.add_parser("loop", help="end-of-speech to action latency, idle CPU, hold "
                                       "timing over a long replay, memory")
    lp.add_argument("--engine", choices=ENGINES, default="auto")
    lp.add_argument("--minutes", type=float, default=30.0, help="length of the long replay")
    lp.add_argument("--json", action="store_true", help="print the figures as JSON")
    lp.set_defaults(func=cmd_loop)
    so = bench.add_parser("soak", help="hours of replayed idle room audio at full speed: "
                                       "spurious commands, memory over time, stalls")
    so.add_argument("--hours", type=float, default=8.0, help="length of the idle stream")
    so.add_argument("--seed", type=int, default=0, help="which stream (same seed, same audio)")
    so.add_argument("--engine", choices=ENGINES, default="auto")
    so.add_argument("--during", choices=tuple(MOMENTS), default="waiting",
                    help="hear it as while waiting for a start (the voice loop), or as "
                         "at another moment: 'session' while a routine runs (every "
                         "session command listened for), 'stopped' just after a stop "
                         "(a resume would take it back), 'rating' after the pain question, "
                         "'question' while the safety question waits (yes carries on), "
                         "'offered' while a voice lesson's offer waits for its yes")
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
    vo = bench.add_parser("voice", help="how well each voice is understood: every cue "
                                        "rendered (fresh cache), heard by Whisper tiny.en; "
                                        "word errors, misheard safety words, render time, "
                                        "loudness per cue")
    vo.add_argument("--engine", choices=("piper", "espeak", "both"), default="both")
    vo.add_argument("--listener", choices=WHISPER_MODELS, default="tiny.en",
                    help="the Whisper model that listens (base: a kinder ear, if installed)")
    vo.add_argument("--quick-ear", action="store_true",
                    help="listen as the companion's hearing does (greedy, no 30 s window): "
                         "harsher, and 5x faster")
    vo.add_argument("--limit", type=int, default=None, metavar="N",
                    help="N lines per engine, spread over all of them (default: every line)")
    vo.add_argument("--rate", type=int, default=RATE_DEFAULT, metavar="WPM",
                    help=f"speaking rate in words per minute, {RATE_LIMITS[0]}-{RATE_LIMITS[1]} "
                         f"(default: {RATE_DEFAULT}, the configured default)")
    vo.add_argument("--json", action="store_true", help="print the figures as JSON")
    vo.set_defaults(func=cmd_voice)
    al = bench.add_parser("all", help="every benchmark, one after another, one table")
    al.add_argument("--quick", action="store_true",
                    help="smaller runs (recognition --limit 20, also across a room; "
                         "safety words without Piper; loop --minutes 10, soak --hours 0.5, "
                         "voice --limit 40)")
    al.add_argument("--virtual-audio", action="store_true",
                    help="start the virtual sound card for the startup and speech benchmarks")
    al.set_defaults(func=cmd_all)
    # Bare `companion bench` runs them all, as `bench all` does.
    bench.required = False
    sub.choices["bench"].set_defaults(func=cmd_all, quick=False, virtual_audio=False)


def cmd_loop(args: argparse.Namespace) -> int:
    from companion.bench import loop as loop_bench

    figures = loop_bench.run(args.engine, args.minutes)
    print(json.dumps(figures, indent=2) if args.json else loop_bench.table(figures))
    return 0


def cmd_soak(args: argparse.Namespace) -> int:
    from companion.bench import soak

    if args.hours <= 0:
        raise CompanionError("--hours must be more than 0")
    try:
        with _progress_shown("companion.bench.soak"):
            figures = soak.run(args.hours, args.seed, args.engine, progress=True,
                               during=args.during)
    except FileNotFoundError as e:
        raise CompanionError(f"{e}: the soak is built from ../shared/data/speech") from None
    print(json.dumps(figures, indent=2) if args.json else soak.table(figures))
    return 0


def cmd_startup(args: argparse.Namespace) -> int:
    from companion.bench import startup as startup_bench

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


def cmd_voice(args: argparse.Namespace) -> int:
    from companion.bench import voice as voice_bench

    if args.limit is not None and args.limit < 1:
        raise CompanionError("--limit must be at least 1")
    if not RATE_LIMITS[0] <= args.rate <= RATE_LIMITS[1]:
        raise CompanionError(f"--rate must be {RATE_LIMITS[0]}-{RATE_LIMITS[1]} words a minute")
    engines = ["piper", "espeak"] if args.engine == "both" else [args.engine]
    progress: Optional[Callable[[str], None]] = None
    if not args.json and sys.stderr.isatty():
        def show(what: str) -> None:
            print(f"\r{what} ", end="", file=sys.stderr, flush=True)
        progress = show
    figures = voice_bench.run(engines, args.limit, progress, listener=args.listener,
                              quick_ear=args.quick_ear, rate=args.rate)
    if progress:
        print("\r", end="", file=sys.stderr)
    print(json.dumps(figures, indent=2) if args.json else voice_bench.table(figures))
    return 0


def _run(title: str, argv: list[str]) -> tuple[str, float, int, str]:
    t0 = time.monotonic()
    r = subprocess.run(argv, capture_output=True, text=True)
    return title, time.monotonic() - t0, r.returncode, (r.stdout + (r.stderr if r.returncode
                                                                     else "")).rstrip()


def _ms(d: Optional[dict]) -> str:
    return f"{d['median']} ms median, {d['max']} max" if d else "-"


# Per benchmark: (figure, how to read it from that benchmark's --json, target).
ROWS: dict[str, list[tuple[str, Callable[[dict], Any], str]]] = {
    "recognition": [
        ("commands right", lambda f: f"{f['accuracy']:.1%} ({f['right']}/{f['positives']})",
         ">= 97 %"),
        ("false accepts", lambda f: f"{f['false_accept_rate']:.1%} ({f['false_accepts']}/"
                                    f"{f['negatives']})", "<= 1 %"),
        ("false accepts, every phrase allowed", lambda f: f"{f['false_accept_rate_all_phrases']:.1%}",
         ""),
        ("taken as another command", lambda f: f"{f['wrong_command_rate']:.1%}", ""),
        ("after the rating question: commands / negatives logged as a rating",
         lambda f: f"{f['when_asked']['commands_logged']}/{f['when_asked']['commands']} / "
                   f"{f['when_asked']['negatives_logged']}/{f['when_asked']['negatives']}", ""),
        ("decode per utterance p50 / p95", lambda f: f"{f['decode_p50_ms']} / "
                                                     f"{f['decode_p95_ms']} ms", "<= 150 ms p95"),
        ("real-time factor", lambda f: f["rtf"], ""),
        ("peak RSS", lambda f: f"{f['peak_rss_mb']} MB", "<= 250 MB")],
    # The recordings as from across a small, echoing room (bench/room.py): the figures that
    # say whether the microphone can stay on the shelf.
    "recognition, across a room": [
        ("commands right (20 dB farther, RT60 0.4 s)",
         lambda f: f"{f['accuracy']:.1%} ({f['right']}/{f['positives']})", ""),
        ("false accepts", lambda f: f"{f['false_accept_rate']:.1%} ({f['false_accepts']}/"
                                    f"{f['negatives']})", "<= 1 %"),
        ("taken as another command", lambda f: f"{f['wrong_command_rate']:.1%}", "")],
    "safety words": [
        ("heard during a hold (synthetic voices)",
         lambda f: f"{f['all']['heard'] / max(f['all']['said'], 1):.1%} ({f['all']['heard']}/"
                   f"{f['all']['said']}); " + ", ".join(
                       f"{w} {d['all']['heard']}/{d['all']['said']}"
                       for w, d in f["words"].items()), ""),
        ("acted on as another command", lambda f: f["all"]["other_command"], "0")],
    # Every command's phrases: the issue's multi-word target is over "the full vocabulary,
    # several espeak-ng voices and speeds, 10-20 dB noise".
    "phrases": [
        ("phrases of several words heard as meant (synthetic voices)",
         lambda f: f"{f['several_words']['right'] / max(f['several_words']['said'], 1):.1%} "
                   f"({f['several_words']['right']}/{f['several_words']['said']})", ">= 98 %"),
        ("the phrases it tells you to say, heard as meant",
         lambda f: f"{f['taught']['right'] / max(f['taught']['said'], 1):.1%} "
                   f"({f['taught']['right']}/{f['taught']['said']})", ""),
        ("every phrase, by voice", lambda f: ", ".join(
            f"{v} {c['right']}/{c['said']}" for v, c in f["by_voice"].items()), ""),
        ("acted on as another command (not asked back)",
         lambda f: f["all"]["other_command"] - f["all"]["asked_back"], "")],
    "loop": [
        ("end of speech -> action p50 / p95", lambda f: f"{f['latency']['p50_ms']} / "
                                                        f"{f['latency']['p95_ms']} ms", "<= 300 ms p50"),
        ("commands acted on", lambda f: f"{f['latency']['acted']}/{f['latency']['phrases']}", ""),
        ("idle listening CPU share, loud / quiet", lambda f: f"{f['idle']['cpu_share']} / "
                                                             f"{f['idle_quiet']['cpu_share']}",
         "<= 0.05"),
        ("hold timing drift (accumulated)", lambda f: f"{f['hold_timing']['drift_ms']} ms "
                                                      f"over {f['hold_timing']['audio_s']} s",
         "<= 20 ms"),
        ("step lag behind due (one frame)", lambda f: f"{f['hold_timing']['max_lag_ms']} ms",
         ""),
        ("peak RSS (companion)", lambda f: f"{f['peak_rss_mb']} MB", "<= 250 MB")],
    "soak": [
        ("spurious session starts", lambda f: f"{f['spurious_starts']} in "
                                              f"{f['audio_hours']} h", "0"),
        ("other commands accepted", lambda f: f["other_accepted"], ""),
        ("RSS growth first -> last", lambda f: f"{f['rss_growth_mb']} MB", "flat"),
        ("longest frame gap", lambda f: f"{f['longest_frame_gap_ms']} ms", ""),
        ("real-time factor", lambda f: f["rtf"], "<= 0.05")],
    "startup": [
        ("start-up to listening", lambda f: f"{f['startup_to_listening_s']} s", ""),
        ("idle CPU share (all processes)", lambda f: f["idle_cpu_share"], "<= 0.05"),
        ("idle RSS with speech process", lambda f: f"{f['idle_rss_mb_all']} MB", "<= 250 MB")],
    "speech": [
        ("cue first frame, cached", lambda f: _ms(f["first_frame_cached_ms"]), "<= 30 ms"),
        ("cue first frame, uncached", lambda f: _ms(f["first_frame_uncached_ms"]), ""),
        ("peak RSS companion / player", lambda f: f"{f['peak_rss_mb']['companion']} / "
                                                  f"{f['peak_rss_mb']['player_process']} MB", "")],
    # An engine that could not be measured (Piper not installed) has no "wer": shown as "-".
    "voice": [
        ("Piper word errors (Whisper tiny.en)", lambda f: f"{f['engines']['piper']['wer']:.1%} "
                                                          f"of {f['engines']['piper']['words']}",
         "<= 1 %"),
        ("Piper lines with a safety word misheard",
         lambda f: len(f["engines"]["piper"]["safety_misheard"]), "0"),
        ("espeak-ng word errors", lambda f: f"{f['engines']['espeak']['wer']:.1%}", ""),
        ("render per cue p95, Piper / espeak-ng",
         lambda f: " / ".join(f"{f['engines'][e].get('render_p95_ms', '-')}"
                              for e in ("piper", "espeak")) + " ms", ""),
        ("loudness spread, Piper / espeak-ng",
         lambda f: " / ".join(f"{f['engines'][e]['loudness_dbfs']['spread_db']}"
                              if f["engines"][e].get("loudness_dbfs") else "-"
                              for e in ("piper", "espeak")) + " dB", "")],
}


@contextmanager
def _progress_shown(name: str) -> Iterator[None]:
    """A long benchmark's INFO progress lines on stderr, as they are: the CLI shows only
    warnings otherwise (cli.main.setup_logging)."""
    log = logging.getLogger(name)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.addFilter(lambda r: r.levelno < logging.WARNING)   # warnings go the usual way
    level = log.level
    log.setLevel(logging.INFO)
    log.addHandler(handler)
    try:
        yield
    finally:
        log.removeHandler(handler)
        log.setLevel(level)


@contextmanager
def _virtual_audio(wanted: bool) -> Iterator[None]:
    """The tests' virtual sound card for the live benchmarks, on a machine without one."""
    if not wanted:
        yield
        return
    sys.path.insert(0, str(ROOT / "tests"))
    import audio_env  # type: ignore[import-not-found]  # tests/audio_env.py, on the path above

    va = audio_env.start()
    audio_env.activate(va)  # its environment is inherited by the benchmark processes
    try:
        yield
    finally:
        audio_env.deactivate(va)
        audio_env.stop(va)


def cmd_all(args: argparse.Namespace) -> int:
    with _virtual_audio(args.virtual_audio):
        return _all(args)


def _all(args: argparse.Namespace) -> int:
    me = [sys.executable, "-m", "companion", "bench"]
    runs = [
        _run("recognition", me + ["recognition", "--json"]
             + (["--limit", "20"] if args.quick else [])),
        _run("recognition, across a room", me + ["recognition", "--json", "--no-synth",
                                                 "--farther", "20", "--reverb", "0.4"]
             + (["--limit", "20"] if args.quick else [])),
        _run("safety words", me + ["safety", "--json"]
             + (["--no-piper"] if args.quick else [])),
        _run("phrases", me + ["phrases", "--json"] + (["--no-piper"] if args.quick else [])),
        _run("loop", me + ["loop", "--json"] + (["--minutes", "10"] if args.quick else [])),
        _run("soak", me + ["soak", "--json"] + (["--hours", "0.5"] if args.quick else [])),
        _run("startup", me + ["startup", "--json"]),
        _run("speech", [sys.executable, str(_speech_script()), "--json"]),
        _run("voice", me + ["voice", "--json"] + (["--limit", "40"] if args.quick else [])),
    ]
    rows: list[tuple[str, str, str, str]] = []
    failed = []
    for title, seconds, code, text in runs:
        try:
            figures = json.loads(text[text.index("{"):]) if code == 0 else None
        except ValueError:
            figures = None
        if figures is None:
            failed.append((title, code, text))
            rows.append((title, "FAILED", f"exit {code}", ""))
            continue
        for i, (name, read, target) in enumerate(ROWS[title]):
            try:
                value = str(read(figures))
            except (KeyError, TypeError):
                value = "-"
            rows.append((title if i == 0 else "", name, value, target))
        rows.append(("", "(benchmark time)", f"{seconds:.0f} s", ""))
    w = [max(len(r[i]) for r in rows + [("benchmark", "figure", "value", "target")])
         for i in range(4)]
    for r in [("benchmark", "figure", "value", "target"), tuple("-" * n for n in w)] + rows:
        print("  ".join(c.ljust(n) for c, n in zip(r, w)).rstrip())
    for title, code, text in failed:
        print(f"\n== {title} failed (exit {code}):\n{text}")
    return 0 if not failed else 1
