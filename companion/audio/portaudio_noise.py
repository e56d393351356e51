"""PortAudio's C code prints its own diagnostics straight to file descriptor 2 when a device
goes away ("Expression 'alsa_snd_pcm_poll_descriptors_revents( ... )' failed in
'src/hostapi/alsa/pa_linux_alsa.c', line: 3642"), dozens of lines a second, and it exports
no way to turn that off. For a live run, descriptor 2 is passed through a filter that turns
a burst of them into one line saying which device went away; everything else on stderr
(ours, Python's, a traceback) passes unchanged."""

from __future__ import annotations

import atexit
import os
import re
import threading
import time
from typing import Callable, Optional

NOISE = re.compile(rb"^Expression '.*' failed in '.*', line: \d+$")
QUIET_S = 10.0  # one summary line per burst: a vanished device keeps failing every poll
STALL_S = 2.0  # restore() stops waiting for a pump that has read nothing for this long
DRAIN_MAX_S = 30.0  # ... or for one fed by a child that never stops writing


class PortAudioNoiseFilter:
    """Owns descriptor 2 while installed; restore() gives the original back and drains."""

    def __init__(self, summary: Callable[[bytes], bytes] = lambda line: (
            b"companion: an audio device stopped answering (it may have been unplugged); "
            b"the session pauses until it is back. PortAudio said: " + line[:160] + b"\n")
                 ) -> None:
        self.summary = summary
        self.swallowed = 0
        self._last = -QUIET_S
        self._saved: Optional[int] = None
        self._thread: Optional[threading.Thread] = None
        self._progress = 0  # chunks read and lines passed on: restore() waits while it grows

    def install(self) -> "PortAudioNoiseFilter":
        read, write = os.pipe()
        self._saved = os.dup(2)
        os.dup2(write, 2)
        os.close(write)
        self._thread = threading.Thread(target=self._pump, args=(read,), daemon=True,
                                        name="stderr-filter")
        self._thread.start()
        atexit.register(self.restore)
        return self

    def _pump(self, read: int) -> None:
        pending = b""
        with os.fdopen(read, "rb", buffering=0) as src:
            while True:
                chunk = src.read(65536)
                if not chunk:
                    break
                self._progress += 1
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    self._line(line)
                    self._progress += 1
        if pending:
            self._line(pending)

    def _line(self, line: bytes) -> None:
        saved = self._saved
        if saved is None:
            return
        if NOISE.match(line.rstrip(b"\r")):
            self.swallowed += 1
            now = time.monotonic()
            if now - self._last < QUIET_S:
                return
            self._last = now
            out = self.summary(line.rstrip(b"\r"))
        else:
            out = line + b"\n"
        try:
            os.write(saved, out)
        except OSError:
            pass

    def restore(self) -> None:
        """Put the real stderr back and pass on whatever is still in the pipe."""
        if self._saved is None:
            return
        import sys

        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        os.dup2(self._saved, 2)  # drops our write end: the pump sees end of file ...
        thread = self._thread
        if thread is not None:
            # ... unless a child process still holds the pipe. Wait for as long as the pump
            # keeps going (a busy machine can be slow to drain, and a dropped line may be
            # the traceback that says what went wrong); give up only when it stalls.
            last, stalled, waited = -1, 0.0, 0.0
            while thread.is_alive() and stalled < STALL_S and waited < DRAIN_MAX_S:
                thread.join(timeout=0.1)
                waited += 0.1
                stalled = 0.0 if self._progress != last else stalled + 0.1
                last = self._progress
        saved, self._saved = self._saved, None
        os.close(saved)
