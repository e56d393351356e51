"""`companion run` without --text: choose the adapters (audio in, recognizer, speech out,
log) in this one place and hand them to the VoiceLoop."""

from __future__ import annotations

import argparse
import logging
import threading
import os
import sys
import time
from contextlib import ExitStack
from typing import Any, Callable

from companion.host import config, paths
from companion.core import cues
from companion.storage import trends
from companion.core.clock import ManualClock
from companion.hearing.debug_record import DebugRecording
from companion.core.errors import CompanionError
from companion.storage.library import Library, load_routine
from companion.loop.mic_watch import watched
from companion.storage.runlock import close_left_open, single_run
from companion.storage.wall_clock import warn_if_behind
from companion.storage.safe_log import LateLog, SafeLog, saved_or_said
from companion.audio.portaudio_noise import PortAudioNoiseFilter
from companion.host.shutdown import stop_signals_as_interrupt
from companion.loop.transcript import Transcript
from companion.core.vocabulary import Vocabulary
from companion.core.rehearsal import spoken_lines
from companion.core.cues import speaking_seconds
from companion.loop.voice_loop import VoiceLoop
from companion.loop import warmup

logger = logging.getLogger(__name__)


def _open_private(path: str):
    """Event files hold what the user said: private like the log."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.fchmod(fd, 0o600)  # O_CREAT's mode does nothing for a file that exists
        except OSError:
            os.close(fd)
            raise
    except OSError as e:
        raise CompanionError(f"cannot write the events file {path}: {e.strerror}") from None
    return os.fdopen(fd, "w", encoding="utf-8")


def _or(read, fallback):
    """A reading of the log, or the fallback when the log cannot be read or written now."""
    try:
        return read()
    except CompanionError:
        return fallback


_warming = threading.Lock()   # one warm-up child at a time: they would render the same lines


def _warm_quietly(renderer, hold_step_s: float, children: list, extra: list[str]) -> None:
    """Looks for lines the cache lacks (at the lowest priority: Linux sets it per thread) and
    has a child process render them (loop/warmup.start); the run ends the child with it."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
    except (AttributeError, OSError):
        pass
    with _warming:
        try:
            child = warmup.start(renderer, hold_step_s, extra)
        except Exception as e:  # a cue that fails now is rendered (or reported) when said
            logger.warning("cue warm-up stopped: %s", e)
            return
        if child is not None:
            children.append(child)
            child.wait()


def _end(children: list) -> None:
    for child in children:
        if child.poll() is None:
            child.terminate()
            child.wait()


def _device_help(args: argparse.Namespace) -> str:
    """Where to go from a missing microphone or speaker."""
    path = config.config_file(args)
    return (f"Devices are set in {path} (input_device, output_device); `companion devices` "
            "lists what PortAudio sees and `companion doctor` checks each part. Without "
            "audio, try a session from the keyboard: `companion run neck --text`.")


def run_voice(args: argparse.Namespace) -> int:
    from companion.hearing import make_recognizer
    from companion.hearing.sources import MicSource, WavSource, release_portaudio_at_exit
    from companion.speech import make_speaker
    from companion.speech.loudness import Loudness
    from companion.loop.enroll import voice_lesson

    cfg = config.effective(args)
    library = Library()
    for problem in library.problems:
        logger.warning("skipping routine file: %s", problem)
    routine = load_routine(library, args.routine) if args.routine else None
    clock = ManualClock()
    replay = bool(args.mic_file)
    with ExitStack() as stack:
        if not replay:  # a live device that goes away makes PortAudio print screenfuls
            stack.callback(PortAudioNoiseFilter().install().restore)
        try:
            speaker = make_speaker(cfg, no_speaker=args.no_speaker or False,
                                   speaker_file=args.speaker_file, clock=clock)
        except CompanionError as e:
            raise CompanionError(f"{str(e).removeprefix('speaker: ')}\n{_device_help(args)}"
                                 ) from None
        stack.callback(speaker.close)
        try:
            source = WavSource(args.mic_file) if replay else MicSource(cfg.input_device)
        except CompanionError as e:
            if replay:
                raise
            # Say it out loud as well: there may be no screen to read.
            time.sleep(speaker.say(cues.NO_MIC, clock.now()) + 0.3)
            raise CompanionError(f"{e}\n{_device_help(args)}") from None
        vocab = Vocabulary(library.aliases())
        recognizer = make_recognizer(vocab, cfg.engine, cfg.model_path,
                                     whisper_model=cfg.whisper_model,
                                     whisper_threads=cfg.whisper_threads,
                                     taught_voice=paths.taught_voice(cfg.data_dir),
                                     learn_voice=cfg.learn_voice,
                                     # A replay hears as the companion would now, and
                                     # keeps nothing it learns from then.
                                     learned_voice=paths.learned_voice(cfg.data_dir),
                                     keep_learned=not replay)
        stack.callback(recognizer.close)  # (what it learned since the last write is kept)
        if recognizer.voice_note:
            logger.warning("%s", recognizer.voice_note)
        if recognizer.missing_words:
            logger.warning("the speech model does not know these words, so phrases using them "
                           "are left out: %s", ", ".join(recognizer.missing_words))
        log = stack.enter_context(LateLog(paths.data_dir(cfg.data_dir)))
        stack.enter_context(single_run(log.path.parent))
        close_left_open(log)
        clock_behind = warn_if_behind(log)
        events = stack.enter_context(_open_private(args.events)) if args.events else None
        renderer = getattr(speaker, "renderer", None)
        if renderer is not None:
            # Before anything plays, a named routine's lines too (warmup.prerender).
            warmup.prerender(renderer, cues.fixed() + (spoken_lines(routine, speaking_seconds)
                                                       if routine is not None else []))

        def summary() -> str:
            return _or(lambda: trends.spoken_summary(log, time.time()), cues.NO_LOG_SUMMARY)

        ahead: Callable[[list[str]], None] = lambda lines: None
        if renderer is not None and not replay:
            # Lines of routines added or changed since setup's `voice prepare`, and what
            # "how am I doing" would say now (again after each session): rendered by a child
            # process while the companion waits, so they are found in the cache.
            children: list = []
            stack.callback(_end, children)

            def warm_up(lines: list[str]) -> None:
                threading.Thread(target=_warm_quietly, daemon=True, name="cue-warm-up",
                                 args=(renderer, cfg.hold_step_s, children, lines)).start()

            ahead = warm_up
            ahead([summary()])
        safe = SafeLog(log)
        mic: list[Any] = [source]  # the stream being read: a microphone back is a new one

        def reopen() -> MicSource:
            new = MicSource(cfg.input_device)
            mic[0] = new
            return new

        def backlog() -> float:
            read = getattr(mic[0], "backlog_s", None)
            return read() if read else 0.0

        loop = VoiceLoop(library, safe, speaker,
                         lambda frames, expect: recognizer.utterances(frames, expect=expect,
                                                                     include_rejected=True),
                         hold_step_s=cfg.hold_step_s, events_out=events, clock=clock,
                         greeting=((cues.CLOCK_BEHIND,) if clock_behind else ())
                         + (cues.LISTENING,),
                         summary=summary,
                         reminders=lambda: _or(lambda: trends.reminders(log, time.time()), []),
                         transcript=None if args.quiet else Transcript(
                             sys.stdout, says="JOURNAL_STREAM" not in os.environ),
                         mic_backlog=backlog, acted_on=recognizer.acted_on,
                         misheard=recognizer.misheard,
                         teach=voice_lesson(recognizer, vocab.routine_aliases,
                                            paths.taught_voice(cfg.data_dir)),
                         ahead=ahead,
                         # A replay hears what was said then; it leaves the setting alone.
                         loudness=Loudness.load(paths.loudness(cfg.data_dir), save=not replay))
        frames: Any = None
        try:
            with stop_signals_as_interrupt():
                frames = source.frames() if replay else watched(
                    source, reopen, loop.microphone_lost,
                    loop.microphone_back)
                if getattr(args, "debug_record", None):
                    recording = DebugRecording(args.debug_record)
                    stack.callback(recording.close)
                    frames = recording.tee(frames)
                loop.run(frames, routine)
        except KeyboardInterrupt:
            loop.finish("interrupted")
            return saved_or_said(safe) or 130
        finally:
            # Let the microphone go here, not whenever the collector finds the frames'
            # generators (an interrupt leaves them in a cycle with its traceback): see
            # sources._to_close.
            getattr(frames, "close", lambda: None)()
            close = getattr(source, "close", None)
            if close:
                close()
            if not replay:
                release_portaudio_at_exit()
        return saved_or_said(safe)
