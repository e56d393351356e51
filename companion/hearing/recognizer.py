"""The one small interface both recognizers share: audio in, utterances out.

A recognizer is built from the command vocabulary's phrase list and knows nothing of
routines or intents: it says which grammar phrase it heard, if any, and how sure it is.
Rejected speech (out of grammar, noise) comes back with empty text, never a guess."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Callable, Collection, Iterable, Iterator, Optional

from companion.hearing.endpoint import Endpointer
from companion.core.interfaces import Frame, Utterance
from companion.core.vocabulary import Vocabulary


@dataclass(frozen=True)
class Hearing:
    """What a recognizer made of one stretch of audio."""

    text: str          # a grammar phrase, or "" when rejected
    confidence: float  # 0..1; for rejected audio, how close it came
    raw: str = ""      # the engine's best guess before rejection (for diagnosis only)
    best: str = ""     # the grammar phrase it ranked first, accepted or not ("": none);
    # the benchmark tells the model's hearing from the rejection rules by it
    # A rating the model did not write (its own transcript has no number: "on" heard as
    # "one"), taken because a number had just been asked for: the loop asks it back.
    unsure: bool = False


class Recognizer(ABC):
    """Base for the engines. Subclasses implement decode(); utterances() is the streaming
    loop the live session uses: `for utt in rec.utterances(source.frames()): ...`."""

    engine: str = "?"

    def __init__(self, vocabulary: Vocabulary) -> None:
        self.vocabulary = vocabulary
        # Grammar words the engine's model cannot say; phrases using them are left out.
        self.missing_words: list[str] = []
        # Why the user's taught voice (`companion enroll`), or the one learned in use, is
        # not used ("": none, or used).
        self.voice_note = ""

    def usable_phrases(self, known: "set[str] | None" = None,
                       lookup=None) -> list[str]:
        """The vocabulary's phrases whose words the model knows (by set or lookup
        function); records the missing words so they can be named to the user."""
        def has(w: str) -> bool:
            return (w in known) if known is not None else bool(lookup(w))

        missing = sorted(w for w in self.vocabulary.words() if not has(w))
        self.missing_words = missing
        bad = set(missing)
        return [p for p in self.vocabulary.grammar_phrases() if not bad & set(p.split())]

    @abstractmethod
    def decode(self, pcm: bytes, allowed: Optional[Collection[str]] = None) -> Hearing:
        """Recognize one complete utterance of 16 kHz mono int16 audio as one of the
        allowed phrases (None: any phrase of the vocabulary)."""

    def acted_on(self, utt: Utterance) -> None:
        """The loop acted on `utt`, the utterance this recognizer last yielded: an engine
        may learn the user's voice from it (Whisper does; the others learn nothing)."""

    def misheard(self, utt: Utterance) -> None:
        """The loop acted on `utt` (acted_on) and the user then put it right: an engine that
        learned from it forgets that (Whisper does)."""

    def utterances(self, frames: Iterable[Frame], endpointer: Optional[Endpointer] = None,
                   include_rejected: bool = False,
                   expect: Optional[Callable[[], Optional[Collection[str]]]] = None
                   ) -> Iterator[Utterance]:
        """Endpoint the frames and decode each utterance as soon as it has ended, against
        the phrases expect() names at that moment (the loop knows what makes sense now).
        Rejected utterances are skipped unless include_rejected (diagnosis, benchmark)."""
        ep = endpointer or Endpointer()
        for seg in ep.segments(frames):
            h = self.decode(seg.pcm, expect() if expect else None)
            if h.text or include_rejected:
                yield Utterance(h.text, h.confidence, seg.start, seg.end, h.raw, h.best,
                                h.unsure)

    def close(self) -> None:
        """Free engine resources (optional)."""
