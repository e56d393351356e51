"""Voice activity and endpointing: cut utterances out of a frame stream.

Speech starts when most of a short window of frames is voiced and the segment then
reaches back a pre-roll, so the first consonant ("s" of "stop") is not lost. It ends
after a short hangover of mostly unvoiced frames (~300 ms), so "pain six" is acted on
as soon as it is said, not after a second of silence. A maximum length stops TV chatter
from holding the door open forever. A segment with no voice's pitch in it (hiss, water,
clatter that fool the voice detector) is dropped before it costs a decode."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Iterable, Iterator, Optional

import numpy as np

from companion.audio.levels import frame_levels
from companion.hearing.sources import RATE, Frame

VAD_SAMPLES = 480  # 30 ms: the voice detector's frame at 16 kHz
# Twelve starts within one frame: where a word may fall against the frames (the phase
# test and scripts/frame_phase.py shift audio by each; no segment may depend on it).
FRAME_PHASES = range(0, VAD_SAMPLES, VAD_SAMPLES // 12)
VAD_BYTES = VAD_SAMPLES * 2
FRAME_S = VAD_SAMPLES / RATE
FLOOR_EVERY = 5  # frames between fresh looks at the room's floor (it moves slowly)
DIGITAL_SILENCE_DB = 3.0  # a floor under this (rms ~1 LSB) is no microphone's


def vad_frames(frames: Iterable[Frame]) -> Iterator[Frame]:
    """Regroup frames of any size into 30 ms ones. Each is yielded as soon as its last
    sample has arrived, so regrouping adds no delay; a short remainder ends the stream."""
    pending, start = b"", 0.0
    for f in frames:
        if not pending:
            start = f.start
        pending += f.pcm
        while len(pending) >= VAD_BYTES:
            yield Frame(pending[:VAD_BYTES], start)
            pending = pending[VAD_BYTES:]
            start += FRAME_S
    if pending:
        yield Frame(pending, start)


@dataclass(frozen=True)
class Segment:
    """One stretch of speech: pcm (16 kHz mono int16) from start to end, audio seconds."""

    pcm: bytes
    start: float
    end: float


@dataclass(frozen=True)
class EndpointConfig:
    vad_mode: int = 2            # WebRTC aggressiveness 0 (loose) .. 3 (strict)
    start_window: int = 4        # frames looked at to decide speech has started
    start_voiced: int = 3        # ... of which this many must be voiced (~90 ms)
    pre_roll: float = 0.30       # seconds of audio kept from before the start
    hangover: float = 0.30       # trailing window that must be (nearly) unvoiced to end
    end_voiced_max: int = 1      # voiced frames allowed in that window
    max_length: float = 6.0      # cut an utterance this long regardless
    min_voiced: float = 0.09     # drop segments with less voiced audio (clicks, knocks)
    noise_margin_db: float = 8.0  # voiced frames must beat the noise floor by this; 0 = off
    noise_window: float = 3.0    # seconds of history the floor is taken from
    noise_warmup: float = 1.0    # trust the VAD alone until this much history exists
    # A spoken command has a vowel, so a pitch: some 60 ms of it repeats itself at a lag of
    # 2.5-16.7 ms (PITCH_LAGS). Running taps, fans, dishes and hiss that fool the VAD do
    # not, and are dropped before they cost a decode. 0 = off.
    min_periodicity: float = 0.55
    # ... but a breathy "stop" peaks at 0.50-0.53, and Whisper hears it at once (three of
    # the benchmark's, each "Stop" with full confidence). A segment of at most short_s
    # (pre-roll and hangover included: one short word) needs only short_periodicity: noise
    # in that band mostly comes in longer stretches (`bench loop`'s ten minutes of loud room
    # noise: 69 segments, 151 s, of 0.57-3.5 s; ten of them as short).
    # Both bars were chosen (2026-12-07) with periodicity's 5 ms hop, over every segment the
    # VAD cuts: no dev or test recording, no rendered phrase loses its word's segment; the
    # 2 h waiting soak decodes 777 segments, the loud room 141 s of 600 (with the 30 ms hop
    # and bars of 0.5 / 0.45: 782, and 216 s).
    short_periodicity: float = 0.47
    short_s: float = 1.2
    # WebRTC's voice detector ignores quiet speech whatever the room (FSDD's digits 30 dB
    # under the benchmark's level over a -75 dBFS room: 27 of 500 gave no segment). So
    # once the floor is known (noise_warmup), the detector hears each frame lifted by as
    # much as brings that floor up to vad_floor_db (dB of int16 energy: 30 is about -60
    # dBFS), at most vad_max_lift_db; a room that loud already is heard as is. What counts
    # as voiced is still judged against the floor (noise_margin_db). 0 = off.
    vad_floor_db: float = 30.0
    vad_max_lift_db: float = 30.0


class Endpointer:
    """segments(frames) -> speech Segments, each yielded as soon as it has ended."""

    def __init__(self, config: EndpointConfig = EndpointConfig()) -> None:
        from pocketsphinx import Vad

        self.config = config
        self._vad = Vad(mode=config.vad_mode, sample_rate=RATE, frame_length=FRAME_S)
        if self._vad.frame_bytes != VAD_BYTES:
            raise RuntimeError("the voice detector's frame is not 30 ms")
        self._energies: deque[float] = deque(maxlen=max(1, round(config.noise_window / FRAME_S)))
        self._floor: Optional[float] = None  # dB: the 10th percentile of those energies
        self._since_floor = 0

    def is_voiced(self, frame: Frame) -> bool:
        pcm = frame.pcm
        if len(pcm) < VAD_BYTES:
            pcm = pcm + bytes(VAD_BYTES - len(pcm))
        x = np.frombuffer(pcm, dtype="<i2")
        energy = float(frame_levels(x, len(x))[0])
        history = self._energies
        history.append(energy)
        c = self.config
        settled = len(history) * FRAME_S >= c.noise_warmup
        if settled and (c.noise_margin_db > 0 or c.vad_floor_db > 0):
            # The room's floor moves slowly: worked out every FLOOR_EVERY frames, not each.
            self._since_floor += 1
            if self._floor is None or self._since_floor >= FLOOR_EVERY:
                self._floor, self._since_floor = float(np.percentile(history, 10)), 0
        # (No floor until settled.) Digital silence (a file, a muted source) is no room:
        # nothing to lift against.
        lift = (min(c.vad_max_lift_db, c.vad_floor_db - self._floor)
                if c.vad_floor_db > 0 and self._floor is not None
                and self._floor >= DIGITAL_SILENCE_DB else 0.0)
        if lift > 0:
            pcm = np.clip(x * 10 ** (lift / 20), -32768, 32767).astype("<i2").tobytes()
        if not self._vad.is_speech(pcm):
            return False
        if c.noise_margin_db <= 0 or self._floor is None:
            return True
        return energy >= self._floor + c.noise_margin_db

    def segments(self, frames: Iterable[Frame]) -> Iterator[Segment]:
        c = self.config
        pre_n = max(c.start_window, round(c.pre_roll / FRAME_S))
        hang_n = max(1, round(c.hangover / FRAME_S))
        max_n = round(c.max_length / FRAME_S)
        history: deque[tuple[Frame, bool]] = deque(maxlen=pre_n)
        current: list[tuple[Frame, bool]] = []
        for frame in vad_frames(frames):
            voiced = self.is_voiced(frame)
            if not current:
                history.append((frame, voiced))
                recent = list(history)[-c.start_window:]
                if sum(v for _, v in recent) >= c.start_voiced:
                    current = list(history)
                    history.clear()
                continue
            current.append((frame, voiced))
            tail = current[-hang_n:]
            ended = len(tail) == hang_n and sum(v for _, v in tail) <= c.end_voiced_max
            if ended or len(current) >= max_n:
                seg = self._segment(current)
                current = []
                if seg is not None:
                    yield seg
        if current:
            seg = self._segment(current)
            if seg is not None:
                yield seg

    def _segment(self, frames: list[tuple[Frame, bool]]) -> "Segment | None":
        c = self.config
        if sum(v for _, v in frames) * FRAME_S < c.min_voiced:
            return None
        pcm = b"".join(f.pcm for f, _ in frames)
        if c.min_periodicity > 0:
            least = (min(c.min_periodicity, c.short_periodicity)
                     if len(frames) * FRAME_S <= c.short_s else c.min_periodicity)
            if periodicity(pcm) < least:
                return None
        return Segment(pcm, frames[0][0].start, frames[-1][0].end)


PITCH_LAGS = (RATE // 400, RATE // 60)  # a voice's pitch period: 2.5 to 16.7 ms
# Windows start every 5 ms. The best of them is the verdict, and a breathy word's pitch may
# last one window: on a 30 ms hop the same "stop" gave 0.58-0.73 by where the frames fell
# (and one was dropped in a replayed session); on this hop, within 0.02. It costs 3.4 ms a
# second of segment on this AMD EPYC (1.2 ms on the 30 ms hop), and only once one is cut.
PERIODICITY_HOP = RATE // 200


def periodicity(pcm: bytes) -> float:
    """The highest normalized autocorrelation at a pitch lag over 60 ms windows (hop
    PERIODICITY_HOP) of 16 kHz int16 audio: near 1 for a held vowel, ~0.2-0.4 for hiss."""
    x = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    win, (lo, hi) = 2 * VAD_SAMPLES, PITCH_LAGS
    starts = np.arange(0, len(x) - win + 1, PERIODICITY_HOP)
    unbias = 1.0 - np.arange(lo, hi) / win  # a lag k has only win - k samples in common
    best = 0.0
    for i in range(0, len(starts), 32):  # blocks of windows: a 6 s segment stays small
        w = x[starts[i:i + 32, None] + np.arange(win)]
        w -= w.mean(axis=1, keepdims=True)
        # 1280 >= win + hi: the circular autocorrelation equals the linear one up to hi.
        ac = np.fft.irfft(np.abs(np.fft.rfft(w, 1280, axis=1)) ** 2, 1280, axis=1)
        loud = ac[:, 0] > win  # skip digital near-silence (rms under 1 LSB)
        if loud.any():
            best = max(best, float((ac[loud, lo:hi] / (ac[loud, :1] * unbias)).max()))
    return best
