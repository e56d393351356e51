"""How alike two texts sound: their phonemes as espeak-ng gives them (the speech package the
companion already installs to talk) and the edits between them. tiny.en sometimes writes a
command's sound as other words ("That's um..." for that's numb, "Top Session", "file" for
five); spelled out as sounds, word for word, each word lies a sound from the phrase's. Talk
that only rhymes with a phrase ("it's going well", "maybe not") is further in some word.
The citation form of each word is used on both sides, so connected speech does not matter."""

from __future__ import annotations

import re
import shutil
import subprocess
from functools import lru_cache
from typing import NamedTuple

from companion.core.vocabulary import normalize

# Stress marks, word and clause breaks: "alike" is about the sounds, not where words part.
_NOT_A_SOUND = re.compile(r"[ˈˌ\s_\-]")


@lru_cache(maxsize=1)
def _espeak() -> str:
    return shutil.which("espeak-ng") or ""


# word -> its sounds. Words recur (the phrases', and the transcripts' "you", "please"), so
# espeak-ng runs once per new word, not once per utterance (about 20 ms a run here).
_KNOWN: dict[str, tuple[str, ...]] = {}


def word_sounds(text: str) -> tuple[tuple[str, ...], ...]:
    """The sounds of each word of `text` (normalized: digits as words), each said on its own
    (IPA, a length mark kept with its vowel: in a sentence espeak-ng joins "out of" into one
    word); () when there is no text, no espeak-ng, or its answer does not match the words:
    then nothing is ever judged alike."""
    words = normalize(text).split()
    new = sorted({w for w in words if w not in _KNOWN})
    if not words or (new and not _spell(new)):
        return ()
    return tuple(_KNOWN[w] for w in words)


def _spell(words: list[str]) -> bool:
    """Ask espeak-ng for the sounds of `words`, each its own clause (one line each)."""
    exe = _espeak()
    if not exe:
        return False
    try:  # on stdin: a transcript may begin with "-", which espeak-ng would take as a flag
        out = subprocess.run([exe, "-q", "--ipa", "-v", "en"], input=", ".join(words),
                             text=True, capture_output=True, timeout=5, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    lines = [_split(line) for line in out.splitlines() if line.strip()]
    if len(lines) != len(words) or not all(lines):
        return False
    if len(_KNOWN) > 4096:  # a companion that runs for weeks hears many words once
        _KNOWN.clear()
    _KNOWN.update(zip(words, lines))
    return True


def forget() -> None:
    """Drop every word's sounds (they are asked for again when next needed)."""
    _KNOWN.clear()


def _split(ipa: str) -> tuple[str, ...]:
    sounds: list[str] = []
    for ch in _NOT_A_SOUND.sub("", ipa):
        if ch == "ː" and sounds:
            sounds[-1] += ch
        else:
            sounds.append(ch)
    return tuple(sounds)


def edits(a: tuple[str, ...], b: tuple[str, ...]) -> int:
    """Levenshtein distance: sounds put in, left out or changed."""
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


class Alike(NamedTuple):
    """How far a transcript sounds from a phrase of as many words."""

    distance: float  # edits over all their sounds, per sound of the longer: 0 alike, 1 apart
    word_edits: int  # the most edits any one word needs to become its counterpart


APART = Alike(1.0, 99)


def alike(said: str, phrase: str) -> Alike:
    """`said` against `phrase`, word for word; APART when their words are not as many, or
    either has no sounds (or espeak-ng is missing)."""
    a, b = word_sounds(said), word_sounds(phrase)
    if not a or len(a) != len(b):
        return APART
    flat_a, flat_b = sum(a, ()), sum(b, ())
    return Alike(edits(flat_a, flat_b) / max(len(flat_a), len(flat_b)),
                 max(edits(x, y) for x, y in zip(a, b)))
