"""Which recognizer to use: decided here and nowhere else.

auto: Vosk when a Vosk model is installed (the user went and got it: the configured path,
else models/), otherwise Whisper tiny.en from its pinned PyPI package, decoded against the
command grammar, so the companion hears well with zero downloads. PocketSphinx is the
fallback where CTranslate2 cannot be imported, and selectable by name for comparison."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Optional, Union

from companion.host import paths
from companion.host.config import ENGINES
from companion.core.errors import CompanionError
from companion.hearing.recognizer import Recognizer
from companion.core.vocabulary import Vocabulary
from companion.hearing.vosk_engine import VOSK_MODEL_NAME


def default_model_path() -> Path:
    return paths.models_dir() / VOSK_MODEL_NAME


def find_vosk_model(model_path: Union[str, Path, None] = None) -> Optional[Path]:
    """The Vosk model to use: the path given (even if broken, so its error is shown),
    else the default download location, else any other vosk-model-* in models/."""
    from companion.hearing.vosk_engine import is_vosk_model

    if model_path:
        return Path(model_path).expanduser()
    default = default_model_path()
    if is_vosk_model(default):
        return default
    root = paths.models_dir()
    if root.is_dir():
        for p in sorted(root.glob("vosk-model-*")):
            if p.is_dir() and is_vosk_model(p):
                return p
    return None


def _importable(module: str) -> bool:
    try:
        __import__(module)
    except Exception:
        return False
    return True


def choose_engine(engine: str = "auto", model_path: Union[str, Path, None] = None
                  ) -> tuple[str, Optional[Path]]:
    """(engine name, model path or None) without loading anything. Whisper's model is
    found (and checked) when the recognizer is made."""
    engine = (engine or "auto").lower()
    if engine not in ENGINES:
        raise CompanionError(f"unknown engine '{engine}'; choose one of {', '.join(ENGINES)}")
    if engine in ("pocketsphinx", "whisper"):
        return engine, None
    model = find_vosk_model(model_path)
    if engine == "vosk":
        if model is None:
            raise CompanionError(
                f"no Vosk model installed (looked in {paths.models_dir()}). Run "
                "`companion model download`, pass --model PATH, or use --engine whisper.")
        return engine, model
    if model is not None and _importable("vosk"):
        return "vosk", model
    # CTranslate2 has wheels for x86-64 and 64-bit ARM; elsewhere (32-bit Raspberry Pi OS)
    # PocketSphinx is what can run, poor as it is.
    return ("whisper" if _importable("ctranslate2") else "pocketsphinx"), None


def make_recognizer(vocabulary: Vocabulary, engine: str = "auto",
                    model_path: Union[str, Path, None] = None,
                    strict: bool = False, sphinx_options=None,
                    whisper_options=None, whisper_model: Optional[str] = None,
                    whisper_threads: Optional[int] = None,
                    taught_voice: Optional[Path] = None, learn_voice: bool = True,
                    learned_voice: Optional[Path] = None, keep_learned: bool = True
                    ) -> Recognizer:
    """Build the recognizer for the command grammar. strict=True turns grammar words the
    model does not know into an error; otherwise they are left out and listed in
    recognizer.missing_words for the caller to report. taught_voice: the user's own takes
    (`companion enroll`), used by Whisper when the file is there and made by its model;
    recognizer.voice_note says why one was not used. learn_voice: Whisper learns the voice
    in use from what the loop acts on (Recognizer.acted_on). learned_voice: where what it
    learned is kept between runs (frames only: learned_file.py), loaded from there and, with
    keep_learned, written back as it learns and when it closes (a replay leaves it alone);
    nothing is loaded or kept without learn_voice."""
    name, model = choose_engine(engine, model_path)
    if name == "vosk":
        from companion.hearing.vosk_engine import VoskRecognizer

        rec: Recognizer = VoskRecognizer(vocabulary, model)  # type: ignore[arg-type]
    elif name == "whisper":
        from companion.hearing.whisper_engine import WhisperOptions, WhisperRecognizer

        opts = whisper_options or WhisperOptions()
        if whisper_model:
            opts = replace(opts, model=whisper_model)
        if whisper_threads:
            opts = replace(opts, threads=whisper_threads)
        if not learn_voice:
            opts = replace(opts, learn_keep=0)
        wrec = WhisperRecognizer(vocabulary, opts)
        from companion.hearing.templates import load_voice

        wrec.user.taught, wrec.voice_note = load_voice(taught_voice, opts.model)
        if learn_voice and learned_voice is not None:
            from companion.hearing.learned_file import LearnedFile

            kept = LearnedFile(learned_voice)
            wrec.user.learned, note = kept.load(opts.model)
            for phrase in sorted(wrec.user.learned.phrases()):
                if not wrec.user.learnable(phrase):
                    wrec.user.learned.forget(phrase)
            wrec.voice_note = "; ".join(n for n in (wrec.voice_note, note) if n)
            wrec.learned_file = kept if keep_learned else None
        rec = wrec
    else:
        from companion.hearing.sphinx import SphinxOptions, SphinxRecognizer

        rec = SphinxRecognizer(vocabulary, sphinx_options or SphinxOptions())
    if strict and rec.missing_words:
        raise CompanionError(missing_words_message(rec))
    return rec


def missing_words_message(rec: Recognizer) -> str:
    """Names the grammar words the model lacks and the phrases that cannot be heard."""
    bad = set(rec.missing_words)
    # Shortest first: "shooting" says more than "it's getting shooting".
    lost = sorted((p for p in rec.vocabulary.grammar_phrases() if bad & set(p.split())),
                  key=lambda p: (len(p.split()), p))
    shown = ", ".join(f'"{p}"' for p in lost[:6]) + (" ..." if len(lost) > 6 else "")
    return (f"{len(bad)} word(s) of the command grammar are not in the {rec.engine} "
            f"model's vocabulary: {', '.join(sorted(bad))}. These phrases cannot be "
            f"heard: {shown}")
