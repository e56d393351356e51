"""`companion enroll`: teach it your voice. It asks for each number, command and routine
start a few times and keeps your takes (as the recognizer's view of them: no audio is saved)
beside the pain log; from then on it hears those phrases by your own way of saying them as
well as by the model.
`--list` shows what it was taught and what it learned in use, `--forget` removes both."""

from __future__ import annotations

import argparse
import sys
import time
from contextlib import ExitStack

from companion.core.errors import CompanionError
from companion.host import config, paths


def register(sub, common) -> None:
    p = sub.add_parser("enroll", parents=[common],
                       help="teach it your voice: say each number, command and routine "
                            "start a few times")
    p.add_argument("what", nargs="*", metavar="WHAT",
                   help="numbers, commands, routines (\"let's do neck\" and the like), or "
                        "phrases to teach (default: all three)")
    p.add_argument("--takes", type=int, default=2, metavar="N",
                   help="takes of each phrase (default 2)")
    p.add_argument("--list", action="store_true",
                   help="what it was taught, and what it learned of your voice in use")
    p.add_argument("--forget", action="store_true",
                   help="remove the taught voice and what it learned of your voice in use")
    p.add_argument("--mic-file", metavar="WAV",
                   help="take the phrases from a recording instead of the microphone (one "
                        "utterance per take, in order)")
    p.add_argument("--no-speaker", action="store_true", help="print the prompts, say nothing")
    p.add_argument("--input-device", default=None, help="microphone name or index")
    p.add_argument("--output-device", default=None, help="speaker name or index")
    p.add_argument("--config", metavar="FILE", help="config file (default: XDG config dir)")
    p.set_defaults(func=enroll)


def phrases_to_teach(what: list[str], vocab) -> list[str]:
    """Groups and phrases named on the command line (default: the whole lesson), in order,
    each once."""
    from companion.core.vocabulary import normalize
    from companion.loop.enroll import groups, lesson

    if not what:
        return lesson(vocab.routine_aliases)
    known, named = set(vocab.grammar_phrases()), groups(vocab.routine_aliases)
    out: list[str] = []
    for item in what:
        names = named.get(item.lower()) or (normalize(item),)
        for phrase in names:
            if phrase not in known:
                raise CompanionError(
                    f"{item!r} is not a phrase the companion listens for; teach numbers, "
                    f"commands, routines, or phrases such as \"hold longer\" (`companion "
                    "enroll --list` shows what it was taught)")
            if phrase not in out:
                out.append(phrase)
    return out


def enroll(args: argparse.Namespace) -> int:
    cfg = config.effective(args)
    where = paths.taught_voice(cfg.data_dir)
    learned = paths.learned_voice(cfg.data_dir)
    if args.forget:
        for path, none in ((where, "nothing taught at"), (learned, "nothing learned at")):
            existed = path.exists()
            path.unlink(missing_ok=True)
            print(f"{'removed' if existed else none} {path}")
        return 0
    if args.list:
        return _list(where, learned)
    if not 1 <= args.takes <= 5:
        raise CompanionError(f"--takes must be 1 to 5, not {args.takes}")
    return _teach(args, cfg, where)


def _list(where, learned) -> int:
    from companion.hearing.templates import VoiceTemplates

    for path, what, none in (
            (where, "taught voice", "nothing taught yet ({}); `companion enroll` teaches it "
                                    "your voice"),
            (learned, "learned in use", "nothing learned in use yet ({})")):
        if not path.exists():
            print(none.format(path))
            continue
        voice = VoiceTemplates.load(path)
        print(f"{what}: {path} (Whisper {voice.model})")
        for phrase in sorted(voice.takes):
            n = len(voice.takes[phrase])
            print(f"  {phrase}: {n} take{'s' if n != 1 else ''}")
    return 0


def _teach(args: argparse.Namespace, cfg, where) -> int:
    from companion.core.clock import ManualClock
    from companion.core.vocabulary import Vocabulary
    from companion.hearing import make_recognizer
    from companion.hearing.endpoint import Endpointer
    from companion.host.shutdown import stop_signals_as_interrupt
    from companion.hearing.sources import MicSource, WavSource, release_portaudio_at_exit
    from companion.hearing.whisper_engine import WhisperRecognizer
    from companion.loop.enroll import ECHO_S, Enrollment
    from companion.speech import make_speaker
    from companion.storage.library import Library

    vocab = Vocabulary(Library().aliases())
    phrases = phrases_to_teach(args.what, vocab)
    rec = make_recognizer(vocab, cfg.engine, cfg.model_path, whisper_model=cfg.whisper_model,
                          whisper_threads=cfg.whisper_threads)
    if not isinstance(rec, WhisperRecognizer):
        raise CompanionError(f"a taught voice is heard by the Whisper engine only; the "
                             f"{rec.engine} engine is in effect (engine = \"whisper\" in "
                             f"{config.config_file(args)}, or --engine whisper)")
    if rec.voice_note:
        print(f"companion: {rec.voice_note}; starting afresh", file=sys.stderr)
    clock = ManualClock()
    silent = args.no_speaker or bool(args.mic_file)  # a recording holds no prompt's echo
    with ExitStack() as stack:
        speaker = make_speaker(cfg, no_speaker=silent, clock=clock)
        stack.callback(speaker.close)
        source = WavSource(args.mic_file) if args.mic_file else MicSource(cfg.input_device)
        if not args.mic_file:
            stack.callback(release_portaudio_at_exit)
        stack.callback(getattr(source, "close", lambda: None))
        read = [0.0]

        def frames():
            for f in source.frames():
                read[0] = f.end
                clock.set(f.end)
                yield f

        def now() -> float:
            backlog = getattr(source, "backlog_s", None)
            return read[0] + (backlog() if backlog else 0.0)

        teacher = Enrollment.adding_to(rec, lambda text: speaker.say(text, now()), sys.stdout,
                                       now, 0.0 if silent else ECHO_S)
        try:
            with stop_signals_as_interrupt():
                teacher.run(phrases, args.takes, Endpointer().segments(frames()))
                # The closing line is heard before the speaker closes (closing cuts it).
                time.sleep(min(10.0, speaker.busy_for()))
        except KeyboardInterrupt:
            print("stopped: keeping the phrases taught so far", file=sys.stderr)
        lesson = teacher.lesson
    if not lesson.taught:
        raise CompanionError("nothing was taught: no speech was heard"
                             + (f" in {args.mic_file}" if args.mic_file else ""))
    teacher.keep(rec, where)
    missing = [p for p in phrases if p not in lesson.taught]
    print(f"taught {len(lesson.taught)} phrase{'s' if len(lesson.taught) != 1 else ''} "
          f"({sum(lesson.taught.values())} takes), kept in {where}"
          + (f"; not reached: {', '.join(missing)}" if missing else ""))
    return 0
