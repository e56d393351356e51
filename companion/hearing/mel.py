"""Whisper's log-mel front end in a few lines of numpy (no torch, no librosa).

80 Slaney-scale mel bands of a 25 ms Hann-windowed FFT every 10 ms, log10 with an 80 dB
floor below the loudest band, scaled as Whisper was trained: (log + 4) / 4."""

from __future__ import annotations

import numpy as np

RATE = 16000
N_FFT = 400      # 25 ms
HOP = 160        # 10 ms: one feature frame; the encoder halves it to 20 ms
N_MELS = 80


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    """Slaney's scale: linear to 1 kHz, logarithmic above (what Whisper's filters use)."""
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    logstep = np.log(6.4) / 27.0
    return np.where(f >= min_log_hz,
                    min_log_hz / f_sp + np.log(np.maximum(f, 1e-10) / min_log_hz) / logstep,
                    f / f_sp)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    logstep, min_log_mel = np.log(6.4) / 27.0, min_log_hz / f_sp
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)


def mel_filters(n_mels: int = N_MELS) -> np.ndarray:
    """Triangular, area-normalized filters, shape (n_mels, N_FFT // 2 + 1)."""
    fft = np.linspace(0, RATE / 2, 1 + N_FFT // 2)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(np.array(0.0)), _hz_to_mel(np.array(RATE / 2.0)),
                                   n_mels + 2))
    width = np.diff(edges)
    ramps = edges[:, None] - fft[None, :]
    lower, upper = -ramps[:-2] / width[:-1, None], ramps[2:] / width[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (edges[2:n_mels + 2] - edges[:n_mels]))[:, None]
    return weights.astype(np.float32)


_FILTERS = mel_filters()
# The filter bank is applied in float64: a float32 product's last bits depend on which BLAS
# kernel runs it (OPENBLAS_CORETYPE, the CPU), and the int8 model turned that into scores
# 0.5 apart for the same recording from two users' shells. Rounded to float32 afterwards the
# features are the same everywhere but for the rarest ties.
_FILTERS64 = _FILTERS.astype(np.float64)
_WINDOW = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)


def log_mel(audio: np.ndarray, pad_to: int = 0) -> np.ndarray:
    """Features (N_MELS, frames) of float audio at 16 kHz, zero-padded to pad_to samples
    first (Whisper saw speech followed by silence in training, so a little trailing
    silence helps it end the transcript instead of repeating it)."""
    a = np.asarray(audio, dtype=np.float32)
    if len(a) < pad_to:
        a = np.pad(a, (0, pad_to - len(a)))
    if len(a) < N_FFT:
        a = np.pad(a, (0, N_FFT - len(a)))
    x = np.pad(a, (N_FFT // 2, N_FFT // 2), mode="reflect")
    n = 1 + (len(x) - N_FFT) // HOP
    idx = np.arange(N_FFT)[None, :] + HOP * np.arange(n)[:, None]
    spec = np.fft.rfft(x[idx] * _WINDOW, axis=1)
    power = (spec.real ** 2 + spec.imag ** 2)[:-1].T  # drop the last frame as Whisper does
    logs = np.log10(np.maximum((_FILTERS64 @ power).astype(np.float32), 1e-10))
    logs = np.maximum(logs, logs.max() - 8.0)
    return ((logs + 4.0) / 4.0).astype(np.float32)
