"""Audio in: frames of 16 kHz mono int16 from a WAV file or the microphone.

Every frame carries its audio time (sample count / rate), so a replayed file and a live
session look the same downstream and time in a replay is audio time, not wall time."""

from __future__ import annotations

import logging
import queue
import threading
import time
from pathlib import Path
from typing import Any, Iterator, Optional, Protocol, Union

import numpy as np

from companion.audio.devices import find_device
from companion.core.errors import CompanionError
from companion.core.interfaces import RATE, Frame
from companion.audio.resample import Resampler
from companion.audio.wav import read_blocks

# 30 ms: the clock moves, and session timers fire, this often, so a cue may start up to
# 30 ms after it was due (lags never add up: each step's time counts from when it was
# due). Finer frames cost CPU while listening: measured live on the virtual card, idle
# CPU rose from 0.047-0.050 (30 ms) to 0.058-0.060 (20 ms) and 0.061-0.066 (10 ms), over
# the 0.05 budget. The endpointer regroups any frame size into its detector's 30 ms.
FRAME_SAMPLES = 480
FRAME_BYTES = FRAME_SAMPLES * 2
CUT_REPORT_EVERY_S = 60.0   # a busy machine cuts audio again and again: say so once a minute

logger = logging.getLogger(__name__)


class Source(Protocol):
    def frames(self) -> Iterator[Frame]: ...


def to_int16(x: np.ndarray) -> bytes:
    return (np.clip(x, -1.0, 32767 / 32768) * 32768.0).astype("<i2").tobytes()


def pcm_frames(pcm: bytes, first_sample: int = 0) -> Iterator[Frame]:
    """16 kHz int16 audio as 30 ms frames, timed from `first_sample` (the last frame may be
    short, as a file's)."""
    for i in range(0, len(pcm), FRAME_BYTES):
        yield Frame(pcm[i:i + FRAME_BYTES], (first_sample + i // 2) / RATE)


class WavSource:
    """A WAV file of any rate, width and channel count, as 16 kHz mono frames. With
    realtime=True frames are paced to the wall clock (a replayed session); otherwise
    they come as fast as the CPU allows. Header problems raise AudioFileError here."""

    def __init__(self, path: Union[str, Path], realtime: bool = False) -> None:
        self.path = Path(path)
        self.realtime = realtime
        self.info, self._blocks = read_blocks(self.path)

    @property
    def duration(self) -> float:
        return self.info.duration

    def frames(self) -> Iterator[Frame]:
        rs = Resampler(self.info.rate, RATE)
        pending = b""
        n = 0  # samples emitted: the clock
        t0 = time.monotonic()
        for block in self._blocks:
            pending += to_int16(rs.feed(block))
            while len(pending) >= FRAME_BYTES:
                frame = Frame(pending[:FRAME_BYTES], n / RATE)
                pending = pending[FRAME_BYTES:]
                n += FRAME_SAMPLES
                if self.realtime:
                    ahead = frame.end - (time.monotonic() - t0)
                    if ahead > 0:
                        time.sleep(ahead)
                yield frame
        pending += to_int16(rs.flush())
        for i in range(0, len(pending), FRAME_BYTES):
            chunk = pending[i:i + FRAME_BYTES]
            yield Frame(chunk, n / RATE)
            n += len(chunk) // 2


def with_quiet(frames: Iterator[Frame], seconds: float) -> Iterator[Frame]:
    """The frames with `seconds` of silence before and after, on one clock: a recording cut
    at the word's first and last sample (FSDD's digits are) heard as a microphone hears a
    word said in a quiet room, where the endpointer's pre-roll gives the recognizer the
    moment before it."""
    n = int(round(seconds * RATE / FRAME_SAMPLES))
    quiet = bytes(FRAME_BYTES)
    offset = n * FRAME_SAMPLES / RATE
    for i in range(n):
        yield Frame(quiet, i * FRAME_SAMPLES / RATE)
    end = offset
    for f in frames:
        end = f.end + offset
        yield Frame(f.pcm, f.start + offset)
    for i in range(n):
        yield Frame(quiet, end + i * FRAME_SAMPLES / RATE)


class MicrophoneLost(CompanionError):
    """The microphone stopped delivering audio (unplugged, or its sound server died)."""


class MicSource:
    """The microphone through sounddevice. The PortAudio callback only enqueues (it must
    never block); frames() does the rest on the reader's thread. Audio time counts
    samples received, so it keeps step with the audio even if the reader falls behind.
    If no audio arrives for stall_s seconds, frames() raises MicrophoneLost."""

    def __init__(self, device: Union[int, str, None] = None, max_queue: int = 400,
                 stall_s: float = 1.5) -> None:
        # One place finds devices and lists the ones there are when the name is wrong.
        self.device = find_device(device, "input")
        # (a block, samples dropped just before it): a drop is carried to the next block
        self._q: "queue.Queue[Optional[tuple[bytes, int]]]" = queue.Queue(maxsize=max_queue)
        self._gap = 0         # samples dropped since the last block queued (callback only)
        self.dropped = 0      # blocks lost because the reader fell behind (our queue full)
        self.overflows = 0    # blocks PortAudio reported cut (input overflow) before us
        self._reported, self._reported_at = 0, float("-inf")
        self.stall_s = stall_s
        self._stream: Any = None  # a sounddevice.RawInputStream while open (no type hints)

    def _callback(self, indata, frames, time_info, status) -> None:
        if status and status.input_overflow:
            self.overflows += 1
        try:
            self._q.put_nowait((bytes(indata), self._gap))
            self._gap = 0
        except queue.Full:
            self.dropped += 1  # the reader stalled; better lose audio than block PortAudio
            self._gap += frames

    def frames(self) -> Iterator[Frame]:
        import sounddevice as sd

        start_closer()  # here, not when the stream is let go: see _to_close
        try:
            self._stream = sd.RawInputStream(
                samplerate=RATE, blocksize=FRAME_SAMPLES, device=self.device,
                channels=1, dtype="int16", callback=self._callback)
            self._stream.start()
        except Exception as e:
            raise CompanionError(f"cannot open the microphone: {e}") from None
        try:
            yield from self._queued()
        finally:
            self._release()

    def _queued(self) -> Iterator[Frame]:
        """Frames from the queue, timed by every sample the device delivered: blocks dropped
        because the reader fell behind still count. Audio time then keeps step with the
        room, and with the cue schedule our own voice's echo is checked against (under a
        test suite on an overloaded machine the safety note's own "shooting" was heard as
        the user's, over a second before the schedule put it: a clock fallen behind)."""
        n = 0
        while True:
            try:
                item = self._q.get(timeout=self.stall_s)
            except queue.Empty:
                raise MicrophoneLost(f"no audio from the microphone for {self.stall_s} s")
            if item is None:
                return
            pcm, gap = item
            n += gap
            self._report_cuts()
            yield Frame(pcm, n / RATE)
            n += len(pcm) // 2

    def backlog_s(self) -> float:
        """Seconds of audio the device has delivered that frames() has not yet yielded: a
        reader busy decoding falls this far behind the room (a cue said now is heard that
        much later in audio time)."""
        return self._q.qsize() * FRAME_SAMPLES / RATE

    def _report_cuts(self) -> None:
        """Audio lost on its way in means commands may be missed: on an overloaded machine
        the user should hear why (a warning on the terminal and in the journal)."""
        cut = self.dropped + self.overflows
        if cut == self._reported:   # the usual case, every frame: nothing new to say
            return
        now = time.monotonic()
        if now - self._reported_at >= CUT_REPORT_EVERY_S:
            logger.warning("the microphone's audio was cut %d time%s so far: this machine is "
                           "too busy to keep up, and commands may be missed", cut,
                           "" if cut == 1 else "s")
            self._reported, self._reported_at = cut, now

    def _release(self) -> None:
        """Close the stream off this thread: PortAudio can hang closing a stream whose
        device has gone, and the session must not hang with it."""
        stream, self._stream = self._stream, None
        if stream is not None:
            close_in_background(stream)

    def close(self) -> None:
        """Make frames() end (from another thread, e.g. on shutdown)."""
        try:
            self._q.put_nowait(None)
        except queue.Full:  # the reader is behind; drop one block to make room
            try:
                self._q.get_nowait()
            except queue.Empty:
                pass
            self._q.put_nowait(None)


_closing = 0                     # streams whose close has not returned yet
_closing_lock = threading.Condition()
# Streams handed over to be closed, and the thread that starts each one's close. A stream
# may be let go from a garbage collector's finalizer (a frames() generator nobody closed,
# collected after Ctrl-C). A thread started there hung the companion for good (seen once
# in the test suite: Thread.start waited for a thread that never ran; why, was not found).
# So nothing is started there: a SimpleQueue's put() is safe in a finalizer, and the thread
# that takes from it is started beforehand, from ordinary code.
_to_close: "queue.SimpleQueue[Any]" = queue.SimpleQueue()
_closer: Optional[threading.Thread] = None
_closer_lock = threading.Lock()


def start_closer() -> None:
    """Start the thread that closes streams, if it is not running (call where a stream is
    opened, never from a finalizer)."""
    global _closer
    with _closer_lock:
        if _closer is None or not _closer.is_alive():
            _closer = threading.Thread(target=_close_each, daemon=True, name="mic-closer")
            _closer.start()


def _close_each() -> None:
    """Each stream handed over gets a thread of its own: a close that hangs (a dead sound
    server) holds up no other."""
    while True:
        stream = _to_close.get()
        threading.Thread(target=_close_quietly, args=(stream,), daemon=True,
                         name="mic-close").start()


def close_in_background(stream: Any) -> None:
    """abort() and close() a stream off this thread. Counted from before it is handed over,
    so streams_closing() never misses it. Safe to call from a finalizer once start_closer()
    has run."""
    global _closing
    with _closing_lock:
        _closing += 1
    _to_close.put(stream)
    if _closer is None:
        start_closer()


def streams_closing() -> int:
    """Streams still being closed. PortAudio must not be restarted under one: seen on a
    busy machine, abort() of a stream whose sound server died never returned, and
    Pa_Terminate (a device rescan) then waited for it forever, holding the session."""
    with _closing_lock:
        return _closing


def _close_quietly(stream: Any) -> None:
    global _closing
    try:
        stream.abort()
        stream.close()
    except Exception:  # the device is gone; there is nothing left to tell anyone
        pass
    finally:
        with _closing_lock:
            _closing -= 1
            _closing_lock.notify_all()


def release_portaudio_at_exit(wait_s: float = 2.0) -> None:
    """Before the process ends: sounddevice's exit handler terminates PortAudio, which
    waits for every stream's close, forever for a hung one (seen after the sound server
    died; SIGTERM then left the companion running). Give closes wait_s to finish; if one
    is still hung, skip that handler: the process is ending, the system frees the device."""
    with _closing_lock:
        if _closing_lock.wait_for(lambda: _closing == 0, timeout=wait_s):
            return
    import atexit
    import sys

    sd = sys.modules.get("sounddevice")
    if sd is not None:
        logger.warning("a closed microphone stream did not let go; leaving without "
                       "shutting PortAudio down")
        atexit.unregister(sd._exit_handler)
