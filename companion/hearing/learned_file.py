"""The voice learned in use, kept between runs: the learned takes' frames (the speech
model's view of them, never their sound) in `learned.npz` beside the pain log, private as
the taught voice is (templates.VoiceTemplates.save).

Why: a companion that learned how its user says "three" forgot it at every restart, and a
Pi is unplugged at night: each morning began as a stranger's (dev `bench recognition --learn
--returning`: FSDD's Belgian speaker 233 -> 237 of 250 over the whole split, and his first
takes of a run are where it counts). The sound stays in memory (no audio is kept), so after a
restart the kept takes are matched by their frames alone, and the model is shown takes again
as new ones are learned.

Written when the learned takes have changed and a minute has passed since the last write,
and when the recognizer closes: a take learned a moment before a power cut may be lost, the
rest are not, and the SD card is not written after every command. Removed while the
companion runs (`companion enroll --forget`), it is not written back: what was learned is
forgotten in memory too, at the next write."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Callable, Optional

from companion.hearing.templates import VoiceTemplates, load_voice

logger = logging.getLogger(__name__)

SAVE_EVERY_S = 60.0


def load_learned(path: Optional[Path], model: str) -> tuple[Optional[VoiceTemplates], str]:
    """load_voice for the learned voice: one that cannot be used is learned again."""
    return load_voice(path, model, "learned voice",
                      "it is learned again as you use the companion")


class LearnedFile:
    """Keeps one recognizer's learned takes at `path`. `clock`: seconds, for the minute
    between writes (time.monotonic; tests give their own)."""

    def __init__(self, path: Path, every_s: float = SAVE_EVERY_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.path, self.every_s, self.clock = path, every_s, clock
        self._saved: tuple[int, int] = (0, -1)   # (id of the takes, their version) on disk
        self._at = -float("inf")                 # when last written
        self._on_disk = False                    # the file was there when last read or written

    def load(self, model: str) -> tuple[VoiceTemplates, str]:
        """The takes kept for this model (none yet: an empty set), and why a file there was
        not used ("": it was, or there was none). A file that cannot be used is replaced
        by the next write: it is the companion's own, remade as it learns."""
        voice, note = load_learned(self.path, model)
        if voice is None:
            return VoiceTemplates(model), note
        self._saved, self._on_disk = (id(voice), voice.version), True
        return voice, ""

    def changed(self, voice: VoiceTemplates) -> None:
        """The takes may have changed (a take learned or unlearned): written if they did
        and the last write is a minute old."""
        if self.clock() - self._at >= self.every_s:
            self.save(voice)

    def save(self, voice: VoiceTemplates) -> bool:
        """Written now if changed since the last write (False: nothing to write, or the
        disk refused: said in the log, the takes stay in memory and are tried again)."""
        if self._on_disk and not self.path.exists():
            # Removed while the companion ran (`companion enroll --forget`): the user wants
            # it forgotten, so what is in memory goes too, rather than being written back.
            logger.info("%s was removed: what was learned of the voice is forgotten", self.path)
            for phrase in list(voice.takes):
                voice.forget(phrase)
            self._on_disk, self._saved = False, (id(voice), voice.version)
            return False
        if (id(voice), voice.version) == self._saved:
            return False
        if not len(voice) and not self.path.exists():
            self._saved = (id(voice), voice.version)  # nothing learned, nothing to keep
            return False
        try:
            voice.save(self.path)
        except OSError as e:
            logger.warning("could not keep the learned voice in %s: %s", self.path,
                           e.strerror or e)
            self._at = self.clock()  # not again at once: a full disk stays full a while
            return False
        self._saved, self._at, self._on_disk = (id(voice), voice.version), self.clock(), True
        return True
