"""`companion run`: a session from the keyboard (--text) or hands-free by voice."""

from __future__ import annotations

import argparse
import math
import queue
import sys
import threading
from typing import TextIO

from companion.host import config, paths
from companion.core.clock import MonotonicClock
from companion.core.engine import Session
from companion.core.errors import CompanionError
from companion.core.events import Cue
from companion.storage.library import Library, load_routine
from companion.loop.runner import EOF, Runner
from companion.storage.runlock import close_left_open, single_run
from companion.storage.wall_clock import warn_if_behind
from companion.storage.safe_log import LateLog, SafeLog, saved_or_said
from companion.host.shutdown import stop_signals_as_interrupt
from companion.core.vocabulary import LOUDNESS_INTENTS, Vocabulary


def register(sub, common) -> None:
    p = sub.add_parser("run", parents=[common], help="run a session",
                       description="Run a routine. With --text, type commands (one per line) "
                                   "instead of speaking them; cues are printed.")
    p.add_argument("routine", nargs="?", help="routine name or alias (e.g. neck)")
    p.add_argument("--text", action="store_true",
                   help="typed front end: read commands from standard input, print cues")
    p.add_argument("--speed", type=speed, default=1.0, metavar="N",
                   help="run the session clock N times faster (default 1)")
    p.add_argument("--hold-step", type=int, default=None, metavar="S", dest="hold_step_s",
                   help="seconds added or removed by 'hold longer' and 'shorter' (default 15)")
    v = p.add_argument_group("voice")
    v.add_argument("--mic-file", metavar="WAV",
                   help="replay a recorded session instead of the microphone, as fast as the "
                        "CPU allows, on the audio's own clock")
    v.add_argument("--no-speaker", action="store_true", help="say nothing aloud")
    v.add_argument("--quiet", action="store_true",
                   help="print no live transcript (what was heard and what it did)")
    v.add_argument("--speaker-file", metavar="WAV", help="write what is said into this WAV")
    v.add_argument("--events", metavar="FILE.jsonl",
                   help="write every utterance heard, cue spoken and rating logged, one JSON "
                        "object per line")
    v.add_argument("--debug-record", metavar="WAV",
                   help="keep what the microphone heard in this WAV (private; off unless "
                        "asked for)")
    v.add_argument("--engine", choices=config.ENGINES, default=None)
    v.add_argument("--model", dest="model_path", metavar="DIR", help="Vosk model folder")
    v.add_argument("--input-device", default=None, help="microphone name or index")
    v.add_argument("--output-device", default=None, help="speaker name or index")
    v.add_argument("--voice-engine", choices=config.VOICE_ENGINES, default=None,
                   help="who speaks (default: config.toml's, else auto: Piper if installed)")
    v.add_argument("--voice", default=None,
                   help="Piper: en_US-joe-medium or a .onnx voice file; espeak-ng: en-us+f3...")
    v.add_argument("--rate", type=int, default=None, help="speaking rate, words per minute")
    v.add_argument("--volume", type=float, default=None, help="speech volume 0.0-1.0")
    v.add_argument("--config", metavar="FILE", help="config file (default: XDG config dir)")
    p.set_defaults(func=run)


def speed(text: str) -> float:
    """--speed: a finite number above zero (nan or inf would stop the clock or divide by
    it, after the session row was written)."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, e.g. 50 (not {text!r})")
    return value


def shown(text: str) -> str:
    """A typed line as it may be echoed: control characters escaped, so "\\x1b[2J" is
    printed as text instead of clearing the terminal."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _reader(stream: TextIO, inbox: "queue.Queue[object]") -> None:
    try:
        for line in stream:
            inbox.put(line.rstrip("\n"))
    except (OSError, ValueError):
        pass  # a closed or broken stdin is simply the end of input
    inbox.put(EOF)


def run(args: argparse.Namespace) -> int:
    if args.speed <= 0:
        raise CompanionError("--speed must be a positive number, e.g. --speed 50")
    if not args.text:
        from companion.loop.voice_run import run_voice

        return run_voice(args)
    return run_text(args, sys.stdin, sys.stdout)


def run_text(args: argparse.Namespace, stdin: TextIO, stdout: TextIO) -> int:
    library = Library()
    routine = load_routine(library, args.routine)
    clock = MonotonicClock(args.speed)
    # A typed "stop" is meant (nothing in the room types): it is not offered for taking back.
    session = Session(routine, clock, config.effective(args).hold_step_s, undo_stop_s=0.0)
    vocab = Vocabulary(library.aliases())

    def say(cue: Cue) -> None:
        m, s = divmod(int(cue.at), 60)
        stdout.write(f"[{m:02d}:{s:02d}] {cue.text}\n")
        stdout.flush()

    def unknown(text: str) -> None:
        intent = vocab.parse(text)
        if intent is not None and intent.name in LOUDNESS_INTENTS:
            print(f'("{shown(text.strip())}" sets how loud the spoken voice is; a typed '
                  'session prints its cues)', file=sys.stderr)
            return
        hint = vocab.hint(text) or "type help"
        print(f'(not a command, ignored: "{shown(text.strip())}"; {hint})', file=sys.stderr)

    with LateLog(paths.data_dir(config.effective(args).data_dir)) as log, \
            single_run(log.path.parent):
        close_left_open(log)
        warn_if_behind(log)
        safe = SafeLog(log)
        runner = Runner(session, safe, say, vocab, on_unknown=unknown)
        inbox: "queue.Queue[object]" = queue.Queue()
        threading.Thread(target=_reader, args=(stdin, inbox), daemon=True).start()
        try:
            with stop_signals_as_interrupt():
                runner.run_queue(inbox, clock.real_seconds)
        except KeyboardInterrupt:
            runner.finish("interrupted")
            return saved_or_said(safe) or 130
        return saved_or_said(safe)
