"""The level of 16-bit audio in dB, worked out one way for the endpointer (each frame's
energy), the taught voice (where a word lies in a segment) and the Whisper engine (whether a
segment is quiet): 10 log10 of the mean square of the int16 sample values, plus one (a
least significant bit squared), so digital silence is 0 dB rather than minus infinity.
Full scale is FULL_SCALE_DB: subtract it for dBFS."""

from __future__ import annotations

import math

import numpy as np

FULL_SCALE_DB = 20 * math.log10(32768)  # 90.3: a full-scale square wave's level


def frame_levels(x: np.ndarray, frame: int) -> np.ndarray:
    """The level of each whole frame of `frame` samples of int16-valued audio (any numeric
    dtype; a partial frame at the end is left out)."""
    n = len(x) // frame
    frames = np.asarray(x[:n * frame], dtype=np.float64).reshape(n, frame)
    return 10.0 * np.log10(np.mean(frames * frames, axis=1) + 1.0)
