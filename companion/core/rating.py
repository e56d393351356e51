"""The pain ratings of one session, apart from the steps they rate: when a hold is worth
asking about, which hold a bare number would rate now, which rating one said soon after
another puts right, and a rating asked back ("Was that one?") until a yes or a no. Pure: the
session passes in the times."""

from __future__ import annotations

from typing import Optional

from companion.core import cues
from companion.core.events import Cue, Event, PainLogged, RatingAsked
from companion.core.routines import PlannedStep

MIN_RATED_HOLD_S = 5.0    # a hold cut shorter than this is not worth a rating prompt
# A rating said this soon after another, unasked ("Four, noted." - "pain six"), replaces it
# (even once the next step has begun, unless the user moved on: "next", "back", "skip"):
# the first was misheard, and the log keeps what the user meant. Nothing more is listened
# for meanwhile: a bare number or a "no" there would let talk in the room ("on" heard as
# "one") overwrite a rating (dev negatives: 79 of 361 accepted so).
CORRECT_WITHIN_S = 15.0
# A bare number answers "how is the pain now?" for this long after it was asked (the
# session clock stands still while the next step's instructions are said, so this counts
# from their end). It stayed open until the next hold was rated, minutes of talk and room
# noise in which "on" is "one": `bench soak --during rating` took 95 numbers from 2 hours
# of room audio. "pain six" is listened for all the time and rates that hold as before.
RATE_OPEN_S = 60.0


class Ratings:
    """What one session was told about the pain, and what it asked."""

    def __init__(self) -> None:
        self.count = 0                              # ratings given (corrections not counted)
        self._asked: Optional[PlannedStep] = None   # the hold a bare number would rate
        self._asked_at = 0.0                        # ... asked about then
        self._last: Optional[tuple[float, PlannedStep, int]] = None  # (when, hold, value)
        self._doubt: Optional[tuple[float, int]] = None  # a rating asked back: (when, value)

    def ask(self, hold: PlannedStep, reason: str, ran: float, at: float) -> list[Event]:
        """A step ended for `reason` after `ran` seconds: ask how the pain is if it was a
        rated hold that ran its course (or was moved on from) long enough to feel."""
        if not (hold.kind == "hold" and hold.rate and reason in ("done", "next")
                and ran >= MIN_RATED_HOLD_S):
            return []
        self._asked, self._asked_at, self._last, self._doubt = hold, at, None, None
        return [RatingAsked(at, hold.index, hold.name, hold.area), Cue(at, cues.RATE, "rating")]

    def open(self, now: float) -> Optional[PlannedStep]:
        """The hold a bare number would rate now: asked about less than RATE_OPEN_S ago."""
        if self._asked is not None and now - self._asked_at <= RATE_OPEN_S:
            return self._asked
        return None

    def close(self) -> None:
        """Nothing asked waits for a number any more (a safety stop, the session's end)."""
        self._asked = self._doubt = None

    def moved_on(self) -> None:
        """The user moved to another step: a rating now is of where they are, not a
        correction of the last, and one asked back is let go."""
        self._last = self._doubt = None

    def ask_back(self, value: int, now: float) -> list[Event]:
        """A rating heard only because one was asked for (the model wrote no number): asked
        back, and logged on a yes (take_doubted) or when said again."""
        self._reopen(now)
        self._doubt = (now, value)
        return [Cue(now, cues.ask_back(value), "rating")]

    def doubted(self, now: float) -> Optional[int]:
        """The rating asked back, while a yes or a no answers it (CORRECT_WITHIN_S)."""
        if self._doubt is not None and now - self._doubt[0] <= CORRECT_WITHIN_S:
            return self._doubt[1]
        return None

    def take_doubted(self, current: PlannedStep, now: float) -> list[Event]:
        """A yes to the rating asked back: it is logged."""
        value = self.doubted(now)
        return [] if value is None else self.take(value, current, now)

    def refuse_doubted(self, now: float) -> list[Event]:
        """A no to the rating asked back: let go, and the number asked for again."""
        self._doubt = None
        self._reopen(now)
        return [Cue(now, cues.ASKED_BACK_NO, "rating")]

    def _reopen(self, now: float) -> None:
        """The question is asked anew: a bare number answers it for RATE_OPEN_S from now."""
        if self._asked is not None:
            self._asked_at = now

    def take(self, value: int, current: PlannedStep, now: float) -> list[Event]:
        """A rating said: of the hold asked about, else of the current step; or, said within
        CORRECT_WITHIN_S of the last, in its place."""
        last = self._last if self._last is not None and now - self._last[0] <= CORRECT_WITHIN_S \
            else None
        s = last[1] if last is not None else self._asked or current
        self._asked, self._last, self._doubt = None, (now, s, value), None
        if last is not None:
            return [PainLogged(now, value, s.index, s.name, s.area, corrects=last[2]),
                    Cue(now, cues.corrected(value), "confirm")]
        self.count += 1
        out: list[Event] = [PainLogged(now, value, s.index, s.name, s.area),
                            Cue(now, cues.confirm(value), "confirm")]
        if value >= 8:
            out.append(Cue(now, cues.HIGH_PAIN, "advice"))
        return out
