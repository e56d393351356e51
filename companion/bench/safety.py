"""How often a safety word is heard (`companion bench safety`): each of vocabulary's
SAFETY_WORDS, alone and in the ways people say it, rendered by espeak-ng (synth.VOICES at
synth.SPEEDS) and by the Piper voice where it is installed, clean and in recorded room noise
at 20 and 10 dB, heard as during a hold (every session command listened for).

A missed safety word is the miss that costs most, and one acted on as another command (a
"next" for "that's numb") costs more. The voices are synthetic: no recordings of people
saying these words are at hand, so the figures say which words the model hears badly, not
how often a person is heard. Renders are cached (bench-safety/), so reruns hear the same."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional

from companion.bench import renders
from companion.core.vocabulary import SAFETY_WORDS, Intent, IntentKind, Vocabulary
from companion.hearing.recognizer import Recognizer

FORMS = ("{w}", "it's {w}", "that's {w}", "it's going {w}")  # as a person in a hold says it


@dataclass
class Said:
    """One render heard: what was said, by whom, over what, and what the companion did."""

    word: str
    phrase: str
    voice: str
    snr: Optional[float]
    got: Optional[Intent]
    heard: str  # the transcript (or the phrase acted on)

    @property
    def stopped(self) -> bool:
        """Heard as a safety word (the hold stops; another safety word's advice is near)."""
        return self.got is not None and self.got.name == IntentKind.SAFETY

    @property
    def other_command(self) -> bool:
        return self.got is not None and not self.stopped


def run(rec: Recognizer, vocab: Vocabulary, cache: Path, noises: list[Path],
        piper: bool, words: Iterable[str] = SAFETY_WORDS,
        voices: Optional[list[tuple[str, int]]] = None) -> list[Said]:
    """Every form of every word in every voice and speed (espeak-ng's, and Piper's if
    `piper`), clean and in each noise level (clean only without `noises`), heard in a
    session (renders.hear)."""
    session = vocab.phrases_at("session")
    word_of = {f.format(w=w): w for w in words for f in FORMS}
    heard = renders.hear(rec, vocab, cache, noises, [(p, session) for p in word_of],
                         voices if voices is not None else renders.voices(piper))
    return [Said(word_of[r.phrase], r.phrase, r.voice, r.snr, r.got, r.heard) for r in heard]


def figures(results: list[Said]) -> dict:
    """Heard as a safety word (and as the one said), missed, and acted on as another
    command: per word, per form, in all."""
    def count(rs: list[Said]) -> dict:
        return {"said": len(rs), "heard": sum(r.stopped for r in rs),
                "as_said": sum(r.got is not None and r.stopped and r.got.value == r.word
                               for r in rs),
                "other_command": sum(r.other_command for r in rs)}

    words = sorted({r.word for r in results}, key=SAFETY_WORDS.index)
    forms = [f.format(w="X") for f in FORMS]
    return {"all": count(results),
            "words": {w: {"all": count([r for r in results if r.word == w]),
                          "forms": {f: count([r for r in results if r.word == w
                                              and r.phrase == f.replace("X", w)])
                                    for f in forms}}
                      for w in words},
            "other_commands": dict(Counter(f"{r.phrase} -> {r.heard}" for r in results
                                           if r.other_command).most_common()),
            "voices": sorted({r.voice for r in results})}


def table(fig: dict) -> str:
    forms = list(next(iter(fig["words"].values()))["forms"]) if fig["words"] else []
    lines = [f"safety words heard during a hold, said by {renders.who(fig['voices'])}; "
             "clean, 20 and 10 dB",
             f"{'word':10s} {'heard':>12s}  " + "  ".join(f"{f:>14s}" for f in forms)]
    for w, d in fig["words"].items():
        a = d["all"]
        cells = "  ".join(f"{c['heard']:>6d} / {c['said']:<5d}" for c in d["forms"].values())
        lines.append(f"{w:10s} {a['heard']:>5d} / {a['said']:<5d}  {cells}")
    a = fig["all"]
    lines.append(f"all        {a['heard']} / {a['said']} ({a['heard'] / max(a['said'], 1):.1%}; "
                 f"as the word said {a['as_said']}); acted on as another command: "
                 f"{a['other_command']}")
    lines += [f"  {x}: {n}" for x, n in fig["other_commands"].items()]
    return "\n".join(lines)
