"""Routine file models: what a routine file may say, validated by pydantic, and the flat
list of timed steps the session engine walks through."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Annotated, Literal, Optional, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator


def _between(lo: int, hi: int) -> AfterValidator:
    def check(v: int) -> int:
        if not lo <= v <= hi:
            raise ValueError(f"must be between {lo} and {hi}")
        return v

    return AfterValidator(check)


class Tool(str, Enum):
    tennis_ball = "tennis_ball"
    massage_ball = "massage_ball"
    lacrosse_ball = "lacrosse_ball"
    foam_roller = "foam_roller"
    fingertips = "fingertips"
    wall = "wall"


class _Step(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: Optional[str] = None
    """Short name for logs and ratings, e.g. "base of skull"; defaults to the kind."""
    cue: str = Field(min_length=1)
    """What the companion says when the step starts, in plain words."""
    area: Optional[str] = None
    """Body area this step works on; defaults to the routine's first area."""
    safety: Optional[str] = None
    """A safety note spoken after the cue."""


class PositionStep(_Step):
    kind: Literal["position"]
    duration_s: Annotated[int, _between(3, 120)] = 12
    """Time to get the ball or roller into place before the next step starts."""


class PressStep(_Step):
    kind: Literal["press"]
    duration_s: Annotated[int, _between(2, 60)] = 6
    """Time to ease in to the target pressure."""


class HoldStep(_Step):
    kind: Literal["hold"]
    hold_s: Annotated[int, _between(5, 180)]
    """How long to hold steady pressure (seeds: 30-90 s, 20-40 s beside the spine)."""
    breaths: Annotated[int, _between(1, 12)] = 5
    """Slow breaths to pace across the hold (seeds: 4-6)."""
    max_hold_s: Annotated[int, _between(5, 180)] = 120
    """The longest this hold may run, however often the user asks to hold longer."""
    rate: bool = True
    """Ask for a pain rating when the hold ends."""


class MicroStep(_Step):
    kind: Literal["micro"]
    duration_s: Annotated[int, _between(5, 60)] = 15
    """Time for small circles or slow rolling over the spot (seeds: 10-20 s)."""


class ReleaseStep(_Step):
    kind: Literal["release"]
    duration_s: Annotated[int, _between(2, 60)] = 5
    """Time to ease off the pressure."""


class StretchStep(_Step):
    kind: Literal["stretch"]
    stretch_s: Annotated[int, _between(5, 120)]
    """How long to hold the stretch (seeds: 20-30 s)."""


class RestStep(_Step):
    kind: Literal["rest"]
    rest_s: Annotated[int, _between(3, 300)]
    """How long to rest (seeds: about a minute between reps)."""


LeafStep = Union[PositionStep, PressStep, HoldStep, MicroStep, ReleaseStep, StretchStep,
                 RestStep]
"""A step that becomes one timed step of a session."""

Leaf = Annotated[LeafStep, Field(discriminator="kind")]


class RepeatBlock(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["repeat"]
    label: Optional[str] = None
    """Name of the knot or exercise being repeated; used by "skip"."""
    times: Annotated[int, _between(1, 5)]
    """How many rounds (seeds: 2-3 per knot)."""
    rest_s: Annotated[int, _between(0, 300)] = 60
    """Rest between rounds; none after the last."""
    rest_cue: str = "Ease off and rest. Let the area settle."
    """What is said at the start of each rest between rounds."""
    steps: list[Leaf] = Field(min_length=1)
    """The steps of one round."""


class SidesBlock(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["sides"]
    label: Optional[str] = None
    """Name of the exercise done on each side."""
    sides: list[Literal["left", "right"]] = ["left", "right"]
    """The sides, in order; "{side}" in a cue is replaced by the side's name."""
    pause_s: Annotated[int, _between(0, 120)] = 10
    """Pause to switch sides."""
    switch_cue: str = "Switch to your {side} side."
    """What is said when switching sides."""
    steps: list[Annotated[Union[PositionStep, PressStep, HoldStep, MicroStep, ReleaseStep,
                                StretchStep, RestStep, RepeatBlock],
                          Field(discriminator="kind")]] = Field(min_length=1)
    """The steps done on each side."""


AnyBlock = Union[PositionStep, PressStep, HoldStep, MicroStep, ReleaseStep, StretchStep,
                 RestStep, RepeatBlock, SidesBlock]
"""Anything a routine's step list, or a sides block's, may hold."""

Block = Annotated[AnyBlock, Field(discriminator="kind")]


class Routine(BaseModel):
    """One routine file."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[a-z][a-z0-9_-]*$")
    """Identifier used on the command line and in the log, e.g. "neck"."""
    title: str
    """Human title, e.g. "Neck and base of the skull"."""
    aliases: list[str] = Field(min_length=1)
    """What a user may say after "start", e.g. "neck", "neck and shoulders"."""
    areas: list[str] = Field(min_length=1)
    """Body areas the routine works on; ratings are logged against these."""
    tool: Tool
    """What the user presses with."""
    description: str = ""
    """One or two sentences on what the routine is for."""
    safety: list[str] = []
    """Safety notes spoken before the first step."""
    steps: list[Block] = Field(min_length=1)
    """The routine, in order."""

    @field_validator("steps")
    @classmethod
    def _not_too_many(cls, steps: list[AnyBlock]) -> list[AnyBlock]:
        # YAML aliases (*name) let a short file repeat a block many times over; refuse
        # before plan() builds millions of steps (20 million from 1.8 KB took 4.5 GB).
        n = sum(_planned_count(b) for b in steps)
        if n > MAX_PLANNED_STEPS:
            raise ValueError(f"the routine comes to {n} timed steps; at most "
                             f"{MAX_PLANNED_STEPS} are allowed")
        return steps

    def plan(self) -> list["PlannedStep"]:
        """The routine flattened into the timed steps a session walks through."""
        out: list[PlannedStep] = []
        for i, block in enumerate(self.steps):
            _flatten(self, block, f"b{i}", None, None, out)
        for n, p in enumerate(out):
            p.index = n
        return out

    @property
    def duration_s(self) -> int:
        return sum(p.seconds for p in self.plan())


MAX_PLANNED_STEPS = 1000  # the longest shipped routine has 49


def _planned_count(block: AnyBlock) -> int:
    """How many steps plan() makes of a block, without making them (see _flatten)."""
    if isinstance(block, RepeatBlock):
        return block.times * len(block.steps) + (block.times - 1 if block.rest_s else 0)
    if isinstance(block, SidesBlock):
        per_side = sum(_planned_count(s) for s in block.steps)
        return len(block.sides) * per_side + max(0, len(block.sides) - 1)
    return 1


@dataclass
class PlannedStep:
    """One concrete, timed step of a session (a routine step after repeats and sides)."""

    kind: str
    label: str
    cue: str
    seconds: int
    area: str
    block: str
    side: Optional[str] = None
    rep: Optional[str] = None
    """The round, e.g. "2/3", in a repeat block of more than one."""
    breaths: int = 0
    max_s: int = 0
    rate: bool = False
    safety: Optional[str] = None
    index: int = 0

    @property
    def name(self) -> str:
        """The step as logged: label, side and round, e.g. "base of skull (left, 2/3)"."""
        extra = [x for x in (self.side, self.rep) if x]
        return f"{self.label} ({', '.join(extra)})" if extra else self.label


_SECONDS_FIELD = {"position": "duration_s", "press": "duration_s", "micro": "duration_s",
                  "release": "duration_s", "hold": "hold_s", "stretch": "stretch_s",
                  "rest": "rest_s"}


def _leaf(routine: Routine, s: LeafStep, block: str, side: Optional[str],
          rep: Optional[str]) -> PlannedStep:
    def fill(t: str) -> str:
        return t.replace("{side}", side) if side else t

    hold = s if isinstance(s, HoldStep) else None
    return PlannedStep(
        kind=s.kind, label=fill(s.label or s.kind), cue=fill(s.cue),
        seconds=getattr(s, _SECONDS_FIELD[s.kind]), area=s.area or routine.areas[0],
        block=block, side=side, rep=rep, breaths=hold.breaths if hold else 0,
        max_s=max(hold.max_hold_s, hold.hold_s) if hold else 0,
        rate=hold is not None and hold.rate, safety=fill(s.safety) if s.safety else None)


def _flatten(routine: Routine, block: AnyBlock, key: str, side: Optional[str],
             rep: Optional[str], out: list[PlannedStep]) -> None:
    if isinstance(block, RepeatBlock):
        for r in range(block.times):
            label = f"{r + 1}/{block.times}" if block.times > 1 else None
            for leaf in block.steps:
                out.append(_leaf(routine, leaf, key, side, label))
            if r + 1 < block.times and block.rest_s:
                out.append(PlannedStep(kind="rest", label="rest",
                                       cue=block.rest_cue, seconds=block.rest_s,
                                       area=out[-1].area, block=key, side=side, rep=label))
    elif isinstance(block, SidesBlock):
        for n, sd in enumerate(block.sides):
            if n > 0:
                out.append(PlannedStep(kind="rest", label="switch sides",
                                       cue=block.switch_cue.replace("{side}", sd),
                                       seconds=max(block.pause_s, 3), area=out[-1].area,
                                       block=f"{key}.{sd}", side=sd))
            for j, s in enumerate(block.steps):
                _flatten(routine, s, f"{key}.{sd}.{j}" if isinstance(s, RepeatBlock)
                         else f"{key}.{sd}", sd, None, out)
    else:
        out.append(_leaf(routine, block, key, side, rep))
