"""Phrases said by synthetic voices and heard as the live loop hears them: what `bench
safety` and `bench phrases` share. Each phrase is said by espeak-ng's voices (synth.VOICES at
synth.SPEEDS) and by the Piper voice where it is installed, clean and in recorded room noise
at 20 and 10 dB, and heard among the phrases listened for at its moment. Renders are kept in
a cache folder, so a rerun hears the same audio."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Collection, Iterable, Optional

import numpy as np

from companion.audio.wav import load_16k, write_wav
from companion.bench import synth
from companion.core.vocabulary import Intent, Vocabulary
from companion.hearing.files import recognize_file
from companion.hearing.recognizer import Recognizer

SNRS: tuple[Optional[float], ...] = (None, 20.0, 10.0)
PIPER_SPEEDS = (130, 175)  # words a minute, as espeak-ng's


@dataclass(frozen=True)
class Render:
    """One phrase said by one voice over one noise, and what the companion did with it."""

    phrase: str
    voice: str              # "en-us+m3-130", "piper-175"
    snr: Optional[float]    # None: clean
    got: Optional[Intent]   # the command acted on, if any
    heard: str              # the phrase acted on, else the model's own transcript
    unsure: bool = False    # a rating the loop asks back ("Was that one?") before logging
    # What the engine ranked first, per utterance up to the one acted on (accepted or not):
    # the model's own choice, so a miss can be told apart as the model's or the rejection's.
    ranked: tuple[Intent, ...] = ()


def voices(piper: bool) -> list[tuple[str, int]]:
    """espeak-ng's voices at its speeds, and the Piper voice's if `piper`."""
    out = [(v, s) for v in synth.VOICES for s in synth.SPEEDS]
    return out + ([("piper", s) for s in PIPER_SPEEDS] if piper else [])


def who(voices: list[str]) -> str:
    """Render voices ("en-us+m3-130", ...) as a reader wants them: "en-us+m3 (2 speeds)"."""
    n = Counter(v.rsplit("-", 1)[0] for v in voices)
    return ", ".join(f"{v} ({k} speed{'s' if k > 1 else ''})" for v, k in n.items())


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


def hear(rec: Recognizer, vocab: Vocabulary, cache: Path, noises: list[Path],
         said: Iterable[tuple[str, Collection[str]]], speakers: list[tuple[str, int]]
         ) -> list[Render]:
    """Each (phrase, the phrases listened for then) said by each of `speakers` (voice, speed),
    clean and at each noise level (clean only without `noises`), and heard. Each render is
    kept in `cache` (synth.make_noisy_phrase)."""
    snrs = SNRS if noises else (None,)
    speak = _speaker(cache)
    out = []
    for phrase, allowed in said:
        for voice, speed in speakers:
            for snr in snrs:
                noise = _noise(noises, f"{phrase}|{voice}|{speed}|{snr}") if snr else None
                level = "clean" if snr is None else f"{snr:.0f}dB"
                path = synth.make_noisy_phrase(
                    phrase, voice, speed, noise, snr,
                    cache / f"{phrase.replace(' ', '-')}__{voice}-{speed}-{level}.wav",
                    speak=speak)
                r = recognize_file(rec, vocab, path, allowed)
                out.append(Render(phrase, f"{voice}-{speed}", snr, r.intent, r.text or r.heard,
                                  r.unsure, r.ranked))
    return out
