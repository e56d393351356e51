"""The user's own voice, taught: a few takes of each phrase, kept as the Whisper encoder's
view of them (its output frames, 50 a second), and matched against what is heard by dynamic
time warping. A take may also carry its sound (the segment as heard, 16 kHz int16), in
memory only and never saved (no audio is kept): the Whisper engine shows the nearest takes to
the model before what is heard (whisper_engine.py `_shown`), so that it ranks the user's
words as they say them.

Why: Whisper tiny.en hears the speakers it was trained on, and an accent or a thin
microphone moves a number to another word ("four" is "go", "six" is "is" for FSDD's Belgian
speaker). The same speaker's own takes are far closer to each other than to other words,
whoever says them: on the development split's spoken digits the nearest of two or three
takes per digit is the right digit 96 % of the time, where the model's grammar-constrained
decode is right 78 %. A device with one user can ask that user once.

The file is personal (like the pain log, private permissions); `companion enroll --forget`
removes it."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Collection, Optional, Sequence

import numpy as np

from companion.audio.levels import frame_levels
from companion.core.errors import CompanionError
from companion.hearing import whisper_model

FORMAT = 1
INF = float("inf")
MIN_FRAMES = 5  # 100 ms: less is a click, not a word


@dataclass(frozen=True)
class Match:
    """The phrase whose takes lie nearest to what was heard."""

    phrase: str
    rival: str  # the nearest taught phrase of another meaning, allowed now or not ("": none)
    # Per taught phrase, its nearest take and how near it lies (mean cosine distance along
    # the best warping path; 0: the same).
    nearest: dict[str, tuple[float, np.ndarray]]
    # The same among the takes that carry their sound: what can be shown to the model (a
    # voice loaded at start, taught or learned before, holds frames alone).
    audible: dict[str, tuple[float, bytes]] = field(default_factory=dict)

    @property
    def distance(self) -> float:
        return self.nearest[self.phrase][0]

    @property
    def runner_up(self) -> float:
        """How near the rival lies (inf: no phrase of another meaning was taught)."""
        return self.nearest[self.rival][0] if self.rival else INF


def unit_frames(frames: np.ndarray) -> np.ndarray:
    """Frames scaled to unit length: distances between them are cosine distances."""
    x = np.asarray(frames, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-6)


def speech_span(pcm: bytes, frame: int = 320, rise_db: float = 6.0, floor_db: float = 30.0,
                pad: int = 2) -> Optional[tuple[int, int]]:
    """The frames (of `frame` samples, the encoder's 20 ms) from the first to the last that
    rise rise_db over the segment's quiet (its 10th percentile level) and lie within
    floor_db of its loudest, plus `pad` either side: a take and what is heard are compared
    word to word, whatever room the endpointer or a trimmed file left around them. None
    when fewer than MIN_FRAMES do: a segment of steady noise holds no word to compare."""
    x = np.frombuffer(pcm, dtype=np.int16)
    if len(x) // frame < MIN_FRAMES:
        return None
    level = frame_levels(x, frame)
    threshold = max(float(np.percentile(level, 10)) + rise_db, float(level.max()) - floor_db)
    loud = np.flatnonzero(level >= threshold)
    if len(loud) < MIN_FRAMES:
        return None
    return max(0, int(loud[0]) - pad), min(len(level) - 1, int(loud[-1]) + pad)


def warp_distance(query: np.ndarray, take: np.ndarray) -> float:
    """warp_distances for one take."""
    return float(warp_distances(query, [take])[0])


def warp_distances(query: np.ndarray, takes: Sequence[np.ndarray]) -> np.ndarray:
    """Per take, the mean cosine distance between unit frames along the cheapest path that
    walks the query one frame at a time and the take 0, 1 or 2 frames per step; inf for a
    take over twice the query's length, which cannot fit. Both start and end together:
    endpointed segments have the same margins. All takes in one pass (a row of numpy per
    query frame for all of them: a learned voice has dozens of takes, and a pass per take
    cost a decode 10-15 ms)."""
    n = len(query)
    out = np.full(len(takes), INF)
    fit = [k for k, t in enumerate(takes) if 0 < len(t) <= 2 * n - 1]
    if not fit:
        return out
    lens = np.array([len(takes[k]) for k in fit])
    width = int(lens.max())
    stacked = np.zeros((len(fit), width, query.shape[1]), dtype=np.float32)
    for j, k in enumerate(fit):
        stacked[j, :lens[j]] = takes[k]
    cost = 1.0 - (stacked.reshape(-1, query.shape[1]) @ query.T).reshape(len(fit), width, n)
    cost = np.where(np.arange(width)[None, :, None] < lens[:, None, None], cost, INF)
    cost = np.ascontiguousarray(cost.transpose(0, 2, 1), dtype=np.float32)  # take, query, frame
    row = np.full((len(fit), width), INF, dtype=np.float32)
    row[:, 0] = cost[:, 0, 0]
    for i in range(1, n):
        best = row.copy()
        best[:, 1:] = np.minimum(best[:, 1:], row[:, :-1])
        best[:, 2:] = np.minimum(best[:, 2:], row[:, :-2])
        row = cost[:, i] + best
    out[fit] = row[np.arange(len(fit)), lens - 1] / n
    return out


class VoiceTemplates:
    """Takes per phrase, made by one model's encoder (another model's frames mean nothing)."""

    def __init__(self, model: str, takes: Optional[dict[str, list[np.ndarray]]] = None
                 ) -> None:
        self.model = model
        self.takes: dict[str, list[np.ndarray]] = {}
        self.sounds: dict[int, bytes] = {}  # a take's sound, by the take kept (its id)
        self.version = 0  # takes added so far: whoever joined these with others knows when
        for phrase, ts in (takes or {}).items():
            for t in ts:
                self.add(phrase, t)

    def add(self, phrase: str, frames: np.ndarray, keep: Optional[int] = None,
            sound: Optional[bytes] = None) -> bool:
        """Keep a take, with its sound if given (and, with `keep`, only the newest that many
        of its phrase); one under MIN_FRAMES (no word in it) is not kept: False."""
        if len(frames) < MIN_FRAMES:
            return False
        takes = self.takes.setdefault(phrase, [])
        kept = unit_frames(frames)
        takes.append(kept)
        if sound is not None:
            self.sounds[id(kept)] = sound
        self.version += 1
        if keep is not None:
            for old in takes[:-keep]:
                self.sounds.pop(id(old), None)
            del takes[:-keep]
        return True

    def sound_of(self, take: np.ndarray) -> Optional[bytes]:
        """The sound a take (an array add() kept) was made from, if it was given."""
        return self.sounds.get(id(take))

    def forget(self, phrase: str) -> None:
        """Every take of a phrase (taught again: the new takes replace them)."""
        for take in self.takes.pop(phrase, []):
            self.sounds.pop(id(take), None)
        self.version += 1

    def drop(self, phrase: str, take: np.ndarray) -> bool:
        """Forget one take (the array add() kept, by identity); False: not held."""
        takes = self.takes.get(phrase, [])
        for i, t in enumerate(takes):
            if t is take:
                del takes[i]
                self.sounds.pop(id(t), None)
                if not takes:
                    del self.takes[phrase]
                self.version += 1  # (a count of changes: joined voices are rebuilt)
                return True
        return False

    def joined(self, other: "VoiceTemplates") -> "VoiceTemplates":
        """These takes and another set's (of the same model), matched as one voice. The
        takes are shared, not copied: both sets' are unit frames already."""
        both = VoiceTemplates(self.model)
        both.takes = {phrase: list(takes) for phrase, takes in self.takes.items()}
        for phrase, takes in other.takes.items():
            both.takes.setdefault(phrase, []).extend(takes)
        both.sounds = {**self.sounds, **other.sounds}
        return both

    def phrases(self) -> set[str]:
        return set(self.takes)

    def __len__(self) -> int:
        return sum(len(t) for t in self.takes.values())

    def match(self, frames: np.ndarray, allowed: Collection[str],
              meaning: Callable[[str], object]) -> Optional[Match]:
        """The nearest taught phrase among `allowed`, and how near the nearest taught phrase
        of another meaning comes (`meaning(phrase)`: "pause" and "hold on" are one), allowed
        now or not: the user's other phrases stand for everything else they might say, so a
        word nearer to one of them is not taken for the allowed one. None when no allowed
        phrase was taught."""
        if len(frames) < MIN_FRAMES or not set(allowed) & self.takes.keys():
            return None
        query = unit_frames(frames)
        takes = [(p, t) for p, ts in self.takes.items() for t in ts]
        nearest: dict[str, tuple[float, np.ndarray]] = {}
        audible: dict[str, tuple[float, bytes]] = {}
        for (p, t), d in zip(takes, warp_distances(query, [t for _, t in takes])):
            if p not in nearest or d < nearest[p][0]:
                nearest[p] = (float(d), t)
            sound = self.sounds.get(id(t))
            if sound is not None and (p not in audible or d < audible[p][0]):
                audible[p] = (float(d), sound)
        best = min((p for p in nearest if p in allowed), key=lambda p: nearest[p][0])
        rival = min((p for p in nearest if meaning(p) != meaning(best)),
                    key=lambda p: nearest[p][0], default="")
        return Match(best, rival, nearest, audible)

    def save(self, path: Path) -> None:
        """Written whole to a private temporary file, then renamed: a full disk or a crash
        leaves the previous file as it was."""
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # as the log's folder
        arrays: dict[str, np.ndarray] = {}
        index = []
        for phrase, takes in sorted(self.takes.items()):
            for t in takes:  # the frames alone: a take's sound is never written
                name = f"t{len(arrays)}"
                arrays[name] = t.astype(np.float16)
                index.append([phrase, name])
        meta = json.dumps({"format": FORMAT, "model": self.model, "takes": index})
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as f:
            save: Any = np.savez  # its stubs take **kwds as its own flags
            save(f, meta=np.array(meta), **arrays)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path, what: str = "taught voice",
             fix: str = "teach it again with `companion enroll`") -> "VoiceTemplates":
        """The voice at `path`; a file that is not one names itself and the fix."""
        fix = f"{fix} (or remove {path})"
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
                if meta.get("format") != FORMAT:
                    raise ValueError(f"format {meta.get('format')!r}, not {FORMAT}")
                takes: dict[str, list[np.ndarray]] = {}
                for phrase, name in meta["takes"]:
                    takes.setdefault(str(phrase), []).append(z[name])
        except FileNotFoundError:
            raise
        except Exception as e:  # zipfile, KeyError, ValueError, json: all one story here
            raise CompanionError(f"{path} is not a {what} ({e}): {fix}") from None
        return cls(str(meta.get("model", "")), takes)


def load_voice(path: Optional[Path], model: str, what: str = "taught voice",
               fix: str = "teach it again with `companion enroll`"
               ) -> tuple[Optional[VoiceTemplates], str]:
    """The voice at path for this Whisper model, or None and why not ("" when there is
    simply none): a broken file or another model's must not stop the companion hearing."""
    if path is None or not path.exists():
        return None, ""
    try:
        voice = VoiceTemplates.load(path, what, fix)
    except (CompanionError, OSError) as e:
        return None, f"the {what} is not used: {e}"
    if whisper_model.encoder_of(voice.model) != whisper_model.encoder_of(model):
        return None, (f"the {what} in {path} was made with Whisper {voice.model}, not "
                      f"{model}: {fix}")
    voice.model = model  # tiny.en as packaged or tuned: the same encoder, the same frames
    return voice, ""
