"""`bench recognition --taught K`: each recording heard as if its speaker had taught the
companion their voice with K takes of each phrase, taken from that speaker's other
recordings, never the one being heard (each take heard as the recordings are: FSDD's with
the bench's quiet around it). The takes carry their sound, as a lesson given by voice in the
running companion does (shown to the model: WhisperOptions.show_takes); a voice saved by
`companion enroll` and loaded at start has its frames alone.

- FSDD (two speakers, 50 takes of each digit): K takes of every digit from the other split's
  takes (odd takes teach the even ones of dev, and the other way round for test).
- Speech Commands: a speaker's other recordings of the words the companion knows (stop,
  yes, no, go, four, five, six, nine), up to K each; most speakers left one of each, so
  most have few or no takes. Their other words (negatives) are heard against what they did
  teach: the user saying something else.
- espeak-ng phrases: a synthetic voice cannot be asked; heard untaught.

`--learn` (Learner): each speaker (each espeak-ng voice too) is a device of its own that
learns the voice in use from the commands it accepted, heard in a shuffled order.
`--returning`: ... and had done so before, from the same speaker's recordings of the other
split, then restarted: what it learned kept as the running companion keeps it (frames
alone: learned_file.py). Only FSDD's two speakers are in both splits; the others are new."""

from __future__ import annotations

import zlib
from collections import defaultdict
from pathlib import Path
from typing import Callable, Iterable, Optional

import numpy as np

from companion.bench.recognition import (QUIET_S, SC_POSITIVE, Case, quiet_around, speaker_of,
                                        voice_key)
from companion.core.interfaces import Utterance
from companion.core.vocabulary import RATING_INTENTS
from companion.hearing.endpoint import Endpointer
from companion.hearing.files import FileResult
from companion.hearing.learned_file import LearnedFile
from companion.hearing.sources import WavSource, with_quiet
from companion.hearing.templates import VoiceTemplates
from companion.hearing.whisper_engine import WhisperRecognizer

SC_NUMBERS = ("four", "five", "six", "nine")  # in _unknown_, and words the companion knows


class Teacher:
    """Builds the taught voice each case is heard with, from the speaker's other takes.
    `frames(pcm)` is the recognizer's encoder view of a segment (voice_frames)."""

    def __init__(self, data: Path, takes: int, frames: Callable[[bytes], np.ndarray],
                 model: str, quiet_s: float = QUIET_S) -> None:
        self.takes, self.frames, self.model, self.quiet_s = takes, frames, model, quiet_s
        self._by_speaker: dict[tuple[str, str], list[tuple[str, Path]]] = defaultdict(list)
        self._cache: dict[Path, Optional[tuple[np.ndarray, bytes]]] = {}  # frames, sound
        for p in sorted((data / "fsdd-digits").glob("*.wav"),
                        key=lambda p: (p.stem.split("_")[0], int(p.stem.split("_")[2]))):
            s = speaker_of(p)
            if s:
                self._by_speaker[s[0], s[1]].append((s[2], p))
        sc = data / "speech-commands"
        for word in list(SC_POSITIVE) + ["_unknown_"]:
            for p in sorted((sc / word).glob("*.wav")):
                s = speaker_of(p)
                if s and (s[2] in SC_POSITIVE or s[2] in SC_NUMBERS):
                    self._by_speaker[s[0], s[1]].append((s[2], p))

    def _frames_of(self, path: Path) -> Optional[tuple[np.ndarray, bytes]]:
        if path not in self._cache:
            src = WavSource(path).frames()
            quiet = quiet_around(path, self.quiet_s)
            segs = [s.pcm for s in Endpointer().segments(
                with_quiet(src, quiet) if quiet else src)]
            pcm = max(segs, key=len) if segs else b""
            self._cache[path] = (self.frames(pcm), pcm) if segs else None
        return self._cache[path]

    def voice_for(self, case: Case) -> Optional[VoiceTemplates]:
        """The taught voice `case` is heard with (None: a voice that cannot be asked)."""
        said = case.recording  # (as recorded: --farther hears a room's copy of it)
        s = speaker_of(said)
        if s is None:
            return None
        corpus, speaker, _ = s
        voice = VoiceTemplates(self.model)
        count: dict[str, int] = defaultdict(int)
        for phrase, path in self._by_speaker[corpus, speaker]:
            if path == said or count[phrase] >= self.takes:
                continue
            if corpus == "fsdd" and int(path.stem.split("_")[2]) % 2 == \
                    int(said.stem.split("_")[2]) % 2:
                continue  # the same split's takes are being heard: teach with the other's
            take = self._frames_of(path)
            if take is not None and voice.add(phrase, take[0], sound=take[1]):
                count[phrase] += 1
        return voice


class Learner:
    """`bench recognition --learn`: a device per speaker, learning the voice in use as the
    live loop lets it (Recognizer.acted_on). Each recording is heard with what was learned
    from that speaker's recordings heard before it, and a command accepted from it is
    learned from, as the loop would have acted on it. Whatever the user's taught voice
    (--taught), the two are matched together."""

    def __init__(self, rec: WhisperRecognizer) -> None:
        self.rec = rec
        self.voices: dict[tuple[str, str], VoiceTemplates] = {}

    @staticmethod
    def order(cases: list[Case]) -> list[Case]:
        """A fixed shuffled order: a user says commands in no order by class."""
        return sorted(cases, key=lambda c: zlib.crc32(c.path.name.encode()))

    def returning(self, before: Iterable[Case], hear: Callable[[list[Case]], object],
                  folder: Path) -> int:
        """Each speaker's device first hears (`hear`, learning) their recordings among
        `before`, then restarts: its learned takes written and read back as the running
        companion keeps them (frames alone). The number of those recordings."""
        earlier = [c for c in before if voice_key(c.recording)]
        hear(earlier)
        for key, voice in self.voices.items():
            kept = LearnedFile(folder / "learned.npz")
            kept.save(voice)
            self.voices[key], _ = kept.load(self.rec.model_name)
            (folder / "learned.npz").unlink(missing_ok=True)
        return len(earlier)

    def before(self, case: Case) -> None:
        key = voice_key(case.recording)
        voice = self.voices.get(key) if key else None
        if voice is None:  # a new speaker (room noise: nobody, learning nothing kept)
            voice = VoiceTemplates(self.rec.model_name)
            if key:
                self.voices[key] = voice
        self.rec.user.learned = voice

    def after(self, res: FileResult, case: Case) -> None:
        """Learn from a command accepted; a rating heard as another number, or a "no" heard
        as a yes, the user puts right at once (as the live loop lets them:
        rating.CORRECT_WITHIN_S), so what was learned from it goes (Recognizer.misheard)."""
        if res.intent is not None:  # (one asked back: as if the user said yes to it)
            utt = Utterance(res.text, res.confidence, 0.0, res.duration, unsure=res.unsure)
            self.rec.acted_on(utt)
            want = case.expect
            if want is not None and res.intent != want and (
                    (res.intent.name in RATING_INTENTS and want.name in RATING_INTENTS)
                    or (res.intent.name == "yes" and want.name == "no")):
                self.rec.misheard(utt)
