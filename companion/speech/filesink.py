"""--speaker-file OUT.wav: what the companion said, written into one WAV at the audio time it
said it, with silence between. For replays, where time is the recording's time: the WAV
lines up with the input recording, so the two can be listened to or compared side by side."""

from __future__ import annotations

import os
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional, Union

import numpy as np

from companion.audio.gain import with_gain
from companion.audio.resample import resample
from companion.core.errors import CompanionError
from companion.speech.base import GATE_TAIL_S, ClockLike, Playback, _History, as_clock
from companion.speech.render import RenderedCue, CueRenderer


@dataclass
class _Placed:
    utt: Playback
    start: int            # frame where the cue begins in the output
    samples: np.ndarray   # int16, possibly cut short by stop()

    @property
    def end(self) -> int:
        return self.start + len(self.samples)


class FileSpeaker:
    """Writes cues into one WAV (16-bit mono) at the audio-clock time they are said.

    say(text, at=seconds) places the cue at `at`, or right after the previous cue if that
    is still playing then (like a real speaker's queue). Without `at`, the time is read from
    `clock` (a function or an object with now(), e.g. the loop's ManualClock); without a
    clock, the latest time it was given. stop(at) cuts the playing cue at that time and drops
    later ones. The file appears (atomically) at close(at=end of the recording).
    """

    def __init__(self, path: Union[str, Path], *, renderer: Optional[CueRenderer] = None,
                 clock: Optional[ClockLike] = None, samplerate: Optional[int] = None,
                 tail: float = GATE_TAIL_S) -> None:
        self.renderer = renderer or CueRenderer()
        self.path = Path(path)
        self.samplerate = int(samplerate or self.renderer.samplerate)
        self.tail = tail
        self.gain_db = 0.0  # louder or quieter than the cues' level (speech.loudness)
        self._clock = as_clock(clock) if clock is not None else None
        self._history = _History()
        self._now = 0.0          # latest audio time seen
        self._written = 0        # frames already in the file
        self._end = 0            # frame where the last placed cue ends
        self._pending: list[_Placed] = []   # cues a later stop() may still cut
        self._tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._wav = wave.open(str(self._tmp), "wb")
        except OSError as e:
            raise CompanionError(f"cannot write the speaker file {self.path}: {e}") from None
        self._wav.setnchannels(1)
        self._wav.setsampwidth(2)
        self._wav.setframerate(self.samplerate)
        self._closed = False

    @property
    def history(self) -> list[Playback]:
        return self._history.list()

    def _time(self, at: Optional[float]) -> float:
        if at is not None:
            t = float(at)
        elif self._clock is not None:
            t = float(self._clock())
        else:
            t = self._now
        self._now = max(self._now, t)   # audio time only moves forward
        return self._now

    def _frame(self, t: float) -> int:
        return int(round(t * self.samplerate))

    def _load(self, cue: RenderedCue) -> np.ndarray:
        """The cue's samples at this file's rate and gain, as the playback process plays them."""
        x = cue.samples()
        if (cue.samplerate == self.samplerate and not self.gain_db) or len(x) == 0:
            return x
        y = x.astype(np.float32) / 32768.0
        if cue.samplerate != self.samplerate:
            y = resample(y, cue.samplerate, self.samplerate)
        y = with_gain(y, self.gain_db)
        return (np.clip(y, -1.0, 32767 / 32768) * 32768.0).astype(np.int16)

    def say(self, text: str, at: Optional[float] = None) -> float:
        if self._closed:
            raise CompanionError("the speaker file is already closed")
        t = self._time(at)
        self._flush(self._frame(t))
        cue = self.renderer.render(text)
        samples = self._load(cue)
        start = max(self._frame(t), self._end)
        sr = self.samplerate
        utt = self._history.new(cue.text, t, seconds=len(samples) / sr, status="placed",
                                started_at=start / sr, audio_start=start / sr,
                                ended_at=(start + len(samples)) / sr)
        self._pending.append(_Placed(utt, start, samples))
        self._end = start + len(samples)
        return utt.seconds

    def stop(self, at: Optional[float] = None) -> None:
        f = self._frame(self._time(at))
        keep = []
        for p in self._pending:
            if p.start >= f:        # had not started: never heard
                p.utt.status, p.utt.ended_at = "stopped", p.utt.queued_at
                p.utt.audio_start = p.utt.started_at = None
                continue
            if p.end > f:           # playing: cut here
                p.samples = p.samples[:f - p.start]
                p.utt.status, p.utt.ended_at = "stopped", f / self.samplerate
            keep.append(p)
        self._pending = keep
        self._end = max([self._written] + [p.end for p in keep])

    def busy_until(self) -> float:
        return self._end / self.samplerate + self.tail

    def busy(self) -> bool:
        return self.busy_for() > 0

    def busy_for(self) -> float:
        now = self._time(None) if self._clock is not None else self._now
        return max(0.0, self.busy_until() - now)

    def prerender(self, texts: Iterable[str]) -> list[RenderedCue]:
        return self.renderer.prerender(texts)

    def _silence(self, frames: int) -> None:
        block = np.zeros(min(frames, self.samplerate * 10), dtype="<i2")
        while frames > 0:
            n = min(frames, len(block))
            self._wav.writeframes(block[:n].tobytes())
            frames -= n

    def _flush(self, upto: int) -> None:
        """Write out the cues that end by frame `upto`: a stop() at or after it cannot
        change them any more."""
        while self._pending and self._pending[0].end <= upto:
            p = self._pending.pop(0)
            self._silence(p.start - self._written)
            self._wav.writeframes(p.samples.astype("<i2").tobytes())
            self._written = p.end

    def close(self, at: Optional[float] = None) -> None:
        """Write everything out, pad with silence to `at` (the end of the recording; else
        the clock's time) if that is later, and move the file into place."""
        if self._closed:
            return
        self._closed = True
        self._time(at)
        try:
            self._flush(self._end)
            pad = max(0, self._frame(self._now) - self._written)
            self._silence(pad)
            self._written += pad
            self._wav.close()
            os.replace(self._tmp, self.path)
        except OSError as e:
            raise CompanionError(f"cannot write the speaker file {self.path}: {e}") from None
        finally:
            if self._tmp.exists():
                self._tmp.unlink()

    def __enter__(self) -> "FileSpeaker":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
