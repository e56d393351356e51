"""Cues through a real speaker: PortAudio (sounddevice) on the configured output device.

The stream lives in a small child process (companion/audio/player.py) that keeps one
output stream running for the whole session, so a queued cue starts at the next audio
callback (a few milliseconds) instead of waiting for a device to open. The child exists
because a vanished device wedges PortAudio's ALSA stream thread for good (see player.py):
a wedged child is killed, a wedged stream inside the companion would hang it.

Timing: the child reports, for each cue, when its first and last samples were handed to
the device and PortAudio's estimate of when they reach the speaker (outputBufferDacTime),
on time.monotonic(). `extra_latency` adds what PortAudio cannot see (a sound server's own
buffering: about 0.13 s more with PipeWire here). busy_until() is when the last sample
really leaves the speaker plus the gate tail; recognition should ignore the microphone
until then (except for barge-in words).
"""

from __future__ import annotations

import threading
import time
from typing import Iterable, Optional, Union

from companion.audio.player_messages import (Done, Error, Failed, Heartbeat, Junk, Message,
                                             Play, Started, Stop, Stopped)
from companion.core.errors import CompanionError
from companion.speech.base import GATE_TAIL_S, Playback, _History
from companion.speech.player_process import PlayerProcess
from companion.speech.render import RenderedCue, CueRenderer

# Samples per audio callback. Keeping the stream open costs CPU per callback: measured idle
# on the virtual card, 256 -> 0.038 of a core, 512 -> 0.019-0.024, 1024 -> 0.014. At
# 22.05 kHz, 512 adds at most 23 ms before a queued cue starts, inside its 30 ms budget.
BLOCKSIZE = 512
DeviceSpec = Union[int, str, None]
monotonic = time.monotonic


class DeviceSpeaker:
    """Plays cues on an output device given by index or (part of its) name; None is the
    system default. Raises CompanionError (listing the output devices) if there is no such
    device or it cannot be opened.

    say() renders (or finds the cached) cue, queues it and returns its length at once.
    stop() cuts the playing cue and drops the queue, flushing the device's buffer.
    A device that fails later does not raise: `error` says what happened, cues in flight
    and later ones are marked failed, and busy() turns false; reopen() tries again.
    """

    realtime = True  # plays when told, in wall time: the loop accounts for render time

    def __init__(self, device: DeviceSpec = None, *, renderer: Optional[CueRenderer] = None,
                 latency: Union[str, float] = "high", blocksize: int = BLOCKSIZE,
                 samplerate: Optional[int] = None, extra_latency: float = 0.0,
                 tail: float = GATE_TAIL_S, start_timeout: float = 20.0,
                 stall_timeout: float = 1.0) -> None:
        self.renderer = renderer or CueRenderer()
        self.device = device
        self.tail = tail
        self.extra_latency = float(extra_latency)
        self.gain_db = 0.0  # louder or quieter than the cues' level (speech.loudness)
        self._history = _History()
        self._lock = self._history.lock
        self._pending: list[Playback] = []     # queued or playing, in order
        self._by_id: dict[int, Playback] = {}
        self._last_end = 0.0                     # when the last cue really ended
        self._error: Optional[CompanionError] = None
        self._closing = False
        self.underflows = 0
        self._cfg = {"device": device, "latency": latency, "blocksize": blocksize,
                     "samplerate": samplerate, "cue_rate": self.renderer.samplerate,
                     "stall_timeout": stall_timeout}
        self._start_timeout = start_timeout
        self._start()

    def _start(self) -> None:
        player = PlayerProcess(self._cfg, self._start_timeout)
        ready = player.ready
        self.device_name: str = ready.device
        self.device_index: int = ready.index
        self.samplerate: int = ready.samplerate
        self.latency: float = ready.latency   # PortAudio's output latency, seconds
        self.startup_seconds = player.startup_seconds
        self._player = player
        self._reader = threading.Thread(target=self._read_loop, args=(player,),
                                        name="speaker-events", daemon=True)
        self._reader.start()

    def reopen(self) -> None:
        """After an error (a speaker plugged back in): start playback again, or raise
        CompanionError if the device is still not there."""
        if self._closing:
            raise CompanionError("speaker: already closed")
        self._player.kill()
        self._reader.join(timeout=2.0)
        with self._lock:
            self._fail_locked("reopened")
        self._start()
        with self._lock:
            self._error = None

    # ----- the playback process's events ---------------------------------------------

    def _read_loop(self, player: PlayerProcess) -> None:
        silent_limit = 3.0   # the player says something at least every 0.25 s
        while True:
            ev = player.read(deadline=monotonic() + silent_limit)
            if player is not self._player or self._closing:
                return       # reopened or closed: this one's news is old
            if ev is None:
                if player.proc.poll() is None:
                    player.kill()
                    self._fail("the playback process stopped responding")
                else:
                    self._fail(f"the playback process ended ({player.tail_stderr()})")
                return
            self._handle(ev)
            if isinstance(ev, Error):
                player.kill()
                return

    def _handle(self, ev: Union[Message, Junk]) -> None:
        # Ready, Flushed, Bye, Junk and commands change nothing here.
        with self._lock:
            if isinstance(ev, Started):
                u = self._by_id.get(ev.id)
                if u is not None and u.status == "queued":
                    u.status = "playing"
                    u.started_at = ev.t
                    u.audio_start = ev.dac + self.extra_latency
            elif isinstance(ev, Done):
                u = self._by_id.pop(ev.id, None)
                if u is not None and u.status in ("queued", "playing"):
                    u.status = "done"
                    u.ended_at = ev.dac + self.extra_latency
                    self._last_end = max(self._last_end, u.ended_at)
                    self._drop(u)
            elif isinstance(ev, Stopped):
                for i in ev.ids:
                    self._by_id.pop(i, None)
            elif isinstance(ev, Failed):
                u = self._by_id.pop(ev.id, None)
                if u is not None:
                    u.status, u.error = "failed", ev.message
                    self._drop(u)
            elif isinstance(ev, Heartbeat):
                self.underflows = ev.underflows
            elif isinstance(ev, Error):
                self._fail_locked(ev.message)

    def _drop(self, u: Playback) -> None:
        if u in self._pending:
            self._pending.remove(u)

    def _fail(self, message: str) -> None:
        with self._lock:
            self._fail_locked(message)

    def _fail_locked(self, message: str) -> None:
        if self._error is None:
            self._error = CompanionError(f"speaker '{self.device_name}': {message}")
        now = monotonic()
        for u in self._pending:
            u.status, u.error = "failed", message
            u.ended_at = now
        self._pending.clear()
        self._by_id.clear()
        self._last_end = min(self._last_end, now)

    # ----- the Speaker interface -----------------------------------------------------

    @property
    def error(self) -> Optional[CompanionError]:
        """Why the device stopped working (unplugged, sound server gone), or None."""
        return self._error

    @property
    def history(self) -> list[Playback]:
        return self._history.list()

    def say(self, text: str, at: Optional[float] = None) -> float:
        """Queue text; return its length in seconds. `at` is ignored: a device plays now."""
        if self._closing:
            raise CompanionError("speaker: already closed")
        t = monotonic()
        cue = self.renderer.render(text)
        return self.play(cue, queued_at=t)

    def play(self, cue: RenderedCue, queued_at: Optional[float] = None) -> float:
        """Queue an already rendered cue."""
        if self._closing:
            raise CompanionError("speaker: already closed")
        with self._lock:
            t = monotonic() if queued_at is None else queued_at
            u = self._history.new(cue.text, t, seconds=cue.seconds)
            if self._error is not None:
                u.status, u.error, u.ended_at = "failed", str(self._error), u.queued_at
                return cue.seconds
            self._pending.append(u)
            self._by_id[u.id] = u
            if not self._player.send(Play(id=u.id, path=str(cue.path), gain_db=self.gain_db)):
                self._fail_locked("the playback process is gone")
        return cue.seconds

    def stop(self, at: Optional[float] = None) -> None:
        """Cut the playing cue and drop the queued ones, at once."""
        with self._lock:
            if not self._pending:
                return
            now = monotonic()
            upto = self._pending[-1].id
            for u in self._pending:
                if u.status == "playing":
                    u.ended_at = now + self.extra_latency
                u.status = "stopped"
            # The device's buffer is dropped, but a cue may have just begun unreported.
            self._last_end = max(self._last_end, now + self.extra_latency)
            self._pending.clear()
            if self._error is None:
                self._player.send(Stop(upto=upto, flush=True))

    def busy_until(self) -> float:
        """time.monotonic() when playback really ends, plus the tail. While cues are
        queued it is an estimate from their lengths; exact within the output latency once
        the last one has ended."""
        with self._lock:
            end = self._last_end
            if self._pending:
                t = monotonic()
                for u in self._pending:
                    if u.audio_start is not None:
                        t = max(t, u.audio_start + u.seconds)
                    else:   # not started yet: after the one before, and the device's delay
                        t = max(t, monotonic() + self.latency + self.extra_latency) + u.seconds
                end = max(end, t)
            return end + self.tail

    def busy(self) -> bool:
        return self.busy_for() > 0

    def busy_for(self) -> float:
        return max(0.0, self.busy_until() - monotonic())

    @property
    def speaking(self) -> bool:
        """A cue is queued or playing, or its sound is still on its way to the speaker."""
        with self._lock:
            return bool(self._pending) or monotonic() < self._last_end

    @property
    def finished_at(self) -> Optional[float]:
        """time.monotonic() when the last cue really finished playing; None while
        speaking (or if nothing was said)."""
        with self._lock:
            if self._pending or monotonic() < self._last_end or self._last_end == 0.0:
                return None
            return self._last_end

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Block until nothing is playing (or the timeout); True if it went quiet."""
        deadline = None if timeout is None else monotonic() + timeout
        while self.speaking:
            if deadline is not None and monotonic() >= deadline:
                return False
            time.sleep(0.005)
        return True

    def prerender(self, texts: Iterable[str]) -> list[RenderedCue]:
        return self.renderer.prerender(texts)

    def close(self) -> None:
        """Stop at once and end the playback process (killing it if it is stuck)."""
        if self._closing:
            return
        with self._lock:
            self._closing = True
            for u in self._pending:
                u.status, u.ended_at = "stopped", monotonic()
            self._pending.clear()
        self._player.quit()
        self._reader.join(timeout=1.0)

    def __enter__(self) -> "DeviceSpeaker":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
