"""The command grammar as a decoder sees it: every way Whisper may write each phrase
("Pain 6", "pain six", "What's next"), as token sequences, gathered into a token trie.

Built from the Vocabulary's phrase list (one source of truth); which phrases are allowed at
a moment is decided by the caller, this module only renders and looks them up."""

from __future__ import annotations

import itertools
from typing import Callable, Collection, Iterable

from companion.core.vocabulary import LEADS, NUMBER_WORDS, SECONDS_WORDS, TRAILS

_DIGIT_OF = {w: str(i) for i, w in enumerate(NUMBER_WORDS)}
_DIGIT_OF.update({w: str(n) for w, n in SECONDS_WORDS.items()})
# Whisper ends a transcript with one of these (or nothing) before end-of-text.
END_MARKS = (".", "?", "!", ",")


def word_forms(word: str) -> list[str]:
    """How Whisper may spell one grammar word: "six" or "6", "i" as "I"."""
    if word == "i":
        return ["I"]
    forms = [word]
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


def _lower(spellings: list[str]) -> list[str]:
    """The spellings that can follow a lead word: not sentence case ("next", "6", "I...")."""
    return [r for r in spellings if not r[1:2].isupper() or r[1:] == r[1:].upper()]


def framed(phrase: str) -> list[str]:
    """The phrase with a word said before or after it that does not change its meaning
    (vocabulary.LEADS, TRAILS): "Okay, next", "Um pain 6", "Next, please"."""
    spellings = renderings(phrase)
    return ([b + r for b in _BEFORE for r in _lower(spellings)]
            + [r + a for a in _AFTER for r in spellings])


class TokenGrammar:
    """Token sequences for each phrase's spellings, and the tokens that end a transcript."""

    def __init__(self, phrases: Iterable[str], encode: Callable[[str], list[int]]) -> None:
        self.sequences: dict[str, list[tuple[int, ...]]] = {}
        self.framed: dict[str, list[tuple[int, ...]]] = {}
        # Whisper's tokenizer splits at spaces and marks before it merges, so a framed
        # spelling's tokens are the frame's followed by the spelling's (or the other way
        # round): tens of thousands of encode() calls become a few dozen.
        before = [tuple(encode(b)) for b in _BEFORE]
        after = [tuple(encode(a)) for a in _AFTER]
        for phrase in phrases:
            spellings = renderings(phrase)
            tokens = {r: tuple(encode(r)) for r in spellings}
            self.sequences[phrase] = [tokens[r] for r in spellings]
            self.framed[phrase] = ([b + tokens[r] for b in before for r in _lower(spellings)]
                                   + [tokens[r] + a for a in after for r in spellings])
        self.end_tokens = frozenset(t for m in END_MARKS for t in encode(m))

    def trie(self, phrases: Iterable[str]) -> "Trie":
        """A token trie over every rendering of these phrases."""
        t = Trie()
        for p in sorted(phrases):
            for seq in self.sequences.get(p, ()):
                t.add(seq, p)
            for seq in self.framed.get(p, ()):
                t.add(seq, p, framed=True)
        t.freeze()
        return t


class Trie:
    """Prefix (tuple of tokens) -> the tokens that may follow it, and the phrase a complete
    prefix spells. Flat dicts: the search asks only these two questions."""

    def __init__(self) -> None:
        self.children: dict[tuple[int, ...], Collection[int]] = {(): set()}
        self.phrase: dict[tuple[int, ...], str] = {}
        self.phrases: set[str] = set()
        self.first: dict[str, tuple[int, ...]] = {}  # phrase -> its first spelling
        self.depth = 0  # the longest spelling's tokens, not counting framing words

    def sequence(self, phrase: str) -> tuple[int, ...]:
        """The phrase's first spelling (sentence case)."""
        return self.first[phrase]

    def add(self, seq: tuple[int, ...], phrase: str, framed: bool = False) -> None:
        for i, tok in enumerate(seq):
            kids = self.children.setdefault(seq[:i], set())
            assert isinstance(kids, set), "add() after freeze()"
            kids.add(tok)
            self.children.setdefault(seq[:i + 1], set())
        self.phrase.setdefault(seq, phrase)
        self.first.setdefault(phrase, seq)
        self.phrases.add(phrase)
        if not framed:
            self.depth = max(self.depth, len(seq))

    def freeze(self) -> None:
        """Done adding: each prefix's next tokens as a tuple (a set costs four times the
        memory, and the framed spellings make tens of thousands of prefixes)."""
        self.children = {k: tuple(sorted(v)) for k, v in self.children.items()}
