"""Speech out: cue text rendered by espeak-ng (through pyttsx3, cached on disk) and played
on a speaker, written to a file, or only recorded.

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

from companion.speech.base import (GATE_TAIL_S, ClockLike, NullSpeaker, Speaker, Utterance,
                                   as_clock)
from companion.speech.device import DeviceSpeaker
from companion.speech.filesink import FileSpeaker
from companion.speech.render import (DEFAULT_RATE, DEFAULT_VOICE, DEFAULT_VOLUME, Cue,
                                     CueRenderer, read_wav)

__all__ = ["Cue", "CueRenderer", "DeviceSpeaker", "FileSpeaker", "GATE_TAIL_S", "NullSpeaker",
           "Speaker", "Utterance", "make_speaker", "prerender", "read_wav"]

_UNSET: Any = object()


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
        renderer = CueRenderer(getattr(cfg, "voice", DEFAULT_VOICE),
                               getattr(cfg, "rate", DEFAULT_RATE),
                               getattr(cfg, "volume", DEFAULT_VOLUME), cache_dir=cache_dir)
    speaker_file = speaker_file or getattr(cfg, "speaker_file", None)
    if speaker_file:
        return FileSpeaker(speaker_file, renderer=renderer, clock=clock)
    if device is _UNSET:
        device = getattr(cfg, "output_device", None)
    device_options.setdefault("extra_latency", getattr(cfg, "speaker_delay_s", 0.0))
    return DeviceSpeaker(device, renderer=renderer, **device_options)


def prerender(texts, cfg: Any = None, *, cache_dir: Union[str, Path, None] = None) -> list[Cue]:
    """Warm the cue cache (e.g. with companion.cues.fixed()) for cfg's voice/rate/volume."""
    renderer = CueRenderer(getattr(cfg, "voice", DEFAULT_VOICE),
                           getattr(cfg, "rate", DEFAULT_RATE),
                           getattr(cfg, "volume", DEFAULT_VOLUME), cache_dir=cache_dir)
    return renderer.prerender(texts)
