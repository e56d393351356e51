"""The command grammar as a decoder sees it: every way Whisper may write each phrase
("Pain 6", "pain six", "What's next"), as token sequences, gathered into a token trie.

Built from the Vocabulary's phrase list (one source of truth); which phrases are allowed at
a moment is decided by the caller, this module only renders and looks them up."""

from __future__ import annotations

import itertools
from typing import Callable, Iterable, Iterator, Optional

from companion.core.vocabulary import LEADS, NUMBER_WORDS, SECONDS_WORDS, TRAILS

_DIGIT_OF = {w: str(i) for i, w in enumerate(NUMBER_WORDS)}
_DIGIT_OF.update({w: str(n) for w, n in SECONDS_WORDS.items()})
# Whisper ends a transcript with one of these (or nothing) before end-of-text.
END_MARKS = (".", "?", "!", ",")
# How tiny.en writes a word said with its vowel blurred, where nothing else is written so:
# "stop" as "step" (dev: 4 of 70 Speech Commands "stop"s), "stuff" or "staff" (held out: 4 of
# 21; the Piper voice's "stop" too). Not one of the 541 dev and test recordings of other
# words, noise or talk is written with any of them.
WRITTEN_AS = {"stop": ("step", "stuff", "staff")}


def word_forms(word: str) -> list[str]:
    """How Whisper may spell one grammar word: "six" or "6", "i" as "I", "stop" as "step"."""
    if word == "i":
        return ["I"]
    forms = [word, *WRITTEN_AS.get(word, ())]
    if word in _DIGIT_OF:
        forms.append(_DIGIT_OF[word])
    return forms


def renderings(phrase: str) -> list[str]:
    """A normalized phrase's spellings, each with the leading space Whisper's first token
    carries: lower case and sentence case, number words and digits."""
    out: list[str] = []
    for words in itertools.product(*(word_forms(w) for w in phrase.split())):
        text = " ".join(words)
        for variant in (text[:1].upper() + text[1:], text):
            if " " + variant not in out:
                out.append(" " + variant)
    return out


# What goes before a spelling (" Okay," / " Okay") and after one (", please" / " please").
_BEFORE = [f" {w[:1].upper()}{w[1:]}{sep}" for w in LEADS for sep in (",", "")]
_AFTER = [f"{sep} {w}" for w in TRAILS for sep in (",", "")]


def framed(phrase: str) -> list[str]:
    """Some of the phrase's spellings with a word said before or after it that does not
    change its meaning (vocabulary.LEADS, TRAILS): "Okay, next", "Um pain 6", "Next,
    please" (the trie takes any lead, spelling and trail together)."""
    spellings = renderings(phrase)
    return [b + r for b in _BEFORE for r in spellings] + [r + a for a in _AFTER for r in spellings]


Tokens = tuple[int, ...]


class TokenGrammar:
    """Token sequences for each phrase's spellings, the frames around them, and the tokens
    that end a transcript."""

    def __init__(self, phrases: Iterable[str], encode: Callable[[str], list[int]]) -> None:
        self.sequences: dict[str, list[Tokens]] = {}
        for phrase in phrases:
            self.sequences[phrase] = [tuple(encode(r)) for r in renderings(phrase)]
        # Whisper's tokenizer splits at spaces and marks before it merges, so a framed
        # spelling's tokens are the frame's followed by the spelling's (or the other way
        # round): the trie walks the frames around the plain spellings instead of holding
        # every framed one (tens of thousands of prefixes per moment, 15 MB in all).
        self.before = [tuple(encode(b)) for b in _BEFORE]
        self.after = [tuple(encode(a)) for a in _AFTER]
        self.end_tokens = frozenset(t for m in END_MARKS for t in encode(m))

    def trie(self, phrases: Iterable[str]) -> "Trie":
        """A token trie over every rendering of these phrases, framed or not."""
        t = Trie(self.before, self.after)
        for p in sorted(phrases):
            for seq in self.sequences.get(p, ()):
                t.add(seq, p)
        return t


class _Frames:
    """The token sequences of the words said around a phrase, as prefix -> next tokens."""

    def __init__(self, seqs: Iterable[Tokens]) -> None:
        self.next: dict[Tokens, set[int]] = {}
        self.whole: set[Tokens] = set()
        for seq in seqs:
            for i, tok in enumerate(seq):
                self.next.setdefault(seq[:i], set()).add(tok)
            self.whole.add(seq)
        self.lengths = sorted({len(s) for s in self.whole})


class Trie:
    """Token prefix -> the tokens that may follow it, and the phrase a complete prefix
    spells. The plain spellings are a prefix trie (flat dicts); one lead before a spelling
    and one trail after it (TokenGrammar.before / after) are walked around it. The search
    asks only next_tokens() and phrase_at()."""

    def __init__(self, before: Iterable[Tokens] = (), after: Iterable[Tokens] = ()) -> None:
        self.children: dict[Tokens, set[int]] = {(): set()}
        self.phrase: dict[Tokens, str] = {}   # plain spellings only; phrase_at() frames
        self.phrases: set[str] = set()
        self.first: dict[str, Tokens] = {}  # phrase -> its first spelling
        self.depth = 0  # the longest plain spelling's tokens
        self._before, self._after = _Frames(before), _Frames(after)

    def sequence(self, phrase: str) -> Tokens:
        """The phrase's first spelling (sentence case)."""
        return self.first[phrase]

    def add(self, seq: Tokens, phrase: str) -> None:
        for i, tok in enumerate(seq):
            self.children.setdefault(seq[:i], set()).add(tok)
            self.children.setdefault(seq[:i + 1], set())
        self.phrase.setdefault(seq, phrase)
        self.first.setdefault(phrase, seq)
        self.phrases.add(phrase)
        self.depth = max(self.depth, len(seq))

    def _rests(self, prefix: Tokens) -> Iterator[Tokens]:
        """The prefix itself, and what follows each whole lead it begins with."""
        yield prefix
        for n in self._before.lengths:
            if n <= len(prefix) and prefix[:n] in self._before.whole:
                yield prefix[n:]

    def _trailed(self, rest: Tokens) -> Iterator[tuple[Tokens, Tokens]]:
        """(spelling, start of a trail) splits of rest whose spelling is complete."""
        for k in range(1, min(len(rest), self._after.lengths[-1] if self._after.lengths
                                else 0) + 1):
            if rest[:-k] in self.phrase:
                yield rest[:-k], rest[-k:]

    def next_tokens(self, prefix: Tokens) -> set[int]:
        """The tokens that may follow the prefix."""
        out = set(self._before.next.get(prefix, ()))
        for rest in self._rests(prefix):
            out.update(self.children.get(rest, ()))
            if rest in self.phrase:
                out.update(self._after.next.get((), ()))
            for _, trail in self._trailed(rest):
                out.update(self._after.next.get(trail, ()))
        return out

    def phrase_at(self, prefix: Tokens) -> Optional[str]:
        """The phrase the prefix spells whole (with its frame), or None."""
        for rest in self._rests(prefix):
            if rest in self.phrase:
                return self.phrase[rest]
            for spelled, trail in self._trailed(rest):
                if trail in self._after.whole:
                    return self.phrase[spelled]
        return None
