"""Telling the companion's own voice from the user's.

Over a cue, only barge-in words ("stop", "pause", the safety words) are acted on. But the
cues say those words too ("if anything turns sharp, numb or tingling, say so and we stop"),
and a microphone a metre from the speaker hears them: measured on the virtual sound card
with the speaker looped into the microphone, the safety note's own "tingling" stopped the
first hold. So a barge-in word heard while the companion was saying that very word, at
about that moment, is taken as its echo, not as the user.

Where in a cue a word falls is estimated from its place in the text (espeak-ng speaks at
a steady rate); ECHO_SLACK_S covers pauses at commas, rate differences and device latency.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from companion.core.vocabulary import normalize
from companion.hearing.grammar import WRITTEN_AS

ECHO_SLACK_S = 0.6
# Words of barge-in phrases too common to tell anything ("hold on", "it's numb").
_TOO_COMMON = frozenset({"on", "it's", "that's", "and", "is", "end", "pain"})


@dataclass(frozen=True)
class Said:
    """One cue as the loop scheduled it, in audio time."""

    words: tuple[tuple[str, float], ...]  # each word and its share of the way through
    start: float
    seconds: float
    end: float   # start + seconds, or earlier if cut short


def _words(text: str) -> tuple[tuple[str, float], ...]:
    norm = normalize(text)
    out, pos = [], 0
    for w in norm.split():
        i = norm.index(w, pos)
        pos = i + len(w)
        out.append((w, (i + len(w) / 2) / max(1, len(norm))))
    return tuple(out)


class OwnVoice:
    """The recent cues, to recognise their echo."""

    def __init__(self, keep: int = 32) -> None:
        self._said: deque[Said] = deque(maxlen=keep)

    def said(self, text: str, start: float, seconds: float) -> None:
        self._said.append(Said(_words(text), start, seconds, start + seconds))

    def cut(self, at: float) -> None:
        """Speech stopped at `at` (barge-in): what was not yet said was never heard."""
        kept = [s for s in self._said if s.start < at]
        self._said.clear()
        for s in kept:
            self._said.append(Said(s.words, s.start, s.seconds, min(s.end, at)))

    def delay(self, by: float, now: float) -> None:
        """The device plays `by` seconds behind the schedule: the cues still to be heard
        after `now` are heard that much later."""
        for i, s in enumerate(self._said):
            if s.end > now:
                self._said[i] = Said(s.words, s.start + by, s.seconds, s.end + by)

    def is_echo(self, text: str, start: float, end: float) -> bool:
        """True if a telling word of `text` was being said by us between start and end. A
        word counts as said in each way the recognizer may write it (grammar.WRITTEN_AS):
        our "This is the last step." can come back as "stop"."""
        mine = {f for w in normalize(text).split() if w not in _TOO_COMMON
                for f in (w, *WRITTEN_AS.get(w, ()))}
        for s in self._said:
            if s.end < start - ECHO_SLACK_S or s.start > end + ECHO_SLACK_S:
                continue
            for w, share in s.words:
                t = s.start + share * s.seconds
                if w in mine and t <= s.end and \
                        start - ECHO_SLACK_S <= t <= end + ECHO_SLACK_S:
                    return True
        return False
