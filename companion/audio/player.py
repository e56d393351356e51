"""The speaker's playback process: it owns the PortAudio output stream, nothing else.

Why a separate process: with Debian 12's PortAudio (19.6) on ALSA, an output device that
vanishes mid-stream (a USB speaker unplugged, the PipeWire server gone) leaves PortAudio's
stream thread spinning in an error loop (PortAudio issue #1037): callbacks stop, abort()
and close() never return, and the interpreter hangs or crashes at exit. Here that costs
only this process: it notices the callbacks have stopped and exits, or the companion kills
it. Started by companion.speech.device.DeviceSpeaker, never by hand.

    python -m companion.audio.player '{"device": null, "latency": "high", ...}'

Commands arrive on stdin, one JSON object a line (companion.audio.player_messages):
    Play(id, path, gain_db)  queue a cue after the others, that much louder
    Stop(upto, flush)    cut cues up to id `upto`, flush the device
    Quit()               (end of stdin does the same)
Events leave on stdout, one JSON object a line; times are time.monotonic() seconds, which
is the same clock in both processes (CLOCK_MONOTONIC): Ready, Started/Done/Stopped (from
the audio callback), Failed, Heartbeat, Flushed, Error, Bye.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from collections import OrderedDict, deque

from companion.audio.player_messages import (Bye, Done, Error, Event, Failed, Flushed,
                                             Heartbeat, Play, Quit, Ready, Started, Stop,
                                             Stopped, decode, encode)
from companion.core.errors import CompanionError

monotonic = time.monotonic
FLUSH_ABOVE_S = 0.05  # output latency above which stop() also drops the device's buffer
_out_lock = threading.Lock()


def emit(event: Event) -> None:
    line = encode(event)
    with _out_lock:
        try:
            sys.stdout.write(line)
            sys.stdout.flush()
        except (BrokenPipeError, ValueError):   # the companion is gone
            os._exit(0)


def fail(kind: str, message: str, code: int = 3) -> None:
    emit(Error(kind=kind, message=message))
    os._exit(code)


class Item:
    __slots__ = ("id", "samples", "offset")

    def __init__(self, id_: int, samples) -> None:
        self.id = id_
        self.samples = samples
        self.offset = 0


class Player:
    def __init__(self, cfg: dict) -> None:
        import numpy as np
        import sounddevice as sd

        self.np, self.sd = np, sd
        self.cfg = cfg
        self.ready: deque = deque()      # appended by the command thread, popped by callback
        self.current = None              # touched by the callback only
        self.events: deque[Event] = deque()  # callback -> writer thread
        self.stop_upto = 0               # written by the command thread, read by callback
        self.seen_stop = 0
        self.last_cb = 0.0
        self.ncb = 0
        self.underflows = 0
        self.quitting = False
        self.flushing = 0.0              # when stop() began aborting and restarting
        self.cache: OrderedDict = OrderedDict()

    # --- the audio callback: short, no I/O, no locks ---

    def callback(self, outdata, frames, time_info, status) -> None:
        now = monotonic()
        self.last_cb = now
        self.ncb += 1
        if status.output_underflow:
            self.underflows += 1
        lat = time_info.outputBufferDacTime - time_info.currentTime
        if not 0.0 <= lat < 2.0:     # some host APIs report no timing
            lat = self.latency
        dac = now + lat
        sr = self.samplerate
        out = outdata[:, 0]
        upto = self.stop_upto
        if upto > self.seen_stop:
            self.seen_stop = upto
            cut = []
            if self.current is not None and self.current.id <= upto:
                cut.append(self.current.id)
                self.current = None
            while self.ready and self.ready[0].id <= upto:
                cut.append(self.ready.popleft().id)
            if cut:
                self.events.append(Stopped(ids=cut, t=now, dac=dac))
        pos = 0
        while pos < frames:
            cur = self.current
            if cur is None:
                if not self.ready:
                    break
                cur = self.current = self.ready.popleft()
                self.events.append(Started(id=cur.id, t=now, dac=dac + pos / sr))
            n = min(frames - pos, len(cur.samples) - cur.offset)
            out[pos:pos + n] = cur.samples[cur.offset:cur.offset + n]
            cur.offset += n
            pos += n
            if cur.offset >= len(cur.samples):
                self.events.append(Done(id=cur.id, t=now, dac=dac + pos / sr))
                self.current = None
        if pos < frames:
            out[pos:] = 0.0
        if outdata.shape[1] > 1:
            outdata[:, 1:] = outdata[:, :1]

    def finished(self) -> None:
        # PortAudio calls this when the stream ends, also after our own abort().
        if not (self.quitting or self.flushing):
            self.events.append(Error(kind="stream",
                                     message="the output stream stopped by itself"))

    # --- setup ---

    def open(self) -> None:
        sd, cfg = self.sd, self.cfg
        from companion.audio.devices import find_device
        try:
            index = find_device(cfg.get("device"), "output")
        except CompanionError as e:
            fail("device", str(e), 2)
        info = sd.query_devices(index if index is not None else sd.default.device[1])
        want = cfg.get("samplerate") or cfg.get("cue_rate") or 22050
        channels = 1
        for rate, ch in ((want, 1), (want, 2), (info["default_samplerate"], 1),
                         (info["default_samplerate"], 2)):
            try:
                sd.check_output_settings(device=index, samplerate=rate, channels=ch,
                                         dtype="float32")
                want, channels = rate, ch
                break
            except Exception:
                continue
        self.samplerate = int(want)
        try:
            self.stream = sd.OutputStream(
                device=index, samplerate=self.samplerate, channels=channels,
                dtype="float32", latency=cfg.get("latency", "high"),
                blocksize=int(cfg.get("blocksize", 0)), callback=self.callback,
                finished_callback=self.finished)
            self.latency = float(self.stream.latency)
            self.stream.start()
        except Exception as e:
            fail("open", f"cannot open the output device '{info['name']}': {e}", 2)
        deadline = monotonic() + 3.0
        while self.ncb == 0 and monotonic() < deadline:
            time.sleep(0.002)
        if self.ncb == 0:
            fail("stream", f"the output device '{info['name']}' started but never asked "
                           "for audio")
        emit(Ready(device=info["name"], index=info["index"], samplerate=self.samplerate,
                   channels=channels, latency=self.latency, blocksize=self.stream.blocksize,
                   pid=os.getpid(), t=monotonic()))

    # --- the writer/watchdog thread ---

    def writer(self) -> None:
        stall = float(self.cfg.get("stall_timeout", 1.0))
        last_hb = 0.0
        while True:
            time.sleep(self.cfg.get("poll", 0.02))
            while self.events:
                ev = self.events.popleft()
                emit(ev)
                if isinstance(ev, Error):
                    os._exit(3)
            now = monotonic()
            if now - last_hb >= 0.25:
                last_hb = now
                emit(Heartbeat(t=now, callbacks=self.ncb, underflows=self.underflows))
            flushing = self.flushing
            waited = now - (flushing if flushing else self.last_cb)
            if not self.quitting and waited > stall:
                # The device vanished: PortAudio's thread is stuck and abort() would hang.
                fail("stalled", f"the output device stopped taking audio (nothing for "
                                f"{waited:.1f} s): unplugged, or the sound server stopped?")

    # --- commands ---

    def load(self, path: str):
        np = self.np
        if path in self.cache:
            self.cache.move_to_end(path)
            return self.cache[path]
        from companion.audio.resample import resample
        from companion.audio.wav import read_all

        x, rate = read_all(path)
        if rate != self.samplerate and len(x):
            x = resample(x, rate, self.samplerate).astype(np.float32)
        self.cache[path] = x
        if len(self.cache) > 128:
            self.cache.popitem(last=False)
        return x

    def commands(self) -> None:
        for raw in sys.stdin.buffer:
            cmd = decode(raw)   # Junk (a broken or unknown line) is ignored, as ever
            if isinstance(cmd, Play):
                try:
                    samples = self.load(cmd.path)
                    if cmd.gain_db:
                        from companion.audio.gain import with_gain
                        samples = with_gain(samples, cmd.gain_db)
                except (OSError, EOFError, ValueError, KeyError, CompanionError) as e:
                    emit(Failed(id=cmd.id, message=str(e)))
                    continue
                self.ready.append(Item(cmd.id, samples))
            elif isinstance(cmd, Stop):
                self.stop_upto = max(self.stop_upto, cmd.upto)
                if cmd.flush and self.latency > FLUSH_ABOVE_S:
                    # Drop what PortAudio/ALSA already buffered, so the cut is heard at
                    # once; the callback applies stop_upto before writing anything new.
                    # Below FLUSH_ABOVE_S the buffer plays out about as fast, and a cue
                    # said right after the stop would wait behind the silence a restarted
                    # stream begins with (one or two buffers, 23-45 ms at 512 samples).
                    t = monotonic()
                    self.flushing = t         # the watchdog times the abort too
                    self.stream.abort()
                    self.stream.start()
                    self.last_cb = monotonic()
                    self.flushing = 0.0
                    emit(Flushed(t=t, took=monotonic() - t))
            elif isinstance(cmd, Quit):
                break


def main() -> int:
    # Ctrl-C is for the companion, which may still want to say goodbye: this process ends
    # when the companion closes it or its stdin (the companion exiting, however it exits).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    cfg = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    try:
        player = Player(cfg)
    except OSError as e:    # sounddevice without the PortAudio library
        fail("portaudio", f"PortAudio is not installed ({e}); install it with "
                          "`sudo apt install libportaudio2`", 2)
    player.open()
    threading.Thread(target=player.writer, name="writer", daemon=True).start()
    player.commands()
    player.quitting = True
    player.stream.abort()   # does not hang: a stuck stream made the writer exit already
    player.stream.close()
    time.sleep(0.02)        # let the writer pass on the last events
    emit(Bye())
    os._exit(0)             # skip sounddevice's atexit: nothing left to clean


if __name__ == "__main__":
    sys.exit(main())
