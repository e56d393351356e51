"""Synthetic test speech: command phrases rendered by espeak-ng in several voices and
speeds, mixed with recorded background noise at a chosen signal-to-noise ratio.
Used by the benchmark and to make test fixtures; not used at run time."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from companion.core.errors import CompanionError
from companion.hearing.sources import RATE
from companion.audio.wav import load_16k, write_wav

# Phrases across the intents, several words long as users really say them.
PHRASES = (
    "pain six", "hold longer", "start neck routine", "next", "how long left", "pause",
    "repeat that", "go back", "what's next", "skip this", "it's sharp", "pain level three",
    "how am i doing", "keep going", "seven out of ten", "stop session", "shorter",
    "help", "that's numb", "hold longer by thirty seconds",
)
VOICES = ("en-us+m3", "en-us+f3", "en-gb+m1", "en-us+f2")
SPEEDS = (130, 175)
LEAD_S = 0.4  # silence (noise only) before and after the words


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


def render(text: str, voice: str, speed: int) -> np.ndarray:
    """espeak-ng speech as float samples at 16 kHz."""
    if not espeak_available():
        raise CompanionError("espeak-ng is not installed (sudo apt install espeak-ng)")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "say.wav"
        proc = subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(out),
                               text], capture_output=True, text=True)
        if proc.returncode != 0 or not out.exists():
            raise CompanionError(f"espeak-ng failed for voice {voice}: {proc.stderr.strip()}")
        return load_16k(out)


def mix(speech: np.ndarray, noise: np.ndarray, snr_db: Optional[float],
        rng: np.random.Generator) -> np.ndarray:
    """Speech padded with LEAD_S each side plus noise (tiled, random offset) scaled so
    the speech-to-noise power ratio is snr_db; None leaves the speech clean."""
    pad = np.zeros(int(LEAD_S * RATE), dtype=np.float32)
    x = np.concatenate([pad, speech.astype(np.float32), pad])
    if snr_db is None or not len(noise):
        return x
    reps = int(np.ceil((len(x) + len(noise)) / len(noise)))
    tiled = np.tile(noise, reps)
    start = int(rng.integers(0, len(noise)))
    n = tiled[start:start + len(x)].astype(np.float64)
    p_speech = float(np.mean(speech.astype(np.float64) ** 2))
    p_noise = float(np.mean(n ** 2)) or 1e-12
    n *= np.sqrt(p_speech / (p_noise * 10 ** (snr_db / 10)))
    y = x + n
    peak = float(np.max(np.abs(y)))
    return (y / peak * 0.9 if peak > 0.99 else y).astype(np.float32)


def make_noisy_phrase(text: str, voice: str, speed: int, noise_path: Optional[Path],
                      snr_db: Optional[float], out: Path, seed: int = 0,
                      speak: Callable[[str, str, int], np.ndarray] = render) -> Path:
    """Render (`speak`: espeak-ng unless another voice is given), mix and write one WAV;
    cached by its parameters so reruns are cheap."""
    if out.exists():
        return out
    speech = speak(text, voice, speed)
    noise = load_16k(noise_path) if noise_path else np.zeros(0, dtype=np.float32)
    key = f"{text}|{voice}|{speed}|{noise_path}|{snr_db}|{seed}".encode()
    rng = np.random.default_rng(int(hashlib.sha1(key).hexdigest()[:8], 16))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp.wav")
    write_wav(tmp, mix(speech, noise, snr_db, rng))
    tmp.replace(out)
    return out
