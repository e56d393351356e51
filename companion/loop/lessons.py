"""The voice lesson as the running companion gives it ("teach me the numbers"): offered with
a question first, begun on a yes, given on the microphone's own frames, and suggested after
a session whose ratings were missed. The voice loop owns the microphone and the clock; this
holds what a lesson asked for by voice needs on top of them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator, Optional

from companion.core import cues
from companion.core.interfaces import Frame
from companion.core.vocabulary import Intent, IntentKind
from companion.loop.enroll import Teach

# A lesson ends when nobody has answered its prompt for this long (hands-free, the user
# cannot press a key to stop it; a word would be taken as a take of the phrase).
LESSON_QUIET_S = 30.0
# How long the offer's question waits for a yes, from when it has been said.
OFFER_S = 20.0
# Ratings asked for again in one session (an answer not made out) before the companion
# suggests the numbers lesson at its end; once per run, so it does not nag.
SUGGEST_AFTER = 2


@dataclass
class Offer:
    """A lesson asked for and not yet begun."""

    what: str            # the lesson asked for: a group of enroll.groups, or "all"
    until: float         # audio time the question stops waiting
    asked_again: bool = False  # asked once more after speech not made out (only once)


class Lessons:
    """`say(text, kind)` speaks and returns its seconds; `now()` is the audio clock;
    `said_by()` the audio time what is queued will have been said by; `starts_at()` the
    audio time a prompt said now starts at (the microphone's backlog on top of now)."""

    def __init__(self, teach: Optional[Teach], say: Callable[[str, str], float],
                 now: Callable[[], float], said_by: Callable[[], float],
                 starts_at: Callable[[], float]) -> None:
        self.teach = teach  # enroll.voice_lesson; None: no lesson here (not Whisper)
        self._say, self._now, self._said_by, self._starts_at = say, now, said_by, starts_at
        self._offer: Optional[Offer] = None
        self._suggested = False
        self._ratings_missed = 0  # in this session: asked again for want of a number

    @property
    def available(self) -> bool:
        return self.teach is not None

    def offered(self) -> Optional[Offer]:
        """The offer still waiting for its answer, if any."""
        if self._offer is not None and self._now() > self._offer.until:
            self._offer = None
        return self._offer

    def offer(self, what: str) -> None:
        """Asked for a lesson: say what it is and ask whether to begin."""
        if self.teach is None:
            self._say(cues.CANNOT_TEACH, "info")
            return
        self._say(cues.LESSON_OFFERS.get(what, cues.LESSON_OFFERS["all"]), "lesson")
        self._offer = Offer(what, self._said_by() + OFFER_S)

    def answer(self, intent: Intent, frames: Optional[Iterator[Frame]]) -> bool:
        """Any command closes an open offer; a yes begins the lesson on `frames`. True when
        the intent was the offer's answer."""
        offer, self._offer = self.offered(), None
        if offer is None or intent.name != IntentKind.YES:
            return False
        self.give(offer.what, frames)
        return True

    def not_understood(self) -> None:
        """Speech not made out while the offer waits: ask once more."""
        offer = self.offered()
        if offer is not None and not offer.asked_again:
            offer.asked_again = True
            self._say(cues.LESSON_ASK_AGAIN, "lesson")
            offer.until = self._said_by() + OFFER_S

    def give(self, what: str, frames: Optional[Iterator[Frame]]) -> None:
        """The lesson, here and now: the microphone's frames go to it, not to the recognizer
        (a take of "stop" is not a command), until it has asked for everything or nobody
        has answered for LESSON_QUIET_S."""
        if self.teach is None or frames is None:
            self._say(cues.CANNOT_TEACH, "info")
            return
        mic = frames

        def until_quiet() -> Iterator[Frame]:
            for f in mic:
                yield f
                if f.end > self._said_by() + LESSON_QUIET_S:
                    return

        self._say(cues.LESSON_START, "lesson")
        lesson = self.teach(what, until_quiet(), lambda text: self._say(text, "lesson"),
                            self._starts_at)
        if not lesson.finished:
            self._say(cues.LESSON_STOPPED if lesson.taught else cues.LESSON_NOTHING, "info")

    def session_started(self) -> None:
        self._ratings_missed = 0

    def rating_missed(self) -> None:
        """A rating was asked for again: the answer was not made out."""
        self._ratings_missed += 1

    def session_ended(self) -> None:
        """After a session's closing words: suggest the numbers lesson when ratings had to
        be asked for again (SUGGEST_AFTER) in it, once per run."""
        if (self._ratings_missed >= SUGGEST_AFTER and self.teach is not None
                and not self._suggested):
            self._suggested = True
            self._say(cues.SUGGEST_LESSON, "advice")
