"""A session of a routine worked out ahead, on a manual clock: how long it stands still for
its instructions, and every line it will say. The cue cache renders those lines before
anyone waits; a routine's spoken length is what `companion routines` tells."""

from __future__ import annotations

from typing import Callable, Optional

from companion.core import cues
from companion.core.clock import ManualClock
from companion.core.events import Cue
from companion.core.engine import Session
from companion.core.routines import Routine


def instruction_seconds(routine: Routine,
                        speech_s: Callable[[str], float] = cues.speaking_seconds) -> float:
    """How long a spoken session stands still for its instructions, beyond duration_s:
    the intro, the safety notes and each step's cue, speech_s(text) seconds each."""
    return Session(routine, ManualClock(), speech_s=speech_s).spoken_s


def spoken_lines(routine: Routine, speech_s: Optional[Callable[[str], float]] = None
                 ) -> list[str]:
    """Every line a session of this routine says when left to run: the intro, safety notes,
    each step's cue, breaths, countdowns, rating questions, the ending. Rehearsed on a
    manual clock in milliseconds."""
    clock = ManualClock()
    session = Session(routine, clock, speech_s=speech_s)
    events = session.start()
    while not session.ended:
        clock.advance(1.0)
        events += session.tick()
    return list(dict.fromkeys(e.text for e in events if isinstance(e, Cue)))
