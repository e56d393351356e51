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
