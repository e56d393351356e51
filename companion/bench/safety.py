"""How often a safety word is heard (`companion bench safety`): each of vocabulary's
SAFETY_WORDS, alone and in the ways people say it, rendered by espeak-ng (synth.VOICES at
synth.SPEEDS) and by the Piper voice where it is installed, clean and in recorded room noise
at 20 and 10 dB, heard as during a hold (every session command listened for).

A missed safety word is the miss that costs most, and one acted on as another command (a
"next" for "that's numb") costs more. The voices are synthetic: no recordings of people
saying these words are at hand, so the figures say which words the model hears badly, not
how often a person is heard. Renders are cached (bench-safety/), so reruns hear the same."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Optional

import numpy as np

from companion.audio.wav import load_16k, write_wav
from companion.bench import synth
from companion.core.vocabulary import SAFETY_WORDS, Intent, IntentKind, Vocabulary
from companion.hearing.files import recognize_file
from companion.hearing.recognizer import Recognizer

FORMS = ("{w}", "it's {w}", "that's {w}", "it's going {w}")  # as a person in a hold says it
SNRS: tuple[Optional[float], ...] = (None, 20.0, 10.0)
PIPER_SPEEDS = (130, 175)  # words a minute, as espeak-ng's


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


def _noise(noises: list[Path], key: str) -> Optional[Path]:
    if not noises:
        return None
    return noises[int(hashlib.sha1(key.encode()).hexdigest()[:6], 16) % len(noises)]


def _speaker(cache: Path) -> Callable[[str, str, int], np.ndarray]:
    """Who says a phrase: an espeak-ng voice, or the Piper voice ("piper"), whose clean
    render is kept in `cache` (it varies from one render to the next, so each noise level
    hears the same one)."""
    def speak(text: str, voice: str, speed: int) -> np.ndarray:
        if voice != "piper":
            return synth.render(text, voice, speed)
        path = cache / "clean" / f"{text.replace(' ', '-')}__piper-{speed}.wav"
        if not path.exists():
            from companion.speech.piper_voice import DEFAULT_VOICE, PiperSynth

            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp.wav")
            PiperSynth.get(DEFAULT_VOICE).synthesize(text, tmp, speed, 1.0)
            write_wav(path, load_16k(tmp))
            tmp.unlink()
        return load_16k(path)
    return speak


def run(rec: Recognizer, vocab: Vocabulary, cache: Path, noises: list[Path],
        piper: bool, words: Iterable[str] = SAFETY_WORDS,
        voices: Optional[list[tuple[str, int]]] = None) -> list[Said]:
    """Every form of every word in every voice and speed (espeak-ng's, and Piper's if
    `piper`), clean and in each noise level (clean only without `noises`), heard in a
    session. Each render is kept in `cache` (synth.make_noisy_phrase)."""
    if voices is None:
        voices = [(v, s) for v in synth.VOICES for s in synth.SPEEDS]
        voices += [("piper", s) for s in PIPER_SPEEDS] if piper else []
    snrs = SNRS if noises else (None,)
    session = vocab.phrases_at("session")
    speak = _speaker(cache)
    out = []
    for word in words:
        for phrase in (f.format(w=word) for f in FORMS):
            for voice, speed in voices:
                for snr in snrs:
                    noise = _noise(noises, f"{phrase}|{voice}|{speed}|{snr}") if snr else None
                    level = "clean" if snr is None else f"{snr:.0f}dB"
                    path = synth.make_noisy_phrase(
                        phrase, voice, speed, noise, snr,
                        cache / f"{phrase.replace(' ', '-')}__{voice}-{speed}-{level}.wav",
                        speak=speak)
                    r = recognize_file(rec, vocab, path, session)
                    out.append(Said(word, phrase, f"{voice}-{speed}", snr, r.intent,
                                    r.text or r.heard))
    return out


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
    voices = Counter(v.rsplit("-", 1)[0] for v in fig["voices"])
    who = ", ".join(f"{v} ({n} speed{'s' if n > 1 else ''})" for v, n in voices.items())
    lines = [f"safety words heard during a hold, said by {who}; clean, 20 and 10 dB",
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
