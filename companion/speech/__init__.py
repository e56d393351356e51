"""Speech out: cue text rendered by a Piper neural voice where installed, else espeak-ng
(through pyttsx3), cached on disk, and played on a speaker, written to a file, or only
recorded.

    speaker = make_speaker(cfg)                   # the configured output device
    speaker = make_speaker(cfg, no_speaker=True)  # --no-speaker
    speaker = make_speaker(cfg, speaker_file="out.wav", clock=loop_clock)  # replays
    speaker.prerender(cues.fixed())               # at start-up
    seconds = speaker.say("Hold here and breathe slowly.", at=now)
    if speaker.busy(): ...                        # gate recognition (busy_until() + tail)
    speaker.stop()                                # barge-in
    speaker.close()

Importing this package does not import sounddevice or pyttsx3; only the device speaker's
playback process imports sounddevice.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Optional, Union

from companion.core.errors import CompanionError
from companion.host.config import Config
from companion.speech.base import (GATE_TAIL_S, ClockLike, NullSpeaker, Speaker, Playback,
                                   as_clock)
from companion.speech.device import DeviceSpeaker
from companion.speech.filesink import FileSpeaker
from companion.speech.render import DEFAULT_VOICE, CueRenderer, RenderedCue, read_wav

__all__ = ["RenderedCue", "CueRenderer", "choose_voice", "renderer_for", "DeviceSpeaker", "FileSpeaker", "GATE_TAIL_S", "NullSpeaker",
           "Speaker", "Playback", "make_speaker", "prerender", "read_wav"]

_UNSET: Any = object()


def choose_voice(cfg: Optional[Config] = None) -> tuple[str, str]:
    """(renderer engine, voice) for cfg's voice_engine and voice: the one place a voice is
    chosen. auto is Piper when it is installed and the voice is not an espeak-ng one."""
    from companion.speech import piper_voice

    cfg = cfg or Config()
    wanted, voice = cfg.voice_engine, cfg.voice
    if wanted == "auto":
        usable = piper_voice.missing() is None and (not voice or piper_voice.is_piper_voice(voice))
        wanted = "piper" if usable else "pyttsx3"
    if wanted == "piper":
        why = piper_voice.missing()
        if why:
            raise CompanionError(f"voice_engine is piper, but {why}; or set voice_engine = "
                                 "\"pyttsx3\" for espeak-ng")
        return "piper", voice or piper_voice.DEFAULT_VOICE
    if piper_voice.is_piper_voice(voice):
        raise CompanionError(f"'{voice}' is a Piper voice; espeak-ng voices are like en-us, "
                             "en-gb, en-us+f3 (or set voice_engine = \"piper\")")
    return "auto", voice or DEFAULT_VOICE


def renderer_for(cfg: Optional[Config] = None,
                 cache_dir: Union[str, Path, None] = None, threads: int = 1) -> CueRenderer:
    """The cue renderer for cfg's voice, rate and volume (the defaults when cfg is None);
    threads: CPU threads a synthesis may use (more only where nothing else runs)."""
    cfg = cfg or Config()
    engine, voice = choose_voice(cfg)
    return CueRenderer(voice, cfg.rate, cfg.volume, cache_dir=cache_dir, engine=engine,
                       threads=threads)


def make_speaker(cfg: Optional[Config] = None, *, no_speaker: bool = False,
                 speaker_file: Union[str, Path, None] = None,
                 clock: Optional[ClockLike] = None, device: Any = _UNSET,
                 renderer: Optional[CueRenderer] = None,
                 cache_dir: Union[str, Path, None] = None, **device_options) -> Speaker:
    """The speaker the command line asked for.

    cfg: the settings in effect (config.effective(args): the file with the flags laid over
    it); None for the defaults.
    no_speaker (--no-speaker) wins, then speaker_file (--speaker-file OUT.wav, placed by
    `clock`, the replay's audio clock), else the output device (`device` overrides
    cfg.output_device). device_options go to DeviceSpeaker (latency, extra_latency, tail...).
    """
    cfg = cfg or Config()
    if no_speaker:
        return NullSpeaker(clock=clock)
    if renderer is None:
        renderer = renderer_for(cfg, cache_dir)
    if speaker_file:
        return FileSpeaker(speaker_file, renderer=renderer, clock=clock)
    if device is _UNSET:
        device = cfg.output_device
    device_options.setdefault("extra_latency", cfg.speaker_delay_s)
    return DeviceSpeaker(device, renderer=renderer, **device_options)


def prerender(texts: Iterable[str], cfg: Optional[Config] = None, *, cache_dir: Union[str, Path, None] = None) -> list[RenderedCue]:
    """Warm the cue cache (e.g. with companion.core.cues.fixed()) for cfg's voice/rate/volume."""
    return renderer_for(cfg, cache_dir).prerender(texts)
