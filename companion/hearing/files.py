"""Recognizing a whole file the way the live loop hears a stream: the first command in
it wins (what `companion recognize` and the benchmark report)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Collection, Optional

from companion.hearing.recognizer import Recognizer
from companion.hearing.sources import WavSource, with_quiet
from companion.core.vocabulary import Intent, Vocabulary


@dataclass(frozen=True)
class FileResult:
    intent: Optional[Intent]
    text: str          # the command phrase heard; "" when nothing was accepted
    confidence: float  # of that command, else of the closest rejected utterance
    heard: str         # the engine's raw guess (diagnosis)
    duration: float    # audio seconds
    # What each utterance up to the command ranked first, accepted or not (for the
    # benchmark: a right intent here that was not acted on was lost to rejection).
    ranked: tuple[Intent, ...] = ()
    nearest: str = ""  # nothing accepted: the phrase ranked first in the first utterance
    unsure: bool = False  # a rating the loop would ask back (Hearing.unsure)


def recognize_file(rec: Recognizer, vocab: Vocabulary, path: Path,
                   allowed: Optional[Collection[str]] = None, quiet_s: float = 0.0
                   ) -> FileResult:
    """The first command in the file among the allowed phrases (None: any), heard with
    quiet_s of silence before and after it (sources.with_quiet).
    Raises AudioFileError for a file that cannot be read."""
    src = WavSource(path)
    heard, best, nearest = "", 0.0, ""
    ranked: list[Intent] = []
    frames = with_quiet(src.frames(), quiet_s) if quiet_s else src.frames()
    for utt in rec.utterances(frames, include_rejected=True, expect=lambda: allowed):
        top = vocab.parse(utt.best) if utt.best else None
        if top is not None:
            ranked.append(top)
        intent = vocab.parse(utt.text) if utt.text else None
        if intent is not None:
            return FileResult(intent, utt.text, utt.confidence, utt.raw, src.duration,
                              tuple(ranked), unsure=utt.unsure)
        heard, nearest = heard or utt.raw, nearest or utt.best
        best = max(best, utt.confidence)
    return FileResult(None, "", best, heard, src.duration, tuple(ranked), nearest)
