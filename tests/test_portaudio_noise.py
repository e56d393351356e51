"""PortAudio's own stderr lines (written by its C code to descriptor 2) become one line."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = r'''
import os, sys
from companion.audio.portaudio_noise import PortAudioNoiseFilter
f = PortAudioNoiseFilter().install()
line = (b"Expression 'alsa_snd_pcm_poll_descriptors_revents( self->pcm, pfds, "
        b"self->nfds, &revents )' failed in 'src/hostapi/alsa/pa_linux_alsa.c', line: 3642\n")
for _ in range(200):          # what the C code does, below Python's sys.stderr
    os.write(2, line)
print("ours, through sys.stderr", file=sys.stderr)
subprocess_line = b"Expression 'x' failed in 'y.c', line: 1\n"
import subprocess
subprocess.run([sys.executable, "-c", "import os; os.write(2, %r)" % subprocess_line])
raise SystemExit("a real error still shows")
'''


def test_portaudio_bursts_become_one_line_and_everything_else_passes():
    r = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                       timeout=60)
    lines = r.stderr.splitlines()
    assert r.returncode == 1
    assert sum("Expression" in ln for ln in lines) == 1, r.stderr  # the summary quotes one
    assert lines[0].startswith("companion: an audio device stopped answering"), r.stderr
    assert "ours, through sys.stderr" in lines and "a real error still shows" in lines
    assert len(lines) == 3, r.stderr


SLOW_PUMP = r'''
import os, sys, time
from companion.audio.portaudio_noise import PortAudioNoiseFilter

class Slow(PortAudioNoiseFilter):
    """A pump on a machine whose two cores are busy: each line takes 0.7 s to pass on."""
    def _line(self, line):
        time.sleep(0.7)
        super()._line(line)

f = Slow().install()
for i in range(5):
    os.write(2, b"line %d\n" % i)
f.restore()
os.write(2, b"after restore\n")
'''


def test_restore_passes_on_every_line_however_slow_the_pump():
    # 5 lines x 0.7 s outlast any fixed wait of a couple of seconds.
    r = subprocess.run([sys.executable, "-c", SLOW_PUMP], capture_output=True, text=True,
                       timeout=60)
    assert r.stderr.splitlines() == [f"line {i}" for i in range(5)] + ["after restore"]


CHILD_HOLDS_PIPE = r'''
import os, subprocess, sys
from companion.audio.portaudio_noise import PortAudioNoiseFilter
f = PortAudioNoiseFilter().install()
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
os.write(2, b"before restore\n")
f.restore()                       # the child keeps the pipe open and silent
os.write(2, b"restored\n")
child.kill()
'''


def test_restore_does_not_wait_forever_for_a_child_that_holds_the_pipe():
    r = subprocess.run([sys.executable, "-c", CHILD_HOLDS_PIPE], capture_output=True,
                       text=True, timeout=45)  # the child sleeps 60 s: returning means no wait
    assert r.stderr.splitlines() == ["before restore", "restored"]
