"""`companion run --debug-record FILE.wav`: keep what the microphone heard, for diagnosing
recognition. Off unless asked for; the file is private (0600) like the pain log, since it
holds the user's voice."""

from __future__ import annotations

import os
import wave
from typing import Iterable, Iterator, Optional

from companion.core.errors import CompanionError
from companion.hearing.sources import RATE, Frame


class DebugRecording:
    """tee(frames) passes frames on and appends their audio to a 16 kHz mono WAV."""

    def __init__(self, path: str) -> None:
        self.path = path
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.fchmod(fd, 0o600)  # O_CREAT's mode does nothing for a file that exists
        except OSError as e:
            raise CompanionError(f"cannot write the debug recording {path}: {e.strerror}") \
                from None
        self._file = os.fdopen(fd, "wb")
        self._wav: Optional[wave.Wave_write] = wave.open(self._file, "wb")
        self._wav.setnchannels(1)
        self._wav.setsampwidth(2)
        self._wav.setframerate(RATE)

    def tee(self, frames: Iterable[Frame]) -> Iterator[Frame]:
        for f in frames:
            if self._wav is not None:
                self._wav.writeframesraw(f.pcm)
            yield f

    def close(self) -> None:
        if self._wav is not None:
            self._wav.close()  # fixes up the header's lengths
            self._wav = None
            self._file.close()
