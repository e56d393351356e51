"""The playback child process (companion/audio/player.py) as the speaker sees it: started,
ready or failed with a reason, its JSON-line messages read with a deadline, commands sent,
and killed for good when it wedges (a vanished device can hang PortAudio's stream thread;
see player.py)."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
import weakref
from collections import deque
from typing import IO, Optional, Union

from companion.audio.player_messages import (Junk, Message, Play, Quit, Ready, Stop, decode,
                                             encode)
from companion.core.errors import CompanionError

# Run as a module of the light `companion.audio` package: the child imports only what it plays with.
PLAYER = "companion.audio.player"
monotonic = time.monotonic


def _kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        try:
            proc.send_signal(signal.SIGKILL)
        except OSError:
            pass
    try:
        proc.wait(timeout=2)
    except subprocess.TimeoutExpired:
        pass


def _pipe(f: Optional[IO[bytes]]) -> IO[bytes]:
    if f is None:
        raise CompanionError("speaker: the playback process has no pipe")
    return f


class PlayerProcess:
    """One playback process (companion/audio/player.py) and the pipes to it."""

    def __init__(self, cfg: dict, start_timeout: float) -> None:
        t0 = monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, "-u", "-m", PLAYER, json.dumps(cfg)], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0, close_fds=True)
        self.finalizer = weakref.finalize(self, _kill, self.proc)
        # Popen was asked for all three pipes: the Optional in their type never holds here.
        self._in = _pipe(self.proc.stdin)
        self._out = _pipe(self.proc.stdout)
        self._err = _pipe(self.proc.stderr)
        self._buf = b""
        self._stderr: deque[str] = deque(maxlen=40)
        threading.Thread(target=self._drain_stderr, name="speaker-stderr", daemon=True).start()
        ready = self.read(deadline=t0 + start_timeout)
        if not isinstance(ready, Ready):
            self.kill()
            if ready is not None:   # an Error says why; anything else has no message
                raise CompanionError(f"speaker: {getattr(ready, 'message', None)}")
            why = "the playback process did not start in time"
            if self.proc.returncode not in (None, -signal.SIGKILL):
                why = f"the playback process exited ({self.tail_stderr()})"
            raise CompanionError(f"speaker: {why}")
        self.ready: Ready = ready
        self.startup_seconds = monotonic() - t0

    def _drain_stderr(self) -> None:
        # ALSA and PortAudio chatter ("cannot find card '0'"); kept only for error messages.
        for line in iter(self._err.readline, b""):
            self._stderr.append(line.decode("utf-8", "replace").rstrip())

    def tail_stderr(self) -> str:
        lines = [s for s in self._stderr if s and not s.startswith(("ALSA lib", "Expression"))]
        return "; ".join(lines[-3:]) or f"exit code {self.proc.returncode}"

    def read(self, deadline: float) -> Union[Message, Junk, None]:
        """The next event (a JSON line) from the process, Junk for a line that is not one,
        or None at EOF or the deadline."""
        fd = self._out.fileno()
        while b"\n" not in self._buf:
            left = deadline - monotonic()
            if left <= 0:
                return None
            r, _, _ = select.select([fd], [], [], min(left, 0.5))
            if not r:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                self.proc.wait()
                return None
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return decode(line)

    def send(self, cmd: Union[Play, Stop, Quit]) -> bool:
        try:
            self._in.write(encode(cmd).encode("utf-8"))
            return True
        except (OSError, ValueError):   # BrokenPipeError: it is gone
            return False

    def quit(self, timeout: float = 1.5) -> None:
        self.send(Quit())
        try:
            self._in.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
        self.kill()

    def kill(self) -> None:
        _kill(self.proc)
        self.finalizer.detach()
