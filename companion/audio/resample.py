"""Streaming polyphase resampling in numpy (scipy is not a dependency).

A Kaiser-windowed sinc low-pass at the lower of the two Nyquist rates, split into `up`
phases: each output sample is a short dot product with one phase. State carries over
between blocks so a long file or a live stream is resampled without holding it all.

Memory is bounded for any pair of rates. The exact bank has about 24 * max(up, down)
coefficients after reducing the rates by their gcd: 3.5 million for 44100 -> 16000 would be
fine, but an odd rate such as 383987 Hz (up 16000, down 383987) needed 9 million, and
about 1 GB while building them. Past MAX_BANK coefficients the filter is kept at a bounded
number of phases instead, and each output interpolates linearly between the two nearest:
output times stay exact, the filter is off by far less than 16-bit noise."""

from __future__ import annotations

from math import gcd

import numpy as np

_HALF_ZEROS = 12  # sinc zero crossings each side: ~80 dB stop band with beta 8
_BETA = 8.0
MAX_BANK = 1 << 19      # coefficients (4 MB) in a bank, exact or interpolated
MAX_PHASES = 1024       # phases of an interpolated bank
_WORK = 1 << 18         # outputs x taps computed at once (each array 2 MB)


def _prototype(m: np.ndarray, up: int, down: int) -> np.ndarray:
    """The low-pass at positions m (on the up-sampled grid, 0 at the centre), any real m:
    what np.kaiser and np.sinc give at whole m, defined between them too."""
    factor = max(up, down)
    half = _HALF_ZEROS * factor
    # Cut off a little below Nyquist so the transition band is done by it (no aliasing).
    cutoff = 0.92 / factor
    inside = np.abs(m) <= half
    r = np.where(inside, m / half, 0.0)
    window = np.where(inside, np.i0(_BETA * np.sqrt(np.maximum(0.0, 1.0 - r * r))), 0.0)
    return cutoff * np.sinc(cutoff * m) * window / np.i0(_BETA) * up


def _bank(up: int, down: int, phases: int) -> np.ndarray:
    """Filter bank [phase, tap]. Exact (phases == up): tap k of phase r is the prototype
    at r + k*up - half. Interpolated: `phases` + 1 rows at r = p * up / phases."""
    half = _HALF_ZEROS * max(up, down)
    taps = -(-(2 * half + 1) // up)
    rows = np.arange(phases + (phases != up), dtype=np.float64) * (up / phases)
    m = rows[:, None] + (np.arange(taps, dtype=np.float64) * up - half)[None, :]
    return _prototype(m, up, down)


class Resampler:
    """Convert a stream of float blocks from rate_in to rate_out; feed() returns what can
    be computed so far, flush() the tail. Output length is ceil(n_in * out / in)."""

    def __init__(self, rate_in: int, rate_out: int) -> None:
        g = gcd(rate_in, rate_out)
        self.up, self.down = rate_out // g, rate_in // g
        self.identity = self.up == self.down
        if self.identity:
            return
        self.delay = _HALF_ZEROS * max(self.up, self.down)  # centre of the prototype
        self.taps = -(-(2 * self.delay + 1) // self.up)
        if self.up * self.taps <= MAX_BANK:
            self.phases = self.up
        else:
            self.phases = max(16, min(MAX_PHASES, MAX_BANK // self.taps - 1))
        self.bank = _bank(self.up, self.down, self.phases)
        # Input history: index 0 of `buf` is input sample `buf_start` (may be negative:
        # zeros before the stream starts).
        self.buf = np.zeros(self.taps, dtype=np.float64)
        self.buf_start = -self.taps
        self.n_in = 0
        self.n_out = 0

    def _coefficients(self, phase: np.ndarray) -> np.ndarray:
        if self.phases == self.up:
            return self.bank[phase]
        scaled = phase * self.phases
        p0 = scaled // self.up
        w = ((scaled - p0 * self.up) / self.up)[:, None]
        return self.bank[p0] * (1.0 - w) + self.bank[p0 + 1] * w

    def _compute(self, last_input: int) -> np.ndarray:
        """All outputs whose newest needed input index is < last_input."""
        up, down = self.up, self.down
        # Output n needs inputs up to i_max = (n*down + delay) // up.
        n_end = (last_input * up - self.delay - 1) // down + 1
        if n_end <= self.n_out:
            return np.zeros(0, dtype=np.float32)
        out = []
        step = max(1, _WORK // self.taps)  # bounded work arrays, however long the block
        for start in range(self.n_out, n_end, step):
            n = np.arange(start, min(start + step, n_end), dtype=np.int64)
            pos = n * down + self.delay
            i_max = pos // up
            phase = pos - i_max * up
            idx = (i_max - self.buf_start)[:, None] - np.arange(self.taps)[None, :]
            out.append(np.einsum("ij,ij->i", self.buf[idx], self._coefficients(phase)))
        self.n_out = n_end
        # Keep only the history later outputs can still reach.
        keep_from = (self.n_out * down + self.delay) // up - self.taps + 1
        drop = max(0, keep_from - self.buf_start)
        if drop:
            self.buf = self.buf[drop:]
            self.buf_start += drop
        return np.concatenate(out).astype(np.float32)

    def feed(self, block: np.ndarray) -> np.ndarray:
        if self.identity:
            return np.asarray(block, dtype=np.float32)
        self.buf = np.concatenate([self.buf, np.asarray(block, dtype=np.float64)])
        self.n_in += len(block)
        return self._compute(self.n_in)

    def flush(self) -> np.ndarray:
        """The remaining outputs, as if the input continued with silence."""
        if self.identity:
            return np.zeros(0, dtype=np.float32)
        total = -(-self.n_in * self.up // self.down)
        pad = self.taps + (self.delay // self.up) + 2
        self.buf = np.concatenate([self.buf, np.zeros(pad)])
        out = self._compute(self.n_in + pad)
        keep = max(0, total - (self.n_out - len(out)))
        return out[:keep]


def resample(x: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """One-shot convenience: resample a whole array."""
    r = Resampler(rate_in, rate_out)
    out = [r.feed(x[i:i + 65536]) for i in range(0, len(x), 65536)]
    return np.concatenate(out + [r.flush()])
