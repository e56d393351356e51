"""Benches of phrases said by synthetic voices and heard as the live loop hears them:
`bench safety` (the safety words) and `bench phrases` (every other command's phrases)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from companion.cli.hearing import engine_args, recognizer_for, speech_data, vocabulary
from companion.cli.parsing import nested_subcommands
from companion.core.errors import CompanionError


def register(sub, common) -> None:
    bench = nested_subcommands(sub, "bench", "benchmarks")
    sb = bench.add_parser("safety", help="how often each safety word is heard during a hold, "
                                         "alone and in phrases, by synthetic voices in noise")
    sb.add_argument("--words", nargs="+", metavar="WORD", help="only these safety words")
    _voice_args(sb)
    sb.set_defaults(func=cmd_bench_safety)
    pb = bench.add_parser("phrases", help="which ways of saying each command are heard, by "
                                          "synthetic voices in noise")
    pb.add_argument("--commands", nargs="+", metavar="COMMAND",
                    help="only these commands (next, pause, hold_longer, ...)")
    _voice_args(pb)
    pb.set_defaults(func=cmd_bench_phrases)


def _voice_args(p) -> None:
    engine_args(p)
    p.add_argument("--data", metavar="DIR", help="speech data, for its room noise "
                                                  "(default ../shared/data/speech)")
    p.add_argument("--no-piper", action="store_true", help="espeak-ng voices only")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")


def _setting(args, what: str) -> tuple[list[Path], bool]:
    """The room noise to mix in, and whether the Piper voice speaks too."""
    from companion.bench import synth
    from companion.speech import piper_voice

    if not synth.espeak_available():
        raise CompanionError(f"espeak-ng is needed for the {what} voices "
                             "(sudo apt install espeak-ng)")
    data = speech_data(args)
    noises = sorted((data / "speech-commands" / "_silence_").glob("*.wav"))
    if not noises:
        print(f"companion: warning: no room noise in {data}: heard clean only",
              file=sys.stderr)
    return noises, not args.no_piper and piper_voice.missing() is None


def cmd_bench_safety(args) -> int:
    from companion.bench import safety
    from companion.core.vocabulary import SAFETY_WORDS
    from companion.host import paths

    words = args.words or list(SAFETY_WORDS)
    unknown = [w for w in words if w not in SAFETY_WORDS]
    if unknown:
        raise CompanionError(f"not a safety word: {', '.join(unknown)} "
                             f"(they are: {', '.join(SAFETY_WORDS)})")
    noises, piper = _setting(args, "safety words'")
    vocab = vocabulary()
    rec = recognizer_for(args, vocab)
    results = safety.run(rec, vocab, paths.cache_dir() / "bench-safety", noises, piper, words)
    fig = safety.figures(results)
    print(json.dumps(fig, indent=2) if args.json else safety.table(fig))
    return 0


def cmd_bench_phrases(args) -> int:
    from companion.bench import phrases
    from companion.core.vocabulary import IntentKind
    from companion.host import paths

    known = [k.value for k in IntentKind if k != IntentKind.SAFETY]
    unknown = [c for c in args.commands or () if c not in known]
    if unknown:
        raise CompanionError(f"not a command: {', '.join(unknown)} (they are: "
                             f"{', '.join(known)}; safety words: `bench safety`)")
    noises, piper = _setting(args, "phrases'")
    vocab = vocabulary()
    kinds = {IntentKind(c) for c in args.commands} if args.commands else None
    rec = recognizer_for(args, vocab)
    results = phrases.run(rec, vocab, paths.cache_dir() / "bench-phrases", noises, piper,
                          phrases.ways(vocab, kinds=kinds))
    fig = phrases.figures(results)
    print(json.dumps(fig, indent=2) if args.json else phrases.table(fig))
    return 0
