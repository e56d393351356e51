"""What every speaker shares: the small interface the session loop uses, the record of one
utterance (for the event log), and the speaker that says nothing."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any, Callable, Iterable, Optional, Union

from companion.core.interfaces import Speaker  # noqa: F401  (speech's interface, named here too)

GATE_TAIL_S = 0.25   # after playback really ends the room still rings: keep ignoring the mic

ClockLike = Union[Callable[[], float], Any]   # a function, or an object with now()


def as_clock(clock: Optional[ClockLike]) -> Callable[[], float]:
    """A now() function from a function, an object with now() (companion.core.clock), or None
    (time.monotonic)."""
    if clock is None:
        return time.monotonic
    now = getattr(clock, "now", None)
    if callable(now):
        return now
    if callable(clock):
        return clock
    raise TypeError("clock must be a function returning seconds or have a now() method")


@dataclass
class Playback:
    """One say() and what became of it. Times are in the speaker's clock.

    status: queued -> playing -> done, or stopped (cut by stop()), failed (device error),
    silent (NullSpeaker), placed (FileSpeaker: written at audio_start..ended_at).
    """

    id: int
    text: str
    queued_at: float                     # when say() was called
    seconds: float = 0.0                 # length of the rendered cue
    status: str = "queued"
    started_at: Optional[float] = None   # first sample handed to the device
    audio_start: Optional[float] = None  # first sample at the speaker (latency included)
    ended_at: Optional[float] = None     # last sample at the speaker: really finished
    error: Optional[str] = None

    def to_dict(self) -> dict:
        return {k: (round(v, 4) if isinstance(v, float) else v)
                for k, v in asdict(self).items()}


class _History:
    """The recent utterances, bounded so a long session does not grow without end."""

    def __init__(self, keep: int = 1000) -> None:
        self._items: deque[Playback] = deque(maxlen=keep)
        self._next = 0
        self.lock = threading.RLock()

    def new(self, text: str, at: float, **fields) -> Playback:
        with self.lock:
            self._next += 1
            u = Playback(self._next, text, at, **fields)
            self._items.append(u)
            return u

    def list(self) -> list[Playback]:
        with self.lock:
            return list(self._items)


class NullSpeaker:
    """--no-speaker: renders and plays nothing, only records what would have been said
    and when (`history`), for the event log. Never busy, so nothing is gated."""

    def __init__(self, clock: Optional[ClockLike] = None) -> None:
        self._clock = as_clock(clock)
        self._history = _History()
        self._last = 0.0
        self.gain_db = 0.0  # kept, as a speaker that plays would (speech.loudness)

    @property
    def history(self) -> list[Playback]:
        return self._history.list()

    def say(self, text: str, at: Optional[float] = None) -> float:
        t = self._clock() if at is None else float(at)
        self._last = t
        self._history.new(text, t, status="silent", ended_at=t)
        return 0.0

    def stop(self, at: Optional[float] = None) -> None:
        pass

    def busy(self) -> bool:
        return False

    def busy_until(self) -> float:
        return self._last

    def busy_for(self) -> float:
        return 0.0

    def prerender(self, texts: Iterable[str]) -> list:
        return []

    def close(self) -> None:
        pass

    def __enter__(self) -> "NullSpeaker":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
