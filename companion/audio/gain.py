"""A cue made louder or quieter as it is played ("louder", "quieter" by voice), the same way
by the playback process and the speaker file.

Why at playback: a cue's level is rendered into the cached file (the cache is keyed by
volume), so a change by voice would otherwise render every cue again, minutes on a Pi.
Cues are levelled to -20 dBFS with their peaks under 0.97, which leaves no headroom above:
a gain over 0 dB is kept from clipping by a peak limiter that turns down only the loudest
few milliseconds (the speech stays as loud as it can be, without the crackle of clipping).
Only numpy: the playback process imports this too."""

from __future__ import annotations

import numpy as np

PEAK = 0.97     # no sample of a cue goes over it (speech.cuefile levels cues under it too)
BLOCK = 64      # samples per limiter block (1.3-4 ms at 48-16 kHz)


def with_gain(x: np.ndarray, db: float, peak: float = PEAK) -> np.ndarray:
    """Float samples in [-1, 1] times `db` dB, float32, never over `peak`. Where the gain
    would take a sample over it, the gain is lowered around that sample: each block's gain
    fits the loudest of it and its two neighbours, and is interpolated between block
    centres, so it changes smoothly and every sample stays under `peak`."""
    y = np.asarray(x, dtype=np.float32) * np.float32(10 ** (db / 20))
    if db <= 0 or len(y) == 0:
        return y
    n = -(-len(y) // BLOCK)
    a = np.zeros(n * BLOCK, dtype=np.float32)
    a[:len(y)] = np.abs(y)
    block = a.reshape(n, BLOCK).max(axis=1)
    near = np.maximum(block, np.maximum(np.r_[block[1:], 0.0], np.r_[0.0, block[:-1]]))
    if near.max() <= peak:
        return y
    g = np.minimum(1.0, peak / np.maximum(near, 1e-9))
    centres = np.arange(n) * BLOCK + (BLOCK - 1) / 2
    # Between two centres a sample's gain lies between theirs, and both fit it.
    gain = np.interp(np.arange(len(y)), centres, g).astype(np.float32)
    return np.clip(y * gain, -peak, peak)
