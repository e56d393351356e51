"""Build a recorded-session WAV from a script of spoken phrases: espeak-ng renders (or real
recordings) placed on a 16 kHz timeline, optionally over room noise at a given SNR. Tests
and benchmarks replay these through `companion run --mic-file`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Sequence, Union

import numpy as np

from companion.audio.resample import resample
from companion.audio.wav import load_16k, write_wav
from companion.core.interfaces import Utterance
from companion.speech.render import CueRenderer

RATE = 16000


@dataclass(frozen=True)
class Placed:
    """One phrase on the timeline: what was said and when (audio seconds)."""

    text: str
    start: float
    end: float


def speech(text: str, voice: str = "en-us+m3", rate: int = 150,
           cache_dir: Optional[Path] = None) -> np.ndarray:
    """text spoken by espeak-ng (through the cue renderer and its cache), 16 kHz float."""
    cue = CueRenderer(voice, rate, 1.0, cache_dir=cache_dir).render(text)
    return load_16k(cue.path)


def mix_at_snr(signal: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """signal plus noise (looped to length) scaled so speech-to-noise is snr_db."""
    reps = int(np.ceil(len(signal) / max(1, len(noise))))
    n = np.tile(noise, reps)[: len(signal)]
    ps = float(np.mean(signal ** 2)) or 1e-12
    pn = float(np.mean(n ** 2)) or 1e-12
    return signal + n * np.sqrt(ps / (pn * 10 ** (snr_db / 10)))


def build(script: Sequence[tuple[float, Union[str, np.ndarray]]], out: Union[str, Path],
          total_s: Optional[float] = None, noise: Optional[np.ndarray] = None,
          noise_db: float = -50.0, voice: str = "en-us+m3", rate: int = 150,
          cache_dir: Optional[Path] = None) -> list[Placed]:
    """Write a session WAV. script: (start seconds, phrase text or 16 kHz audio). Noise, if
    given, runs under the whole recording at noise_db dBFS RMS. Returns where each phrase
    landed."""
    clips = [(t, speech(p, voice, rate, cache_dir) if isinstance(p, str) else p,
              p if isinstance(p, str) else "") for t, p in script]
    end = max((t + len(c) / RATE for t, c, _ in clips), default=0.0)
    length = int(RATE * max(total_s or 0.0, end + 1.0))
    track = np.zeros(length)
    placed = []
    for t, clip, text in clips:
        i = int(t * RATE)
        track[i:i + len(clip)] += clip[: max(0, length - i)]
        placed.append(Placed(text, t, t + len(clip) / RATE))
    if noise is None or not len(noise):
        # A real microphone is never digitally silent: give it a faint self-noise floor.
        noise = np.random.default_rng(0).normal(0.0, 1.0, RATE * 10)
        noise_db = min(noise_db, -60.0)
    if len(noise):
        reps = int(np.ceil(length / len(noise)))
        n = np.tile(noise, reps)[:length]
        rms = float(np.sqrt(np.mean(n ** 2))) or 1e-12
        track += n * (10 ** (noise_db / 20) / rms)
    write_wav(Path(out), track)
    return placed


Wish = Union[float, Callable[[list[dict]], Optional[float]]]


def after_step(kind: str, delay: float = 0.0) -> Callable[[list[dict]], Optional[float]]:
    """A wish for place_when_quiet: `delay` seconds after the first step of this kind began."""
    def when(records: list[dict]) -> Optional[float]:
        for r in records:
            if r["type"] == "StepStarted" and r["kind"] == kind:
                return r["at"] + delay
        return None
    return when


def speech_spans(records: list[dict]) -> list[tuple[float, float]]:
    """When the companion is audible, from its cue records: cues queue back to back."""
    spans, end = [], 0.0
    for r in records:
        if r["type"] == "cue":
            start = max(r["at"], end)
            end = start + r["seconds"]
            spans.append((start, end))
    return spans


def place_when_quiet(script: Sequence[tuple[Wish, str, np.ndarray]],
                     speaker: Optional[Callable[[Any], Any]] = None, margin: float = 0.8,
                     horizon: float = 240.0) -> list[tuple[float, np.ndarray]]:
    """Place each (wish, text, clip) at the first moment at or after its wish when the
    companion is quiet for the whole clip, as a person waits for a cue to finish before
    answering. The schedule comes from the real VoiceLoop, run on a recognizer that hears
    exactly the texts, with `speaker(clock)` (default NullSpeaker, as --no-speaker): pass
    the kind of speaker the replay will use, since it decides how long cues last."""
    from companion.speech import NullSpeaker

    make = speaker or (lambda clock: NullSpeaker(clock=clock))
    placed: list[tuple[float, str, np.ndarray]] = []
    for wish, text, clip in script:
        records = _simulate(placed, make, horizon + (placed[-1][0] if placed else 0.0))
        t = wish(records) if callable(wish) else wish
        if t is None:
            raise ValueError(f"the wish for {text!r} never came true in the simulation")
        dur = len(clip) / RATE
        for start, end in speech_spans(records):
            if start < t + dur + margin and end + margin > t:
                t = end + margin
        placed.append((t, text, clip))
    return [(t, clip) for t, _, clip in placed]


@dataclass(frozen=True)
class _Tick:
    start: float
    end: float


def _simulate(placed: list, make: Callable[[Any], Any], until: float) -> list[dict]:
    """The loop's event records for the clips placed so far, up to audio time `until`."""
    import io
    import tempfile

    from companion.core.clock import ManualClock
    from companion.storage.library import Library
    from companion.storage.store import PainLog
    from companion.loop.voice_loop import VoiceLoop

    # What a perfect recognizer makes of each clip (the endpointer's hangover added); a clip
    # placed as "" stands for speech the recognizer rejects.
    pending = [Utterance(text, 1.0, t, t + len(clip) / RATE + 0.3) for t, text, clip in placed]
    out = io.StringIO()

    def recognize(frames, expect=None):
        for f in frames:
            while pending and pending[0].end <= f.end:
                yield pending.pop(0)

    def frames():
        for i in range(int(until / 0.03)):
            yield _Tick(i * 0.03, (i + 1) * 0.03)

    clock = ManualClock()
    with tempfile.TemporaryDirectory() as d, PainLog.open(Path(d)) as log:
        spk = make(clock)
        try:
            VoiceLoop(Library(), log, spk, recognize, events_out=out, clock=clock).run(frames())
        finally:
            close = getattr(spk, "close", None)
            if close:
                close()
    return [json.loads(x) for x in out.getvalue().splitlines()]


def steady_hiss(seed: int = 7) -> np.ndarray:
    """Room hiss that is the same everywhere, so a take heard in a short trial is heard the
    same anywhere in a session built over it."""
    return np.random.default_rng(seed).normal(0.0, 1.0, RATE * 10)


def heard_take(phrase: str, rec: Any, vocab: Any, tmp: Path, noise_db: float = -50.0,
               recordings: Sequence[Path] = ()) -> np.ndarray:
    """A take of the phrase's intent that `rec` hears over steady_hiss() at noise_db: the
    given recordings first, then espeak-ng voices saying the phrase or another of the same
    intent ("next" or "next step"), as users vary. For tests and benchmarks of the loop,
    not of recognition: how often phrases are heard is `companion bench recognition`'s."""
    from companion.bench import synth
    from companion.bench.recognition import context
    from companion.hearing.files import recognize_file

    want = vocab.parse(phrase)
    allowed = context(vocab, want)  # what the loop listens for when this is said
    said = [phrase] + sorted(p for p, i in vocab.phrases.items() if i == want and p != phrase)
    renders = ((text, voice, speed) for text in said for voice in synth.VOICES
               for speed in (150, *synth.SPEEDS))

    def heard(clip: np.ndarray, db: float, at: float = 3.0) -> bool:
        trial = tmp / "trial.wav"
        build([(at, clip)], trial, noise=steady_hiss(), noise_db=db)
        got = recognize_file(rec, vocab, trial, allowed)
        # Clearly, not on the edge of rejection: a live run's level and resampling differ.
        return got.intent == want and got.confidence >= 0.7

    def takes():
        yield from (load_16k(p) for p in recordings)
        for text, voice, speed in renders:
            clip = load_16k(synth.make_noisy_phrase(
                text, voice, speed, None, None, tmp / f"{text.replace(' ', '-')}__{voice}-{speed}.wav"))
            voiced = np.flatnonzero(np.abs(clip) > 1e-4)  # a clean render: cut its padding,
            yield clip[voiced[0]:voiced[-1] + 1] if len(voiced) else clip  # so end = speech end

    for clip in takes():
        # Heard also quieter, over other stretches of the hiss (a take on the edge of the
        # endpointer's pitch check passes over one and not another) and after a trip through
        # 48 kHz (a sound server's rate), so a live run through a sound card hears it too.
        if all(heard(c, db, at) for c, db, at in [
                (clip, noise_db, 3.0), (clip * 0.5, noise_db + 3, 3.0),
                (clip, noise_db, 4.37), (clip, noise_db, 5.0), (clip, noise_db, 5.71),
                (resample(resample(clip, RATE, 48000), 48000, RATE), noise_db, 3.0)]):
            return clip
    raise ValueError(f"no take of {phrase!r} is heard by the recognizer at all")
