"""What the session engine emits. Plain data: the loop decides how to speak, log or print it.
Record is also the base of the loop's own records, so every line of the events file is
written by the one to_dict below."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar, Optional


@dataclass(frozen=True)
class Record:
    """One line of the events file: a "type" and the record's fields, in their order."""

    at: float
    """Clock time the record belongs to: an engine event's is a timer's scheduled time, not
    when it was noticed; the loop's records carry audio time."""

    TYPE: ClassVar[str] = "Record"
    """The "type" written; a subclass that does not set it is named by its class."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "TYPE" not in cls.__dict__:
            cls.TYPE = cls.__name__

    @property
    def type(self) -> str:
        return self.TYPE

    def fields(self) -> dict[str, Any]:
        """The values to write, by name, in the order written. Shallow, unlike asdict."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def to_dict(self) -> dict[str, Any]:
        # Times to the millisecond: a difference of clock readings is not "-4.44e-15 s".
        return {"type": self.type, **{k: round(v, 3) + 0.0 if isinstance(v, float) else v
                                      for k, v in self.fields().items()}}


@dataclass(frozen=True)
class Event(Record):
    """Something the session engine did."""


@dataclass(frozen=True)
class Cue(Event):
    """Something to say aloud. kind: step, breath, halfway, ten_left, rating, confirm,
    advice, safety, question (asked again), info, intro, end."""

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
    """done, next, back, skip, safety, stop, left_paused."""
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
    # The value of the session's last rating this one replaces (said within
    # rating.CORRECT_WITHIN_S of it, unasked: that one was misheard); None: a new rating.
    corrects: Optional[int] = None


@dataclass(frozen=True)
class SafetyStop(Event):
    word: str
    index: int
    step: str
    area: str


@dataclass(frozen=True)
class TakenBack(Event):
    """A command acted on and then taken back, so it was misheard: the "yes" to the safety
    question by a "no" within rating.CORRECT_WITHIN_S, a "stop" by a resume within
    engine.UNDO_STOP_S (the session goes on: its log row is open again)."""

    answer: str
    """The command taken back ("yes", "stop")."""
    by: str = "no"
    """What took it back ("no", "resume")."""


@dataclass(frozen=True)
class SessionEnded(Event):
    reason: str
    """completed, stopped, safety, left_paused, end_of_input, interrupted."""
    ratings: int = 0
    note: Optional[str] = None
