"""Build a recorded-session WAV from a script of spoken phrases: espeak-ng renders (or real
recordings) placed on a 16 kHz timeline, optionally over room noise at a given SNR. Tests
and benchmarks replay these through `companion run --mic-file`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np

from companion.hearing.resample import resample
from companion.hearing.wav import write_wav
from companion.speech.render import CueRenderer, read_wav

RATE = 16000


@dataclass(frozen=True)
class Placed:
    """One phrase on the timeline: what was said and when (audio seconds)."""

    text: str
    start: float
    end: float


def load_16k(path: Union[str, Path]) -> np.ndarray:
    """A WAV as float mono at 16 kHz."""
    data, rate = read_wav(path)
    x = data.astype(np.float64) / 32768.0
    return x if rate == RATE else resample(x, rate, RATE)


def speech(text: str, voice: str = "en-us+m3", rate: int = 150,
           cache_dir: Optional[Path] = None) -> np.ndarray:
    """text spoken by espeak-ng (through the cue renderer and its cache), 16 kHz float."""
    cue = CueRenderer(voice, rate, 1.0, cache_dir=cache_dir).render(text)
    return load_16k(cue.path)


def mix_at_snr(signal: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """signal plus noise (looped to length) scaled so speech-to-noise is snr_db."""
    reps = int(np.ceil(len(signal) / max(1, len(noise))))
    n = np.tile(noise, reps)[: len(signal)]
    ps = float(np.mean(signal ** 2)) or 1e-12
    pn = float(np.mean(n ** 2)) or 1e-12
    return signal + n * np.sqrt(ps / (pn * 10 ** (snr_db / 10)))


def build(script: Sequence[tuple[float, Union[str, np.ndarray]]], out: Union[str, Path],
          total_s: Optional[float] = None, noise: Optional[np.ndarray] = None,
          noise_db: float = -50.0, voice: str = "en-us+m3", rate: int = 150,
          cache_dir: Optional[Path] = None) -> list[Placed]:
    """Write a session WAV. script: (start seconds, phrase text or 16 kHz audio). Noise, if
    given, runs under the whole recording at noise_db dBFS RMS. Returns where each phrase
    landed."""
    clips = [(t, speech(p, voice, rate, cache_dir) if isinstance(p, str) else p,
              p if isinstance(p, str) else "") for t, p in script]
    end = max((t + len(c) / RATE for t, c, _ in clips), default=0.0)
    length = int(RATE * max(total_s or 0.0, end + 1.0))
    track = np.zeros(length)
    placed = []
    for t, clip, text in clips:
        i = int(t * RATE)
        track[i:i + len(clip)] += clip[: max(0, length - i)]
        placed.append(Placed(text, t, t + len(clip) / RATE))
    if noise is None or not len(noise):
        # A real microphone is never digitally silent: give it a faint self-noise floor.
        noise = np.random.default_rng(0).normal(0.0, 1.0, RATE * 10)
        noise_db = min(noise_db, -60.0)
    if len(noise):
        reps = int(np.ceil(length / len(noise)))
        n = np.tile(noise, reps)[:length]
        rms = float(np.sqrt(np.mean(n ** 2))) or 1e-12
        track += n * (10 ** (noise_db / 20) / rms)
    write_wav(Path(out), track)
    return placed
