"""How alike two texts sound: their phonemes as espeak-ng gives them (the speech package the
companion already installs to talk) and the edits between them. tiny.en sometimes writes a
command's sound as other words ("Gold longer", "That's um...", "Top session", "file" for
five); spelled out as sounds, those lie a phoneme or two from the phrase."""

from __future__ import annotations

import re
import shutil
import subprocess
from functools import lru_cache

# Stress marks, word and clause breaks: "alike" is about the sounds, not where words part.
_NOT_A_SOUND = re.compile(r"[ˈˌ\s_\-]")


@lru_cache(maxsize=1)
def _espeak() -> str:
    return shutil.which("espeak-ng") or ""


@lru_cache(maxsize=4096)
def phonemes(text: str) -> tuple[str, ...]:
    """The sounds of `text` (IPA, a length mark kept with its vowel); () when there is no
    text or no espeak-ng, so that nothing is ever judged alike without it."""
    exe = _espeak()
    if not text.strip() or not exe:
        return ()
    try:  # on stdin: a transcript may begin with "-", which espeak-ng would take as a flag
        out = subprocess.run([exe, "-q", "--ipa", "-v", "en"], input=text, text=True,
                             capture_output=True, timeout=5, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return ()
    sounds: list[str] = []
    for ch in _NOT_A_SOUND.sub("", out):
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


def sound_distance(said: str, phrase: str) -> float:
    """Edits between the two texts' sounds per sound of the longer one: 0 alike, 1 nothing
    shared; 1 too when either has no sounds (or espeak-ng is missing)."""
    a, b = phonemes(said), phonemes(phrase)
    if not a or not b:
        return 1.0
    return edits(a, b) / max(len(a), len(b))
