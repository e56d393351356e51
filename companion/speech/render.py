"""Cue text to audio: a Piper neural voice (speech/piper_voice.py) where installed, else
espeak-ng through pyttsx3; cached on disk, every cue levelled to the same loudness.

Every cue is rendered once to a 16-bit mono WAV in `paths.cache_dir()/cues/`, named by a hash
of (text, voice, rate, volume, engine version), so fixed cues and countdown numbers cost a
file lookup after the first time. Files are written to a temporary name and renamed into
place, so a reader never sees half a cue, even with two processes rendering at once.

pyttsx3 is used only to synthesize to a file (save_to_file), never to play: its espeak
driver plays through `aplay` on a background thread and ignores failures. Its espeak driver
also has sharp edges this module works around:

- espeak can be initialized once per process and its engine must be driven from one thread:
  all synthesis runs on one "companion-tts" thread that owns the process's only engine.
- runAndWait() can return before the WAV exists (the file is written by espeak's own thread
  when synthesis ends): wait for the finished-utterance notification, then check the file.
- runAndWait() first cancels whatever espeak is running or has queued, and espeak queues
  rate and volume changes as commands: a new rate was lost about half the time. Each job
  waits until espeak reports the new values in force and is idle.
- An unknown voice is reported through the "error" notification, not raised, and espeak's
  SetVoiceByName does not know every language code ("en-gb" is the voice file "gmw/en"):
  those are looked up in the voice list.
- It prints "Audio saved to ..." on stdout, which is the command line's output channel:
  that print is routed to the debug log.

espeak-ng's silence before the first sound and most of its 0.4 s end pause are trimmed, so
a cue is heard as soon as it starts and does not keep the microphone gated for nothing.

If pyttsx3 misbehaves (no finished notification, empty file) the same espeak-ng renders the
cue through its command line (`espeak-ng -w`), and keeps doing so for the rest of the run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import stat
import queue
import re
import shutil
import subprocess
import threading
import time
import wave
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional, Union

import numpy as np

from companion.host import paths
from companion.audio.wav import read_wav
from companion.host.config import RATE_DEFAULT as DEFAULT_RATE
from companion.host.config import RATE_LIMITS, VOLUME_LIMITS
from companion.host.config import VOLUME_DEFAULT as DEFAULT_VOLUME
from companion.core.errors import CompanionError

log = logging.getLogger(__name__)

DEFAULT_VOICE = "en-us"
CACHE_FORMAT = 3                # bump when the files' layout or content changes
LEAD_S = 0.005                  # silence kept before a cue's first sound
TRAIL_S = 0.15                  # and after its last (espeak-ng adds about 0.4 s)
INSTALL_HINT = "install it with `sudo apt install espeak-ng`"
ENGINES = ("auto", "pyttsx3", "espeak-ng", "piper")
LEVEL_DBFS = -20.0              # every cue's loudness (RMS of its voiced part) at volume 1
PEAK = 0.97                     # ... unless that would clip: quieter then

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


def _trim(path: Path) -> None:
    """Cut espeak-ng's silence before the first sound (so a cue is heard as soon as it
    starts) and most of its 0.4 s pause after the last (so the microphone is not gated for
    nothing), keeping LEAD_S and TRAIL_S."""
    x, rate = read_wav(path)
    if len(x) == 0:
        return
    level = np.abs(x.astype(np.int32))
    loud = np.nonzero(level > max(64, int(0.01 * level.max())))[0]
    if len(loud) == 0:
        return
    a = max(0, loud[0] - int(LEAD_S * rate))
    b = min(len(x), loud[-1] + 1 + int(TRAIL_S * rate))
    if (a, b) == (0, len(x)):
        return
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(x[a:b].astype("<i2").tobytes())


def _voiced_rms(f: np.ndarray) -> float:
    """RMS of the 20 ms-ish frames within 35 dB of the loudest (pauses left out)."""
    frames = f[: len(f) // 320 * 320].reshape(-1, 320)
    if len(frames) == 0:
        return 0.0
    energy = (frames ** 2).mean(axis=1)
    voiced = energy[energy > energy.max() * 10 ** (-35 / 10)]
    return float(np.sqrt(voiced.mean())) if len(voiced) else 0.0


def _level(path: Path, volume: float) -> None:
    """Scale a cue so its voiced part is LEVEL_DBFS (times volume), the peak kept under PEAK:
    engines and voices differ by 10 dB and more, and no cue should be much louder than the
    next."""
    x, rate = read_wav(path)
    f = x.astype(np.float64) / 32768.0
    rms = _voiced_rms(f)
    if rms <= 0 or volume <= 0:
        return
    gain = min(10 ** (LEVEL_DBFS / 20) * volume / rms, PEAK / float(np.abs(f).max()))
    y = np.clip(np.round(f * gain * 32768.0), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(y.tobytes())


def loudness_dbfs(path: Path) -> float:
    """A cue's loudness as _level measures it (RMS of its voiced part, dBFS)."""
    rms = _voiced_rms(read_wav(path)[0].astype(np.float64) / 32768.0)
    return 20 * float(np.log10(max(rms, 1e-6)))


def _wav_info(path: Path) -> Optional[tuple[int, int]]:
    """(frames, rate) if path is a complete, non-empty 16-bit mono WAV, else None."""
    try:
        with wave.open(str(path), "rb") as w:
            frames, rate = w.getnframes(), w.getframerate()
            ok = w.getsampwidth() == 2 and w.getnchannels() == 1 and frames > 0
        # A WAV whose header promises more than the file holds was cut short.
        ok = ok and path.stat().st_size >= 44 + 2 * frames
    except (OSError, EOFError, wave.Error):
        return None
    return (frames, rate) if ok else None


# ----- the espeak-ng library through pyttsx3 ---------------------------------------------

def _quiet_print(*args, **kwargs) -> None:
    log.debug("pyttsx3: %s", " ".join(str(a) for a in args))


class _EngineBroken(Exception):
    """pyttsx3 did not deliver a complete file: use the command line instead."""


@dataclass
class _Job:
    text: str
    voice: Optional[str]
    rate: int
    volume: float
    out: Path
    future: Future


class _Pyttsx3Thread:
    """The process's one pyttsx3 engine, driven from one thread only."""

    _instance: Optional["_Pyttsx3Thread"] = None
    _instance_lock = threading.Lock()

    @classmethod
    def get(cls) -> "_Pyttsx3Thread":
        with cls._instance_lock:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance

    def __init__(self) -> None:
        self._jobs: "queue.Queue[_Job]" = queue.Queue()
        self._finished = threading.Event()
        self._errors: list[BaseException] = []
        self._started = threading.Event()
        self.init_error: Optional[BaseException] = None
        self.broken = False
        self._voice_ids: dict[str, str] = {}
        threading.Thread(target=self._run, name="companion-tts", daemon=True).start()
        if not self._started.wait(30):
            self.init_error = RuntimeError("pyttsx3 did not start within 30 s")

    def render(self, text: str, voice: Optional[str], rate: int, volume: float,
               out: Path) -> Future:
        fut: Future = Future()
        self._jobs.put(_Job(text, voice, rate, volume, out, fut))
        return fut

    # --- on the companion-tts thread only ---

    def _run(self) -> None:
        try:
            import pyttsx3
            from pyttsx3.drivers import _espeak
            from pyttsx3.drivers import espeak as espeak_driver
            espeak_driver.print = _quiet_print  # its "Audio saved to" goes to the log
            engine = pyttsx3.init("espeak")
            engine.connect("finished-utterance", self._on_finished)
            engine.connect("error", self._on_error)
            self._espeak = _espeak
            # A new engine's command queue is "busy" until its first loop: run an empty one
            # so setProperty() takes effect when called, not inside the next runAndWait().
            engine.runAndWait()
            self._default_voice = engine.getProperty("voice")   # for voice=None
        except BaseException as e:  # library missing: RuntimeError/OSError from pyttsx3
            self.init_error = e
            self._started.set()
            return
        self._started.set()
        while True:
            job = self._jobs.get()
            if not job.future.set_running_or_notify_cancel():
                continue
            try:
                self._render(engine, job)
                job.future.set_result(None)
            except BaseException as e:
                job.future.set_exception(e)

    def _on_finished(self, name=None, completed=True, **_) -> None:
        if completed:   # completed=False comes from pyttsx3 cancelling, not from the file
            self._finished.set()

    def _on_error(self, name=None, exception=None, **_) -> None:
        self._errors.append(exception)

    def _wait_idle(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while self._espeak.IsPlaying() and time.monotonic() < deadline:
            time.sleep(0.001)

    def _set_voice(self, engine, voice: str) -> None:
        """espeak's SetVoiceByName knows file names ("en-us", "gmw/en-us+f3") but not every
        language code ("en-gb" is the file "gmw/en"): look those up in the voice list."""
        self._errors.clear()
        engine.setProperty("voice", self._voice_ids.get(voice, voice))
        if not self._errors:
            return
        base, plus, variant = voice.partition("+")
        want = base.lower()
        for v in engine.getProperty("voices"):
            langs = [str(lang).lower() for lang in (v.languages or [])]
            if want in (v.id, v.id.split("/")[-1], v.name.lower()) or want in langs:
                self._voice_ids[voice] = v.id + plus + variant
                self._errors.clear()
                engine.setProperty("voice", self._voice_ids[voice])
                if not self._errors:
                    return
        self._errors.clear()
        raise CompanionError(f"espeak-ng has no voice '{voice}'; list them with "
                             "`espeak-ng --voices=en` (e.g. en-us, en-gb, en-us+f3)")

    def _apply(self, engine, rate: int, volume: float) -> None:
        """Set rate and volume and wait until espeak has taken them. espeak queues them as
        commands on its own thread, and runAndWait() cancels whatever espeak is running or
        has queued when it starts (pyttsx3 calls stop() first): a rate set just before it
        was lost about half the time. espeak_GetParameter(.., current=1) says when they are
        in force (pyttsx3's GetParameter omits that argument)."""
        engine.setProperty("rate", rate)
        engine.setProperty("volume", volume)
        want = (rate, int(round(volume * 100, 2)))
        get = self._espeak.dll.espeak_GetParameter
        deadline = time.monotonic() + 2.0
        while (get(self._espeak.RATE, 1), get(self._espeak.VOLUME, 1)) != want:
            if time.monotonic() > deadline:
                raise _EngineBroken("espeak did not take the rate and volume")
            time.sleep(0.0005)
        self._wait_idle(2.0)

    def _render(self, engine, job: _Job) -> None:
        self._wait_idle(2.0)
        if job.voice:
            self._set_voice(engine, job.voice)
        elif self._default_voice:   # not whatever the last job used
            engine.setProperty("voice", self._default_voice)
        self._apply(engine, job.rate, job.volume)
        self._finished.clear()
        self._errors.clear()
        engine.save_to_file(job.text, str(job.out))
        engine.runAndWait()
        # The file is written on espeak's thread when synthesis ends, maybe after
        # runAndWait() returned; finished-utterance comes once it is written.
        if not self._finished.wait(10.0 + len(job.text) / 20):
            raise _EngineBroken("no finished-utterance notification")
        if self._errors:
            raise _EngineBroken(f"pyttsx3 reported: {self._errors[0]}")
        if _wav_info(job.out) is None:
            raise _EngineBroken("the WAV it wrote is empty or incomplete")


def _espeak_cli() -> str:
    exe = shutil.which("espeak-ng") or shutil.which("espeak")
    if not exe:
        raise CompanionError(f"espeak-ng is not installed; {INSTALL_HINT}")
    return exe


def _render_cli(text: str, voice: Optional[str], rate: int, volume: float, out: Path) -> None:
    cmd = [_espeak_cli(), "-w", str(out), "-s", str(rate), "-a", str(round(volume * 100)),
           "--stdin"]
    if voice:
        cmd += ["-v", voice]
    try:
        r = subprocess.run(cmd, input=text.encode("utf-8"), capture_output=True, timeout=60)
    except subprocess.TimeoutExpired:
        raise CompanionError("espeak-ng took over a minute to render one cue") from None
    err = r.stderr.decode("utf-8", "replace").strip()
    if r.returncode != 0 or _wav_info(out) is None:
        if "voice" in err.lower():
            raise CompanionError(f"espeak-ng has no voice '{voice}'; list them with "
                                 "`espeak-ng --voices=en` (e.g. en-us, en-gb, en-us+f3)")
        raise CompanionError(f"espeak-ng failed to render a cue: {err or r.returncode}")


_versions: dict[str, str] = {}


def _engine_version(engine: str) -> str:
    """What produced the audio, for the cache key: a new espeak-ng or pyttsx3 re-renders."""
    if engine not in _versions:
        try:
            out = subprocess.run([_espeak_cli(), "--version"], capture_output=True,
                                 timeout=10).stdout.decode("utf-8", "replace")
        except (OSError, subprocess.TimeoutExpired) as e:
            raise CompanionError(f"espeak-ng does not run ({e}); {INSTALL_HINT}") from None
        m = re.search(r"(\d+\.\d+[\w.\-]*)", out)
        espeak = f"espeak-ng {m.group(1) if m else out.strip()}"
        if engine == "espeak-ng":
            _versions[engine] = f"{espeak}; cli"
        else:
            try:
                from importlib.metadata import version
                _versions[engine] = f"{espeak}; pyttsx3 {version('pyttsx3')}"
            except Exception:
                _versions[engine] = f"{espeak}; pyttsx3"
    return _versions[engine]


# ----- the cache ---------------------------------------------------------------------------

class CueRenderer:
    """Renders cue text with one voice/rate/volume, through a disk cache.

    voice: an espeak-ng voice ("en-us", "en-gb", "en-us+f3"; None for espeak's default), or
    for Piper its voice name (en_US-joe-medium) or a voice file (.onnx).
    rate: words per minute, volume 0.0-1.0 (1.0 is LEVEL_DBFS, the same for every engine),
    both within host.config's limits. engine: "piper"; "auto" (pyttsx3, falling back to the espeak-ng command if
    pyttsx3 fails), "pyttsx3" (no fallback) or "espeak-ng" (the command line only).
    """

    def __init__(self, voice: Optional[str] = DEFAULT_VOICE, rate: int = DEFAULT_RATE,
                 volume: float = DEFAULT_VOLUME, *, cache_dir: Union[str, Path, None] = None,
                 engine: str = "auto") -> None:
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
        self.dir = Path(cache_dir) if cache_dir else paths.cache_dir() / "cues"
        self._rate = 22050  # espeak-ng's voices (mbrola ones are not used)
        self.renders = 0        # cues synthesized by this renderer (cache misses)
        self.hits = 0           # cues found in the cache
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
            self._version = _engine_version("espeak-ng" if engine == "espeak-ng" else "pyttsx3")

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
        return _wav_info(self.path_for(text)) is not None

    def render(self, text: str) -> RenderedCue:
        """The cue for text, rendered now if it is not in the cache (blocks while it is)."""
        text = text.strip()
        if not text:
            raise ValueError("nothing to say")
        final = self.path_for(text)
        info = _wav_info(final)
        if info is not None:
            with self._lock:
                self.hits += 1
            return RenderedCue(text, final, *info)
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
        with self._lock:
            self._n += 1
            tmp = self.dir / f".{final.stem}.{os.getpid()}.{threading.get_ident()}.{self._n}.tmp"
        t0 = time.perf_counter()
        try:
            self._synthesize(spoken(text), tmp)
            if _wav_info(tmp) is not None:
                _trim(tmp)
                _level(tmp, self.volume)
            info = _wav_info(tmp)
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

    def prerender(self, texts: Iterable[str]) -> list[RenderedCue]:
        """Render (or find) every text now, e.g. the fixed cues at start-up. Also removes
        temporary files a killed run left behind."""
        try:
            for stale in self.dir.glob(".*.tmp"):
                if time.time() - stale.stat().st_mtime > 600:
                    stale.unlink()
        except OSError:
            pass
        return [self.render(t) for t in dict.fromkeys(t.strip() for t in texts) if t]

    def _synthesize(self, text: str, out: Path) -> None:
        # The volume is applied after, by _level, the same way for every engine.
        if self.engine == "piper":
            from companion.speech.piper_voice import PiperSynth

            PiperSynth.get(self.voice).synthesize(text, out, self.rate, 1.0)
            return
        if self.engine != "espeak-ng":
            worker = _Pyttsx3Thread.get()
            if worker.init_error is not None:
                if isinstance(worker.init_error, (RuntimeError, OSError)) and \
                        not (shutil.which("espeak-ng") or shutil.which("espeak")):
                    raise CompanionError(f"espeak-ng is not installed; {INSTALL_HINT}")
                if self.engine == "pyttsx3":
                    raise CompanionError(f"pyttsx3 cannot start espeak-ng: "
                                         f"{worker.init_error}; {INSTALL_HINT}")
            elif not worker.broken:
                try:
                    fut = worker.render(text, self.voice, self.rate, 1.0, out)
                    try:
                        fut.result(timeout=15.0 + len(text) / 20)
                    except FutureTimeout:
                        raise _EngineBroken("it did not finish rendering") from None
                    return
                except _EngineBroken as e:
                    if self.engine == "pyttsx3":
                        raise CompanionError(f"pyttsx3 failed to render a cue: {e}") from None
                    worker.broken = True
                    log.warning("pyttsx3 failed (%s); using the espeak-ng command instead", e)
        _render_cli(text, self.voice, self.rate, 1.0, out)
