"""Clocks the session engine can run on. The engine only ever calls now()."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds on a monotonic scale."""


class MonotonicClock:
    """Real time, optionally running `speed` times faster (for --speed)."""

    def __init__(self, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self._t0 = time.monotonic()

    def now(self) -> float:
        return (time.monotonic() - self._t0) * self.speed

    def real_seconds(self, clock_seconds: float) -> float:
        """How long to wait in real time for clock_seconds to pass."""
        return clock_seconds / self.speed


class ManualClock:
    """Time that moves only when told: for tests, and for replays where audio is the clock."""

    def __init__(self, start: float = 0.0) -> None:
        self.t = start

    def now(self) -> float:
        return self.t

    def set(self, t: float) -> None:
        if t > self.t:
            self.t = t

    def advance(self, seconds: float) -> None:
        self.t += max(0.0, seconds)


class SpeechAwareClock:
    """A session's clock in a spoken loop: audio time that stands still while the companion
    is still saying what to do. A step's seconds then count from the end of its instructions,
    not from when they were queued behind a long intro."""

    def __init__(self, base: ManualClock) -> None:
        self.base = base
        self._last = base.now()
        self._lag = 0.0          # audio seconds the session clock stood still
        self._until = self._last  # audio time the current stand-still lasts to

    def _sync(self) -> None:
        t = self.base.now()
        if t > self._last:
            self._lag += max(0.0, min(t, self._until) - self._last)
            self._last = t

    def now(self) -> float:
        self._sync()
        return self._last - self._lag

    def hold_until(self, audio_t: float) -> None:
        """Stand still until audio time audio_t (the end of the instructions queued)."""
        self._sync()
        self._until = max(self._until, audio_t)

    def release(self) -> None:
        """Run again at once (the speech was cut short)."""
        self._sync()
        self._until = self._last
