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
