"""The user's voice as the Whisper recognizer knows it: the takes taught by `companion
enroll` and those learned from what the loop acted on, matched as one voice against what is
heard (templates.py). It is given the word's encoder frames and the model's verdict (and a
way to ask the model again, shown the nearest takes first), and knows nothing of the model
itself. The learned takes' sound lives in memory only, never written; their frames are kept
between runs (learned_file.py)."""

from __future__ import annotations

from collections import deque
from typing import Any, Callable, Collection, Optional, Sequence

import numpy as np

from companion.core.interfaces import Utterance
from companion.core.vocabulary import RATING_INTENTS, IntentKind
from companion.hearing.recognizer import Hearing
from companion.hearing.templates import Match, VoiceTemplates
from companion.hearing.whisper_rules import Decoded, WhisperOptions, taught_verdict
from companion.hearing.whisper_runtime import FRAME_SAMPLES
from companion.hearing import mel


def _name(meaning: object) -> object:
    return getattr(meaning, "name", None)


def _key(utt: Utterance) -> tuple[str, float, float]:
    return utt.text, utt.start, utt.end


# The model asked again with takes shown first: (phrase, sound) examples, nearest last, and
# the phrases to rank; it returns the one ranked first.
Shown = Callable[[Sequence[tuple[str, bytes]], Sequence[str]], str]
VOICE_ONLY = 2  # takes of other phrases shown when not every phrase ranked has one


class UserVoice:
    def __init__(self, model: str, meaning: Callable[[str], object]) -> None:
        self.taught: Optional[VoiceTemplates] = None  # `companion enroll`'s, if any
        self.learned = VoiceTemplates(model)           # from what the loop acted on
        self._meaning = meaning
        self._joined: tuple[Any, ...] = (None, -1, None, -1, None)
        # The last phrase accepted, its frames and its sound; and the last one asked back
        # (Hearing.unsure), which the loop acts on only once the user confirms it.
        self._last: Optional[tuple[str, np.ndarray, Optional[bytes]]] = None
        self._doubted: Optional[tuple[str, np.ndarray, Optional[bytes]]] = None
        # The takes learned last, by the utterance they came from: one the user then put
        # right (unlearn) goes again. A few: a correction comes within seconds.
        self._from: deque[tuple[tuple[str, float, float], str, np.ndarray]] = deque(maxlen=8)

    def takes(self) -> Optional[VoiceTemplates]:
        """Taught and learned takes as one voice (None: there are none)."""
        taught, learned = self.taught, self.learned
        # Both may change in place: a lesson given by voice adds to the taught voice.
        key = (taught, taught.version if taught else -1, learned, learned.version)
        if self._joined[:4] != key:  # (templates compare by identity)
            both = taught.joined(learned) if taught and learned else None
            self._joined = key + (both or taught or learned or None,)
        return self._joined[4]

    def accepted(self, phrase: str, frames: Optional[np.ndarray],
                 sound: Optional[bytes] = None, unsure: bool = False) -> None:
        """The recognizer's verdict on its last segment ("": rejected), the word's frames
        and the segment's sound: what learn() learns from if the loop acts on it. One to be
        asked back (unsure) is kept apart until the user confirms it."""
        last = (phrase, frames, sound) if phrase and frames is not None else None
        if unsure:
            self._doubted, self._last = last, None
        else:
            self._last = last

    def learn(self, utt: Utterance, o: WhisperOptions) -> None:
        """The loop acted on the phrase last accepted (or, utt.unsure, on the one asked back,
        now confirmed): its frames become a take of it (the newest o.learn_keep of each
        phrase are kept), if sure and short enough, and not a safety word. The model takes
        those on its widest margin, so they are the likeliest of its acceptances to be
        something else, and a take of one then stops the same voice's holds (dev `--learn`:
        once an espeak-ng voice's "it's sharp" was learned, all 4 of its renders of
        "shorter" were heard as it, 1 without). A taught safety word stays a take."""
        if utt.unsure:
            last, self._doubted = self._doubted, None
        else:
            last, self._last = self._last, None
        if not self.learnable(utt.text):
            return
        if (o.learn_keep and last is not None and last[0] == utt.text
                and utt.confidence >= o.learn_confidence
                and len(last[1]) * FRAME_SAMPLES <= o.learn_max_s * mel.RATE):
            if self.learned.add(last[0], last[1], keep=o.learn_keep, sound=last[2]):
                self._from.append((_key(utt), last[0], self.learned.takes[last[0]][-1]))

    def learnable(self, phrase: str) -> bool:
        """Whether takes of `phrase` are learned (learn): a safety word's are not. A learned
        voice kept from before this rule is read without them (engines.make_recognizer)."""
        return _name(self._meaning(phrase)) != IntentKind.SAFETY

    def unlearn(self, utt: Utterance) -> bool:
        """The loop acted on `utt`, and the user then put it right (a rating said again, a
        yes taken back by a no): it was misheard, so the take learned from it, if still
        kept, goes."""
        for key, phrase, take in self._from:
            if key == _key(utt):
                return self.learned.drop(phrase, take)
        return False

    def _says_more(self, best: str, phrase: str) -> bool:
        """Whether the model's phrase is the take's phrase and more, of the same command
        ("hold longer by thirty seconds" over a take of "hold longer"): a take learned from
        the short phrase, or from the long one heard short, would cut every long one short."""
        return (best.startswith(phrase + " ")
                and _name(self._meaning(best)) == _name(self._meaning(phrase)) is not None)

    def judge(self, frames: np.ndarray, allowed: Collection[str], d: Decoded,
              o: WhisperOptions, shown: Optional[Shown] = None) -> Optional[Hearing]:
        """The phrase the takes say a segment is, when they say it clearly enough; a
        rejection (Hearing with no text) when the model, shown the nearest takes first
        (`shown`), no longer ranks its own pick first; None (the model's verdict stands): no
        takes, none of an allowed phrase, or not near enough. `d`: the model's decode
        (agreeing with it lowers the bar)."""
        voice = self.takes()
        m = voice.match(frames, allowed, self._meaning) if voice else None
        if m is None or voice is None:
            return None
        if self._says_more(d.best, m.phrase):
            return None  # the model heard more than the take holds: its ranking stands
        top = self._asked_again(m, d, shown) if shown and o.show_takes else None
        agrees = self._meaning(top or d.best) == self._meaning(m.phrase) and bool(top or d.best)
        ok, conf = taught_verdict(m.distance, m.runner_up, agrees, o)
        if ok:
            return Hearing(m.phrase, conf, d.free_text, d.best)
        if top is not None and d.best and not self._same(top, d.best):
            # Shown how this user says the words, the model no longer stands by its pick.
            return Hearing("", 0.0, d.free_text, d.best)
        return None

    def _asked_again(self, m: Match, d: Decoded, shown: Shown) -> Optional[str]:
        """The phrase the model ranks first among the nearest taught phrase, the nearest of
        another meaning and its own pick, when shown the user's takes first (the nearest
        next to what is heard): a take of each of them where each has one with its sound,
        else the takes of the two phrases nearest besides them. A phrase shown is favoured
        by being shown (a voice's "how long left" beat the model's "hold longer" it had no
        take of), so either all are shown or none is: the voice alone (dev `--learn`, to
        showing nothing then: 936 -> 938 right, wrong commands 7 -> 5, negatives taken for
        a rating after the question 59 -> 50; test the same). None: nothing to rank, or too
        few takes with their sound."""
        phrases = list(dict.fromkeys(p for p in (m.phrase, m.rival, d.best) if p))
        heard = m.audible  # each phrase's nearest take that carries its sound
        show = phrases if all(p in heard for p in phrases) else sorted(
            (p for p in heard if p not in phrases), key=lambda p: heard[p][0])[:VOICE_ONLY]
        if len(phrases) < 2 or len(show) < min(len(phrases), VOICE_ONLY):
            return None
        nearest_last = sorted(show, key=lambda p: -heard[p][0])
        return shown([(p, heard[p][1]) for p in nearest_last], phrases)

    def _same(self, a: str, b: str) -> bool:
        """Two phrases that do the same: one meaning, or one command but for how much ("hold
        longer" and "hold longer by thirty seconds"); a rating's number is its meaning."""
        x, y = self._meaning(a), self._meaning(b)
        return x == y or (_name(x) == _name(y) is not None and _name(x) not in RATING_INTENTS)
