"""A rendered cue's WAV file: whether it is complete, its silences trimmed, its loudness
levelled the same for every engine and voice (and measured)."""

from __future__ import annotations

import wave
from pathlib import Path
from typing import Optional

import numpy as np

from companion.audio.gain import PEAK
from companion.audio.wav import read_wav

LEAD_S = 0.005                  # silence kept before a cue's first sound
TRAIL_S = 0.15                  # and after its last (espeak-ng adds about 0.4 s)
LEVEL_DBFS = -20.0              # every cue's loudness (RMS of its voiced part) at volume 1
# ... unless that would take a sample over PEAK: quieter then (the playback gain's limit too)


def trim(path: Path) -> None:
    """Cut espeak-ng's silence before the first sound (so a cue is heard as soon as it
    starts) and most of its 0.4 s pause after the last (so the microphone is not gated for
    nothing), keeping LEAD_S and TRAIL_S."""
    x, rate = read_wav(path)
    if len(x) == 0:
        return
    level = np.abs(x.astype(np.int32))
    loud = np.nonzero(level > max(64, int(0.01 * level.max())))[0]
    if len(loud) == 0:
        return
    a = max(0, loud[0] - int(LEAD_S * rate))
    b = min(len(x), loud[-1] + 1 + int(TRAIL_S * rate))
    if (a, b) == (0, len(x)):
        return
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(x[a:b].astype("<i2").tobytes())


def _voiced_rms(f: np.ndarray) -> float:
    """RMS of the 20 ms-ish frames within 35 dB of the loudest (pauses left out)."""
    frames = f[: len(f) // 320 * 320].reshape(-1, 320)
    if len(frames) == 0:
        return 0.0
    energy = (frames ** 2).mean(axis=1)
    voiced = energy[energy > energy.max() * 10 ** (-35 / 10)]
    return float(np.sqrt(voiced.mean())) if len(voiced) else 0.0


def level(path: Path, volume: float) -> None:
    """Scale a cue so its voiced part is LEVEL_DBFS (times volume), the peak kept under PEAK:
    engines and voices differ by 10 dB and more, and no cue should be much louder than the
    next."""
    x, rate = read_wav(path)
    f = x.astype(np.float64) / 32768.0
    rms = _voiced_rms(f)
    if rms <= 0 or volume <= 0:
        return
    gain = min(10 ** (LEVEL_DBFS / 20) * volume / rms, PEAK / float(np.abs(f).max()))
    y = np.clip(np.round(f * gain * 32768.0), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(y.tobytes())


def loudness_dbfs(path: Path) -> float:
    """A cue's loudness as level() measures it (RMS of its voiced part, dBFS)."""
    return voiced_dbfs(read_wav(path)[0].astype(np.float64) / 32768.0)


def voiced_dbfs(x: np.ndarray) -> float:
    """The loudness of float audio in [-1, 1] as level() measures a cue's: a stretch of
    silence in it (a pause, a gap where playback ran late) does not count."""
    return 20 * float(np.log10(max(_voiced_rms(np.asarray(x, dtype=np.float64)), 1e-6)))


def wav_info(path: Path) -> Optional[tuple[int, int]]:
    """(frames, rate) if path is a complete, non-empty 16-bit mono WAV, else None."""
    try:
        with wave.open(str(path), "rb") as w:
            frames, rate = w.getnframes(), w.getframerate()
            ok = w.getsampwidth() == 2 and w.getnchannels() == 1 and frames > 0
        # A WAV whose header promises more than the file holds was cut short.
        ok = ok and path.stat().st_size >= 44 + 2 * frames
    except (OSError, EOFError, wave.Error):
        return None
    return (frames, rate) if ok else None
