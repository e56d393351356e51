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
from typing import Any, Optional, Union

from companion.errors import CompanionError
from companion.speech.base import (GATE_TAIL_S, ClockLike, NullSpeaker, Speaker, Utterance,
                                   as_clock)
from companion.speech.device import DeviceSpeaker
from companion.speech.filesink import FileSpeaker
from companion.speech.render import (DEFAULT_RATE, DEFAULT_VOICE, DEFAULT_VOLUME, Cue,
                                     CueRenderer, read_wav)

__all__ = ["Cue", "CueRenderer", "choose_voice", "renderer_for", "DeviceSpeaker", "FileSpeaker", "GATE_TAIL_S", "NullSpeaker",
           "Speaker", "Utterance", "make_speaker", "prerender", "read_wav"]

_UNSET: Any = object()


def choose_voice(cfg: Any = None) -> tuple[str, str]:
    """(renderer engine, voice) for cfg's voice_engine and voice: the one place a voice is
    chosen. auto is Piper when it is installed and the voice is not an espeak-ng one."""
    from companion.speech import piper_voice

    wanted = getattr(cfg, "voice_engine", None) or "auto"
    voice = getattr(cfg, "voice", None) or ""
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


def renderer_for(cfg: Any = None, cache_dir: Union[str, Path, None] = None) -> CueRenderer:
    engine, voice = choose_voice(cfg)
    return CueRenderer(voice, getattr(cfg, "rate", None) or DEFAULT_RATE,
                       getattr(cfg, "volume", None) if getattr(cfg, "volume", None) is not None
                       else DEFAULT_VOLUME, cache_dir=cache_dir, engine=engine)


def make_speaker(cfg: Any = None, *, no_speaker: bool = False,
                 speaker_file: Union[str, Path, None] = None,
                 clock: Optional[ClockLike] = None, device: Any = _UNSET,
                 renderer: Optional[CueRenderer] = None,
                 cache_dir: Union[str, Path, None] = None, **device_options) -> Speaker:
    """The speaker the command line asked for.

    cfg: anything with voice / rate / volume / output_device attributes (companion.config
    .Config, or the merged command-line arguments); missing ones take the defaults.
    no_speaker (--no-speaker) wins, then speaker_file (--speaker-file OUT.wav, placed by
    `clock`, the replay's audio clock), else the output device (`device` overrides
    cfg.output_device). device_options go to DeviceSpeaker (latency, extra_latency, tail...).
    """
    if no_speaker or getattr(cfg, "no_speaker", False):
        return NullSpeaker(clock=clock)
    if renderer is None:
        renderer = renderer_for(cfg, cache_dir)
    speaker_file = speaker_file or getattr(cfg, "speaker_file", None)
    if speaker_file:
        return FileSpeaker(speaker_file, renderer=renderer, clock=clock)
    if device is _UNSET:
        device = getattr(cfg, "output_device", None)
    device_options.setdefault("extra_latency", getattr(cfg, "speaker_delay_s", 0.0))
    return DeviceSpeaker(device, renderer=renderer, **device_options)


def prerender(texts, cfg: Any = None, *, cache_dir: Union[str, Path, None] = None) -> list[Cue]:
    """Warm the cue cache (e.g. with companion.cues.fixed()) for cfg's voice/rate/volume."""
    return renderer_for(cfg, cache_dir).prerender(texts)
