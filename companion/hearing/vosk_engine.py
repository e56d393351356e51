"""Vosk (Kaldi) restricted to the command grammar: KaldiRecognizer with the phrase list
plus "[unk]", so out-of-grammar speech lands on [unk] instead of the nearest command.

Written against Vosk's documented Python API (Model, KaldiRecognizer(model, rate,
grammar_json), SetWords, FinalResult with per-word 'conf'); no model can be fetched
where this was written, so its tests skip when none is installed."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Collection, Optional

from companion.core.errors import CompanionError
from companion.hearing.recognizer import Hearing, Recognizer
from companion.hearing.sources import RATE
from companion.core.vocabulary import Vocabulary

UNK = "[unk]"
VOSK_MODEL_NAME = "vosk-model-small-en-us-0.15"   # what `companion model download` installs


class ModelError(CompanionError):
    """A Vosk model folder that cannot be used; the message says why and what to do."""


@dataclass(frozen=True)
class VoskModelInfo:
    path: Path
    words: frozenset[str]


def is_vosk_model(path: Path) -> bool:
    return (path / "am" / "final.mdl").is_file() or (path / "final.mdl").is_file()


def check_model(path: Path) -> VoskModelInfo:
    """Check a model folder before Vosk sees it (Vosk aborts or silently ignores the
    grammar on a bad one): present, a Vosk model, with a runtime graph, with a word list."""
    if not path.exists():
        raise ModelError(f"no Vosk model at {path}: the folder does not exist. "
                         "Run `companion model download` or set model_path in config.toml.")
    if not path.is_dir():
        raise ModelError(f"{path} is a file, not a Vosk model folder (unzip it first)")
    if not is_vosk_model(path):
        raise ModelError(f"{path} is not a Vosk model: it has no am/final.mdl")
    graph = path / "graph"
    has_runtime = (graph / "HCLr.fst").is_file() and (graph / "Gr.fst").is_file()
    if not has_runtime:
        if (graph / "HCLG.fst").is_file():
            raise ModelError(
                f"the Vosk model at {path} has only a static graph (graph/HCLG.fst, no "
                "HCLr.fst/Gr.fst), so it cannot be limited to the command grammar and "
                "would hear every word it knows. Use a small model with runtime-graph "
                "support, e.g. vosk-model-small-en-us-0.15 (`companion model download`).")
        raise ModelError(f"the Vosk model at {path} has no decoding graph "
                         "(graph/HCLr.fst and graph/Gr.fst); the download may be incomplete")
    words_file = graph / "words.txt"
    if not words_file.is_file():
        raise ModelError(f"the Vosk model at {path} has no graph/words.txt, so its "
                         "vocabulary cannot be checked against the commands")
    words = set()
    with open(words_file, encoding="utf-8", errors="replace") as f:
        for line in f:
            parts = line.split()
            if parts:
                words.add(parts[0])
    return VoskModelInfo(path, frozenset(words))


@dataclass(frozen=True)
class VoskOptions:
    min_confidence: float = 0.6  # lowest per-word posterior accepted (not tuned: no model here)


class VoskRecognizer(Recognizer):
    engine = "vosk"

    def __init__(self, vocabulary: Vocabulary, model_path: Path,
                 options: VoskOptions = VoskOptions()) -> None:
        super().__init__(vocabulary)
        self.options = options
        info = check_model(Path(model_path))
        self.model_path = info.path
        self.phrases = self.usable_phrases(known=set(info.words))
        if not self.phrases:
            raise ModelError(f"the Vosk model at {info.path} knows none of the command words")
        try:
            import vosk
        except ImportError as e:
            raise CompanionError(f"Vosk is not installed ({e}); pip install vosk") from None
        vosk.SetLogLevel(-1)
        try:
            self._model = vosk.Model(str(info.path))
        except Exception as e:  # vosk raises a bare Exception("Failed to create a model")
            raise ModelError(f"Vosk could not load the model at {info.path}: {e}") from None
        self._rec = vosk.KaldiRecognizer(self._model, RATE,
                                         json.dumps(self.phrases + [UNK]))
        self._rec.SetWords(True)

    def decode(self, pcm: bytes, allowed: Optional[Collection[str]] = None) -> Hearing:
        step = 8000  # 0.25 s per call keeps Kaldi's buffers small
        for i in range(0, len(pcm), step):
            self._rec.AcceptWaveform(pcm[i:i + step])
        result = json.loads(self._rec.FinalResult())  # also resets for the next utterance
        h = self.judge(result)
        if h.text and allowed is not None and h.text not in allowed:
            return Hearing("", 0.0, h.text)  # a phrase that means nothing now
        return h

    def judge(self, result: dict) -> Hearing:
        """Vosk's JSON result -> Hearing: anything with [unk], off the phrase list or
        below the confidence floor is rejected."""
        text = " ".join(str(result.get("text", "")).split())
        words = result.get("result") or []
        conf = min((float(w.get("conf", 0.0)) for w in words), default=0.0)
        if not text or UNK in text.split() or text not in self.phrases:
            return Hearing("", 0.0 if not text else conf, text)
        if conf < self.options.min_confidence:
            return Hearing("", conf, text, text)
        return Hearing(text, conf, text, text)
