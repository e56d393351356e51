"""How a recording sounds from across a room, for `bench recognition --farther DB --reverb
RT60`: the benchmark's recordings are close-talked, and someone lying on the floor with the
companion on a shelf is not. Each recording is put through a synthetic room response (if
any), lowered by DB, and laid over a quiet room's noise (a Speech Commands background clip
at ROOM_DBFS, LEAD_S before the words and TAIL_S after, so the endpointer knows the room
before anyone speaks). The same room gives the same audio; `bench recognition` renders into
a folder of its own for the run."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from companion.audio.wav import load_16k
from companion.bench.sessionwav import build
from companion.hearing.sources import RATE

ROOM_DBFS = -75.0   # a quiet room's noise, as a USB microphone's floor in a still flat
# Room before the words, and after them (and after their echo) as long as a session WAV
# leaves after its last phrase (sessionwav.build).
LEAD_S, TAIL_S = 1.5, 1.0


@dataclass(frozen=True)
class Room:
    """Where the words are heard from."""

    farther_db: float = 0.0  # the words this many dB under their recorded level
    rt60_s: float = 0.0      # time the room's echo takes to fall 60 dB (0: no echo)
    reverb_db: float = 0.0   # the echo's energy over the direct sound's (0: the critical
    #                          distance; more: farther, where the echo dominates)

    def label(self) -> str:
        parts = [f"{self.farther_db:g} dB farther over a {ROOM_DBFS:g} dBFS room"]
        if self.rt60_s:
            parts.append(f"RT60 {self.rt60_s:g} s, echo {self.reverb_db:+g} dB")
        return ", ".join(parts)

    def folder(self) -> str:
        return f"room-{self.farther_db:g}dB-rt{self.rt60_s:g}-{self.reverb_db:+g}dB"


def response(rt60_s: float, reverb_db: float, rng: np.random.Generator) -> np.ndarray:
    """A room's impulse response: the direct sound (1.0), then after 3 ms a tail of noise
    falling 60 dB in rt60_s, whose energy is reverb_db over the direct sound's."""
    n = max(1, int(rt60_s * RATE * 1.2))
    t = np.arange(n) / RATE
    tail = rng.standard_normal(n) * np.exp(-np.log(1000.0) * t / rt60_s)
    tail[:int(0.003 * RATE)] = 0.0
    tail *= 10 ** (reverb_db / 20) / np.sqrt(np.sum(tail ** 2))
    tail[0] = 1.0
    return tail


def _room_noise(noises: list[Path], first: int, length: int) -> np.ndarray:
    """Background clips one after another from `first`, at least `length` samples, each at
    the same level (a room's does not jump where one clip meets the next)."""
    parts, got, i = [], 0, first
    while got < length:
        clip = load_16k(noises[i % len(noises)]).astype(np.float64)
        parts.append(clip / max(np.sqrt(np.mean(clip ** 2)), 1e-12))
        got += len(clip)
        i += 1
    return np.concatenate(parts)


def heard_in(room: Room, path: Path, noises: list[Path], cache: Path) -> Path:
    """The recording as `room` makes it sound, written under `cache` (once: a file already
    there is taken as it is)."""
    out = cache / room.folder() / f"{path.parent.name}__{path.name}"
    if out.exists():
        return out
    key = zlib.crc32(f"{path.parent.name}/{path.name}".encode())
    rng = np.random.default_rng(key)
    words = load_16k(path).astype(np.float64)
    if room.rt60_s > 0:
        h = response(room.rt60_s, room.reverb_db, rng)
        size = len(words) + len(h) - 1
        # The whole echo, ringing on past the words until it has fallen 72 dB.
        wet = np.fft.irfft(np.fft.rfft(words, size) * np.fft.rfft(h, size), size)
        words = wet * np.abs(words).max() / max(np.abs(wet).max(), 1e-12)
    words *= 10 ** (-room.farther_db / 20)
    total_s = LEAD_S + len(words) / RATE + TAIL_S
    # Laid over the room as a session WAV is (no noise recordings: a microphone's faint
    # self-noise instead, never digital silence).
    noise = _room_noise(noises, key, int(total_s * RATE) + 1) if noises else None
    out.parent.mkdir(parents=True, exist_ok=True)
    build([(LEAD_S, words)], out, total_s=total_s, noise=noise, noise_db=ROOM_DBFS)
    return out
