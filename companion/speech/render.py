"""Cue text to audio: a Piper neural voice (speech/piper_voice.py) where installed, else
espeak-ng through pyttsx3; cached on disk, every cue levelled to the same loudness.

Every cue is rendered once to a 16-bit mono WAV in `paths.cache_dir()/cues/`, named by a hash
of (text, voice, rate, volume, engine version), so fixed cues and countdown numbers cost a
file lookup after the first time. Files are written to a temporary name and renamed into
place, so a reader never sees half a cue, even with two processes rendering at once.

espeak-ng's voice (pyttsx3, else its command line) lives in speech/espeak_voice.py; the
trimming and levelling of every engine's files in speech/cuefile.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional, Union

import numpy as np

from companion.host import paths
from companion.audio.wav import read_wav, write_wav
from companion.host.config import RATE_DEFAULT as DEFAULT_RATE
from companion.host.config import RATE_LIMITS, VOLUME_LIMITS
from companion.host.config import VOLUME_DEFAULT as DEFAULT_VOLUME
from companion.core.errors import CompanionError
from companion.speech import espeak_voice
from companion.speech.cuefile import level, trim, wav_info

DEFAULT_VOICE = "en-us"
CACHE_FORMAT = 3                # bump when the files' layout or content changes
ENGINES = ("auto", "pyttsx3", "espeak-ng", "piper")
CLAUSE_BREAK = re.compile(r"(?<=[,.;:?!])\s+")   # where a line may be said in parts
JOINED_DIR = "joined"           # lines said as cached clauses (a folder in the cache)
JOINED_KEEP = 20                # ... the newest kept: one is played long before 20 more

_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen "
         "fourteen fifteen sixteen seventeen eighteen nineteen").split()
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety".split()


def number_words(n: int) -> str:
    """0..999 in words ("forty-five"); larger numbers stay digits."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10 - 2] + ("" if n % 10 == 0 else "-" + _ONES[n % 10])
    if n < 1000:
        rest = n % 100
        return _ONES[n // 100] + " hundred" + (f" and {number_words(rest)}" if rest else "")
    return str(n)


def spoken(text: str) -> str:
    """Cue text as both engines should say it: numbers as words ("45 seconds" is "forty-five
    seconds", "6/10" "six out of ten"), so every voice reads them the same way."""
    text = re.sub(r"\b(\d{1,3})\s*/\s*10\b", lambda m: f"{m.group(1)} out of ten", text)
    return re.sub(r"\b\d{1,3}\b", lambda m: number_words(int(m.group(0))), text)


@dataclass(frozen=True)
class RenderedCue:
    """One rendered cue: a 16-bit mono WAV on disk."""

    text: str
    path: Path
    frames: int
    samplerate: int

    @property
    def seconds(self) -> float:
        return self.frames / self.samplerate

    def samples(self) -> np.ndarray:
        """The audio as int16."""
        return read_wav(self.path)[0]


class CueRenderer:
    """Renders cue text with one voice/rate/volume, through a disk cache.

    voice: an espeak-ng voice ("en-us", "en-gb", "en-us+f3"; None for espeak's default), or
    for Piper its voice name (en_US-joe-medium) or a voice file (.onnx).
    rate: words per minute, volume 0.0-1.0 (1.0 is LEVEL_DBFS, the same for every engine),
    both within host.config's limits. engine: "piper"; "auto" (pyttsx3, falling back to the
    espeak-ng command if pyttsx3 fails), "pyttsx3" (no fallback) or "espeak-ng" (the command
    line only).
    """

    def __init__(self, voice: Optional[str] = DEFAULT_VOICE, rate: int = DEFAULT_RATE,
                 volume: float = DEFAULT_VOLUME, *, cache_dir: Union[str, Path, None] = None,
                 engine: str = "auto", threads: int = 1) -> None:
        if engine not in ENGINES:
            raise ValueError(f"engine must be one of {ENGINES}")
        if not RATE_LIMITS[0] <= int(rate) <= RATE_LIMITS[1]:
            raise CompanionError(f"speaking rate {rate} is outside {RATE_LIMITS[0]}-"
                                 f"{RATE_LIMITS[1]} words per minute")
        if not VOLUME_LIMITS[0] <= float(volume) <= VOLUME_LIMITS[1]:
            raise CompanionError(f"volume {volume} is outside {VOLUME_LIMITS[0]}-"
                                 f"{VOLUME_LIMITS[1]}")
        self.voice = voice or None
        self.rate = int(rate)
        self.volume = float(volume)
        self.engine = engine
        self.threads = threads  # CPU threads a Piper synthesis may use (espeak-ng: one)
        self.dir = Path(cache_dir) if cache_dir else paths.cache_dir() / "cues"
        self._rate = 22050  # espeak-ng's voices (mbrola ones are not used)
        self.renders = 0        # cues synthesized by this renderer (cache misses)
        self.hits = 0           # cues found in the cache
        self.joins = 0          # cues said as cached clauses (_joined)
        self.render_seconds: list[float] = []   # time each synthesis took
        self._lock = threading.Lock()
        self._n = 0
        if engine == "piper":
            from companion.speech import piper_voice

            model, config = piper_voice.model_files(self.voice)
            try:
                self._rate = int(json.loads(config.read_text())["audio"]["sample_rate"])
            except (OSError, ValueError, KeyError, TypeError) as e:
                raise CompanionError(f"{config}: not a Piper voice description ({e})") from None
            self._version = f"{piper_voice.version()}; {model.name} {model.stat().st_size}"
        else:
            self._version = espeak_voice.engine_version("espeak-ng" if engine == "espeak-ng" else "pyttsx3")

    @property
    def engine_version(self) -> str:
        return self._version

    @property
    def engine_name(self) -> str:
        """What speaks: "piper" or "espeak-ng" (through pyttsx3 or its command line)."""
        return "piper" if self.engine == "piper" else "espeak-ng"

    @property
    def samplerate(self) -> int:
        return self._rate

    def key(self, text: str) -> str:
        """The cache key: a hash of everything that changes the audio."""
        blob = json.dumps([CACHE_FORMAT, self.engine_name, text.strip(), self.voice, self.rate,
                           round(self.volume, 3), self._version], ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]

    def path_for(self, text: str) -> Path:
        return self.dir / f"{self.key(text)}.wav"

    def is_cached(self, text: str) -> bool:
        return wav_info(self.path_for(text)) is not None

    def render(self, text: str, whole: bool = False) -> RenderedCue:
        """The cue for text, rendered now if it is not in the cache (blocks while it is).
        A line not cached whose every clause is ("About 45 seconds left in this step," "and
        about 11 minutes in the session.") is said as those clauses, unless whole."""
        text = text.strip()
        if not text:
            raise ValueError("nothing to say")
        final = self.path_for(text)
        info = wav_info(final)
        if info is not None:
            with self._lock:
                self.hits += 1
            return RenderedCue(text, final, *info)
        joined = None if whole else self._joined(text)
        if joined is not None:
            return joined
        try:
            # Private: some cues are personal ("how am I doing" speaks the pain trend).
            self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            if stat.S_IMODE(self.dir.stat().st_mode) & 0o077:
                self.dir.chmod(0o700)
            if not os.access(self.dir, os.W_OK):
                raise PermissionError(13, "not writable")
        except OSError as e:
            raise CompanionError(f"cannot write to the cue cache {self.dir} ({e.strerror}); "
                                 "set COMPANION_CACHE_DIR to a writable folder") from None
        tmp = self._tmp_for(final)
        t0 = time.perf_counter()
        try:
            self._synthesize(spoken(text), tmp)
            if wav_info(tmp) is not None:
                trim(tmp)
                level(tmp, self.volume)
            info = wav_info(tmp)
            if info is None:
                raise CompanionError(f"{self.engine_name} rendered no audio for {text!r}")
            os.chmod(tmp, 0o600)  # espeak-ng creates it with the umask's mode
            os.replace(tmp, final)  # atomic: readers see the old state or the whole file
        except PermissionError as e:
            raise CompanionError(f"cannot write to the cue cache {self.dir} ({e.strerror}); "
                                 "set COMPANION_CACHE_DIR to a writable folder") from None
        finally:
            if tmp.exists():
                tmp.unlink()
        with self._lock:
            self.renders += 1
            self.render_seconds.append(time.perf_counter() - t0)
        return RenderedCue(text, final, *info)

    def _tmp_for(self, final: Path) -> Path:
        """A temporary name beside final, unique across processes and threads."""
        with self._lock:
            self._n += 1
            n = self._n
        return final.parent / f".{final.stem}.{os.getpid()}.{threading.get_ident()}.{n}.tmp"

    def _joined(self, text: str) -> Optional[RenderedCue]:
        """text said as its cached clauses one after another (each ends in TRAIL_S of quiet:
        the pause of a comma), written to JOINED_DIR, which keeps the newest JOINED_KEEP:
        answers like these are rarely asked twice the same, and the cache must not grow with
        each. None when a clause is not cached or the clauses differ in sample rate."""
        parts = CLAUSE_BREAK.split(text)
        if len(parts) < 2:
            return None
        infos = [wav_info(self.path_for(p)) for p in parts]
        if any(i is None for i in infos) or len({i[1] for i in infos if i}) != 1:
            return None
        rate = infos[0][1]  # type: ignore[index]
        try:
            audio = np.concatenate([read_wav(self.path_for(p))[0] for p in parts])
            folder = self.dir / JOINED_DIR
            folder.mkdir(mode=0o700, exist_ok=True)
            out = folder / f"{self.key(text)}.wav"
            tmp = self._tmp_for(out)
            write_wav(tmp, audio.astype(np.float64) / 32768.0, rate)
            os.chmod(tmp, 0o600)
            now = time.time_ns()  # the clock's own resolution: the kernel's stamp is coarser
            os.utime(tmp, ns=(now, now))
            os.replace(tmp, out)
            for old in sorted(folder.glob("*.wav"),
                              key=lambda f: f.stat().st_mtime_ns)[:-JOINED_KEEP]:
                old.unlink(missing_ok=True)
        except (OSError, ValueError):
            return None  # rendered whole instead, which names any real problem
        with self._lock:
            self.joins += 1
        return RenderedCue(text, out, len(audio), rate)

    def prerender(self, texts: Iterable[str]) -> list[RenderedCue]:
        """Render (or find) every text now, e.g. the fixed cues at start-up. Also removes
        temporary files a killed run left behind."""
        try:
            for stale in [*self.dir.glob(".*.tmp"), *(self.dir / JOINED_DIR).glob(".*.tmp")]:
                if time.time() - stale.stat().st_mtime > 600:
                    stale.unlink()
        except OSError:
            pass
        return [self.render(t, whole=True) for t in dict.fromkeys(t.strip() for t in texts) if t]

    def _synthesize(self, text: str, out: Path) -> None:
        # The volume is applied after, by level(), the same way for every engine.
        if self.engine == "piper":
            from companion.speech.piper_voice import PiperSynth

            PiperSynth.get(self.voice, self.threads).synthesize(text, out, self.rate, 1.0)
            return
        espeak_voice.synthesize(text, out, self.engine, self.voice, self.rate)
