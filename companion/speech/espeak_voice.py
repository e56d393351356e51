"""espeak-ng as the companion's fallback voice: through pyttsx3 (the espeak-ng library),
or its command line when pyttsx3 misbehaves.

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
- It tells espeak_Synth the text is ten times as long as it is, and espeak-ng's
  asynchronous mode copies that many bytes: past the end of the text, a crash when the
  text ends near unmapped memory (a test run died so inside Synth). The text's true size
  is passed instead (`_bounded_synth`).

espeak-ng's silence before the first sound and most of its 0.4 s end pause are trimmed
(cuefile), so a cue is heard as soon as it starts and does not keep the microphone gated for
nothing.

If pyttsx3 misbehaves (no finished notification, empty file) the same espeak-ng renders the
cue through its command line (`espeak-ng -w`), and keeps doing so for the rest of the run.
"""

from __future__ import annotations

import logging
import queue
import re
import shutil
import subprocess
import threading
import time
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Union

from companion.core.errors import CompanionError
from companion.speech.cuefile import wav_info

log = logging.getLogger(__name__)

INSTALL_HINT = "install it with `sudo apt install espeak-ng`"


def synthesize(text: str, out: Path, engine: str, voice: Optional[str], rate: int) -> None:
    """Render text to a WAV at out. engine "auto": pyttsx3, falling back to the espeak-ng
    command (for the rest of the run) if pyttsx3 fails; "pyttsx3": no fallback;
    "espeak-ng": the command line only. Full volume: the caller levels the file."""
    if engine != "espeak-ng":
        worker = _Pyttsx3Thread.get()
        if worker.init_error is not None:
            if isinstance(worker.init_error, (RuntimeError, OSError)) and \
                    not (shutil.which("espeak-ng") or shutil.which("espeak")):
                raise CompanionError(f"espeak-ng is not installed; {INSTALL_HINT}")
            if engine == "pyttsx3":
                raise CompanionError(f"pyttsx3 cannot start espeak-ng: "
                                     f"{worker.init_error}; {INSTALL_HINT}")
        elif engine == "pyttsx3" or not worker.broken:  # `broken` is auto's fallback memo
            try:
                fut = worker.render(text, voice, rate, 1.0, out)
                try:
                    fut.result(timeout=15.0 + len(text) / 20)
                except FutureTimeout:
                    raise _EngineBroken("it did not finish rendering") from None
                return
            except _EngineBroken as e:
                if engine == "pyttsx3":
                    raise CompanionError(f"pyttsx3 failed to render a cue: {e}") from None
                worker.broken = True
                log.warning("pyttsx3 failed (%s); using the espeak-ng command instead", e)
    _render_cli(text, voice, rate, 1.0, out)


def _quiet_print(*args, **kwargs) -> None:
    log.debug("pyttsx3: %s", " ".join(str(a) for a in args))


def _bounded_synth(espeak: Any) -> Callable[..., int]:
    """pyttsx3's Synth with the text's true size. pyttsx3 passes len(text) * 10, and in the
    mode it starts espeak-ng in (AUDIO_OUTPUT_RETRIEVAL, asynchronous) espeak_Synth copies
    `size` bytes of the text before queueing it: reading up to nine lengths past the end of
    Python's bytes object. Its terminating NUL is the last byte espeak needs."""
    def synth(text: Union[str, bytes], position: int = 0,
              position_type: int = espeak.POS_CHARACTER, end_position: int = 0,
              flags: int = 0, user_data: Any = None) -> int:
        if isinstance(text, str):
            text = text.encode("utf-8")
        return espeak.cSynth(text, len(text) + 1, position, position_type, end_position,
                             flags, None, user_data)
    return synth


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
            _espeak.Synth = _bounded_synth(_espeak)
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
        if wav_info(job.out) is None:
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
    if r.returncode != 0 or wav_info(out) is None:
        if "voice" in err.lower():
            raise CompanionError(f"espeak-ng has no voice '{voice}'; list them with "
                                 "`espeak-ng --voices=en` (e.g. en-us, en-gb, en-us+f3)")
        raise CompanionError(f"espeak-ng failed to render a cue: {err or r.returncode}")


_versions: dict[str, str] = {}


def engine_version(engine: str) -> str:
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
