"""What the session engine emits. Plain data: the loop decides how to speak, log or print it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Optional


@dataclass(frozen=True)
class Event:
    at: float
    """Clock time the event belongs to (a timer's scheduled time, not when it was noticed)."""

    @property
    def type(self) -> str:
        return type(self).__name__

    def to_dict(self) -> dict[str, Any]:
        # Times to the millisecond: a difference of clock readings is not "-4.44e-15 s".
        return {"type": self.type, **{k: round(v, 3) + 0.0 if isinstance(v, float) else v
                                      for k, v in asdict(self).items()}}


@dataclass(frozen=True)
class Cue(Event):
    """Something to say aloud. kind: step, breath, halfway, ten_left, rating, confirm,
    advice, safety, info, intro, end."""

    text: str
    kind: str = "info"


@dataclass(frozen=True)
class StepStarted(Event):
    index: int
    step: str
    kind: str
    area: str
    seconds: float


@dataclass(frozen=True)
class StepEnded(Event):
    index: int
    step: str
    area: str
    reason: str
    """done, next, back, skip, safety, stop."""
    ran_s: float


@dataclass(frozen=True)
class HoldChanged(Event):
    index: int
    delta_s: float
    length_s: float


@dataclass(frozen=True)
class Paused(Event):
    index: int


@dataclass(frozen=True)
class Resumed(Event):
    index: int


@dataclass(frozen=True)
class RatingAsked(Event):
    index: int
    step: str
    area: str


@dataclass(frozen=True)
class PainLogged(Event):
    """A rating to store. The loop must commit it before speaking the confirmation
    that follows it in the same batch of events."""

    value: int
    index: int
    step: str
    area: str


@dataclass(frozen=True)
class SafetyStop(Event):
    word: str
    index: int
    step: str
    area: str


@dataclass(frozen=True)
class SessionEnded(Event):
    reason: str
    """completed, stopped, safety, end_of_input, interrupted."""
    ratings: int = 0
    note: Optional[str] = None
