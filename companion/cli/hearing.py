"""Hearing subcommands: `recognize` files, `model download`, `bench recognition`."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Optional

from companion.cli import model as model_cli
from companion.cli.parsing import nested_subcommands
from companion.host.config import ENGINES, WHISPER_MODELS
from companion.core.errors import CompanionError
from companion.core.vocabulary import MOMENTS


def engine_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--engine", choices=ENGINES,
                   help="recognizer (default: config.toml's engine, else auto: Vosk if a "
                        "model is installed, else Whisper)")
    p.add_argument("--model", metavar="PATH", help="Vosk model folder")
    p.add_argument("--whisper-model", choices=WHISPER_MODELS,
                   help="Whisper model (default: config.toml's whisper_model, else "
                        f"{WHISPER_MODELS[0]})")
    p.add_argument("--whisper-threads", type=int, metavar="N",
                   help="CPU threads for Whisper (default: config.toml's whisper_threads, "
                        "else 1)")


def register(sub, common) -> None:
    p = sub.add_parser("recognize", parents=[common],
                       help="recognize commands in WAV files (one JSON line per file)")
    p.add_argument("files", nargs="+", metavar="FILE.wav")
    p.add_argument("--when", choices=tuple(MOMENTS),
                   help="hear the files as the companion would at that moment: waiting for a "
                        "start, in a running session, paused (resume), right after asking "
                        "for a pain rating (bare numbers), while a question waits "
                        "(yes/no), or just after a stop (a resume takes it back); "
                        "default: every phrase at once")
    p.add_argument("--untaught", action="store_true",
                   help="hear without the voice taught by `companion enroll`")
    engine_args(p)
    p.set_defaults(func=cmd_recognize)

    model_cli.register(sub)  # here, so that `companion --help` lists it after recognize

    bench = nested_subcommands(sub, "bench", "benchmarks")
    b = bench.add_parser("recognition", help="accuracy, false accepts, RTF and memory on "
                                             "the shared speech recordings")
    engine_args(b)
    b.add_argument("--data", metavar="DIR", help="speech data (default ../shared/data/speech)")
    b.add_argument("--limit", type=int, metavar="N", help="at most N files per class")
    b.add_argument("--split", choices=("dev", "test", "all"), default="all",
                   help="speakers to use (dev/test are disjoint halves)")
    b.add_argument("--no-synth", action="store_true", help="skip the espeak-ng phrases")
    b.add_argument("-v", "--verbose", action="store_true", help="list every miss")
    b.add_argument("--json", action="store_true", help="print the figures as JSON")
    b.add_argument("--as-cut", action="store_true",
                   help="hear FSDD's digits as cut at the word, without the half second "
                        "of quiet the benchmark puts around them")
    b.add_argument("--farther", type=float, default=None, metavar="DB",
                   help="hear each recording DB dB under its level over a quiet room's "
                        "noise, as from across a room (the espeak-ng phrases stay as they are)")
    b.add_argument("--reverb", type=float, default=0.0, metavar="RT60",
                   help="... and through a room whose echo falls 60 dB in RT60 seconds")
    b.add_argument("--echo-db", type=float, default=0.0, metavar="DB",
                   help="with --reverb: the echo's energy over the direct sound's (default 0, "
                        "the critical distance; more is farther)")
    b.add_argument("--taught", type=int, default=0, metavar="K",
                   help="hear each recording as if its speaker had taught the companion "
                        "with K of their other takes of each phrase, by voice in the running "
                        "companion (their sound is shown to the model too; a voice.npz loaded "
                        "at start has their frames alone) (Whisper only; espeak-ng voices "
                        "stay untaught)")
    b.add_argument("--learn", action="store_true",
                   help="hear each speaker as a companion that learns the voice in use "
                        "(the default live): in a shuffled order, each recording with what "
                        "was learned from the commands accepted from that speaker before")
    b.add_argument("--returning", action="store_true",
                   help="with --learn: each speaker's companion learned from their "
                        "recordings of the other split first, then was restarted (what it "
                        "learned kept as the running companion keeps it: frames alone); "
                        "FSDD's two speakers are in both splits")
    b.add_argument("--garbage-loop", type=float, metavar="P",
                   help="PocketSphinx: probability of each further garbage phone "
                        "(lower accepts more)")
    b.add_argument("--garbage-weight", type=float, metavar="W",
                   help="PocketSphinx: prior of the garbage branch")
    b.set_defaults(func=cmd_bench)


def _settings(args) -> tuple[str, Optional[str], str, int]:
    """Engine, Vosk model, Whisper model and its threads from the flags, else config.toml."""
    from companion.host.config import load_config

    engine, model, whisper = args.engine, args.model, getattr(args, "whisper_model", None)
    threads = getattr(args, "whisper_threads", None)
    if engine is None or model is None or whisper is None or threads is None:
        cfg = load_config()
        engine = engine or cfg.engine
        model = model or (str(cfg.model_path) if cfg.model_path else None)
        whisper = whisper or cfg.whisper_model
        threads = cfg.whisper_threads if threads is None else threads
    return engine, model, whisper, threads


def speech_data(args) -> Path:
    """The speech recordings the benches hear: --data, else ../shared/data/speech."""
    from companion.bench import recognition as bench

    return Path(args.data).expanduser() if args.data else bench.default_data_dir()


def vocabulary():
    from companion.storage.library import Library
    from companion.core.vocabulary import Vocabulary

    return Vocabulary(Library().aliases())


def recognizer_for(args, vocab, taught: bool = False):
    """The recognizer the flags and config.toml choose; taught: with the user's taught voice
    (`companion enroll`), as the live companion hears (the benchmark hears without it)."""
    from dataclasses import replace

    from companion.hearing.engines import make_recognizer, missing_words_message
    from companion.hearing.sphinx import SphinxOptions

    engine, model, whisper, threads = _settings(args)
    if threads < 1:
        raise CompanionError(f"--whisper-threads must be 1 or more, not {threads}")
    opts = SphinxOptions()
    if getattr(args, "garbage_loop", None) is not None:
        opts = replace(opts, garbage_loop=args.garbage_loop)
    if getattr(args, "garbage_weight", None) is not None:
        opts = replace(opts, garbage_weight=args.garbage_weight)
    voice = None
    if taught:
        from companion.host import config, paths

        voice = paths.taught_voice(config.effective(args).data_dir)
    rec = make_recognizer(vocab, engine, model, sphinx_options=opts, whisper_model=whisper,
                          whisper_threads=threads, taught_voice=voice)
    if rec.voice_note:
        print(f"companion: warning: {rec.voice_note}", file=sys.stderr)
    if rec.missing_words:
        print(f"companion: warning: {missing_words_message(rec)}", file=sys.stderr)
    return rec


def cmd_recognize(args) -> int:
    from companion.hearing.files import recognize_file
    from companion.audio.wav import AudioFileError

    vocab = vocabulary()
    rec = recognizer_for(args, vocab, taught=not args.untaught)
    allowed = vocab.phrases_at(args.when) if args.when else None
    failed = 0
    for name in args.files:
        try:
            r = recognize_file(rec, vocab, Path(name), allowed)
        except AudioFileError as e:
            failed += 1
            print(json.dumps({"file": name, "error": str(e)}), flush=True)
            continue
        line = {"file": name, "text": r.text,
                "intent": r.intent.name if r.intent else None,
                "value": r.intent.value if r.intent else None,
                "confidence": round(r.confidence, 3)}
        if r.intent is None:  # why a command was missed: what it came nearest to
            line["nearest"] = r.nearest
        if r.unsure:  # a rating the loop would ask back before logging it
            line["asked_back"] = True
        print(json.dumps(line), flush=True)
    return 1 if failed else 0


def cmd_bench(args) -> int:
    import tempfile

    from companion.host import paths

    # Recordings heard from across a room (--farther, --reverb) are rendered for the run
    # only: cheap to make again, and a split's worth is 100 MB or more.
    paths.cache_dir().mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-room-", dir=paths.cache_dir()) as rooms:
        return _bench(args, Path(rooms))


def _bench(args, rooms: Path) -> int:
    from companion.host import paths
    from companion.bench import recognition as bench

    if args.limit is not None and args.limit < 1:
        raise CompanionError("--limit must be at least 1")
    if args.returning and not (args.learn and args.split in ("dev", "test")):
        raise CompanionError("--returning goes with --learn and --split dev or test: the "
                             "other split's recordings are what was learned before")
    vocab = vocabulary()
    data = speech_data(args)
    cases = bench.recorded_cases(data, args.split, args.limit)
    room = None
    if args.farther is not None or args.reverb or args.echo_db:
        from companion.bench.room import Room, heard_in

        if args.reverb < 0 or (args.echo_db and not args.reverb):
            raise CompanionError("--reverb needs a positive RT60 in seconds (and --echo-db "
                                 "goes with it)")
        room = Room(args.farther or 0.0, args.reverb, args.echo_db)
        noises = sorted((data / "speech-commands" / "_silence_").glob("*.wav"))
        # (--taught and --learn teach with the speaker's takes as recorded: a voice taught
        # in a quiet room, heard across another)
        cases = [replace(c, path=heard_in(room, c.path, noises, rooms), origin=c.path)
                 for c in cases]
    if not args.no_synth:
        cases += bench.synthetic_cases(data, vocab, args.split, args.limit,
                                       paths.cache_dir() / "bench-speech")
    if args.taught < 0:
        raise CompanionError(f"--taught must be 0 or more takes, not {args.taught}")
    rec = recognizer_for(args, vocab)
    quiet = 0.0 if args.as_cut else bench.QUIET_S
    teach = None
    if args.taught:
        from companion.bench.taught import Teacher
        from companion.hearing.whisper_engine import WhisperRecognizer

        if not isinstance(rec, WhisperRecognizer):
            raise CompanionError(f"--taught needs the Whisper engine, not {rec.engine}: "
                                 "a taught voice is kept as Whisper's view of it")
        teach = Teacher(data, args.taught, rec.voice_frames, rec.model_name, quiet).voice_for
    learner = None
    if args.learn:
        from companion.bench.taught import Learner
        from companion.hearing.whisper_engine import WhisperRecognizer

        if not isinstance(rec, WhisperRecognizer):
            raise CompanionError(f"--learn needs the Whisper engine, not {rec.engine}")
        learner = Learner(rec)
    if learner is not None and args.returning:
        import tempfile

        keys = {bench.voice_key(c.recording) for c in cases}
        other = "test" if args.split == "dev" else "dev"
        before = [c for c in bench.recorded_cases(data, other, args.limit)
                  if bench.voice_key(c.recording) in keys]
        with tempfile.TemporaryDirectory(prefix="bench-learned-", dir=rooms) as kept:
            learner.returning(before, lambda cs: bench.run(rec, vocab, cs, teach, quiet,
                                                           learner), Path(kept))
    tallies, cpu, audio = bench.run(rec, vocab, cases, teach, quiet, learner)
    name = f"{rec.engine} {getattr(rec, 'model_name', '')}".strip()
    if rec.engine == "whisper":
        threads = rec.options.threads
        name += f", {threads} thread{'s' if threads != 1 else ''}"
    if args.as_cut:
        name += ", files as cut"
    if room is not None:
        name += f", {room.label()}"
    if args.taught:
        name += f", taught {args.taught} take{'s' if args.taught != 1 else ''} a phrase"
    if args.learn:
        name += ", learning each voice" + (" (returning)" if args.returning else "")
    ms = getattr(rec, "decode_ms", None)
    if getattr(args, "json", False):
        print(json.dumps(bench.figures(tallies, cpu, audio, name, ms), indent=2))
    else:
        print(bench.report(tallies, cpu, audio, name, args.verbose, ms))
    return 0
