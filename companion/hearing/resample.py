"""Streaming polyphase resampling in numpy (scipy is not a dependency).

A Kaiser-windowed sinc low-pass at the lower of the two Nyquist rates, split into `up`
phases: each output sample is a short dot product with one phase. State carries over
between blocks so a long file or a live stream is resampled without holding it all."""

from __future__ import annotations

from math import gcd

import numpy as np

_HALF_ZEROS = 12  # sinc zero crossings each side: ~80 dB stop band with beta 8


def _bank(up: int, down: int) -> np.ndarray:
    """Filter bank [phase, tap]: tap k of phase r is h[r + k*up] of the prototype."""
    factor = max(up, down)
    half = _HALF_ZEROS * factor
    m = np.arange(-half, half + 1, dtype=np.float64)
    # Cut off a little below Nyquist so the transition band is done by it (no aliasing).
    cutoff = 0.92 / factor
    h = cutoff * np.sinc(cutoff * m) * np.kaiser(len(m), 8.0) * up
    taps = -(-len(h) // up)
    h = np.concatenate([h, np.zeros(taps * up - len(h))])
    return h.reshape(taps, up).T.copy()


class Resampler:
    """Convert a stream of float blocks from rate_in to rate_out; feed() returns what can
    be computed so far, flush() the tail. Output length is ceil(n_in * out / in)."""

    def __init__(self, rate_in: int, rate_out: int) -> None:
        g = gcd(rate_in, rate_out)
        self.up, self.down = rate_out // g, rate_in // g
        self.identity = self.up == self.down
        if self.identity:
            return
        self.bank = _bank(self.up, self.down)
        self.taps = self.bank.shape[1]
        self.delay = _HALF_ZEROS * max(self.up, self.down)  # centre of the prototype
        # Input history: index 0 of `buf` is input sample `buf_start` (may be negative:
        # zeros before the stream starts).
        self.buf = np.zeros(self.taps, dtype=np.float64)
        self.buf_start = -self.taps
        self.n_in = 0
        self.n_out = 0

    def _compute(self, last_input: int) -> np.ndarray:
        """All outputs whose newest needed input index is < last_input."""
        up, down = self.up, self.down
        # Output n needs inputs up to i_max = (n*down + delay) // up.
        n_end = (last_input * up - self.delay - 1) // down + 1
        if n_end <= self.n_out:
            return np.zeros(0, dtype=np.float32)
        n = np.arange(self.n_out, n_end, dtype=np.int64)
        pos = n * down + self.delay
        i_max = pos // up
        phase = pos - i_max * up
        idx = (i_max - self.buf_start)[:, None] - np.arange(self.taps)[None, :]
        y = np.einsum("ij,ij->i", self.buf[idx], self.bank[phase])
        self.n_out = n_end
        # Keep only the history later outputs can still reach.
        keep_from = (self.n_out * down + self.delay) // up - self.taps + 1
        drop = max(0, keep_from - self.buf_start)
        if drop:
            self.buf = self.buf[drop:]
            self.buf_start += drop
        return y.astype(np.float32)

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
