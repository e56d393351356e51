"""Files built to hurt, met the way a user meets them: through the real command line.
A routine whose YAML aliases fan out, an oversized routine, a FIFO or a device where a
file should be, a WAV with an odd sample rate. Each gives a clear error naming the file,
in bounded memory (peak RSS of the child process, counted, not timed), and never hangs."""

from __future__ import annotations

import os
import resource
import signal
import struct
import subprocess
import sys
import threading
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MAX_RSS_MB = 300  # a 512 MB Pi must survive any of these


class Ran:
    def __init__(self, returncode: int, stdout: str, stderr: str, peak_mb: float) -> None:
        self.returncode, self.stdout, self.stderr, self.peak_mb = \
            returncode, stdout, stderr, peak_mb


def _cap_memory() -> None:
    """Address space capped at 2 GB, so a regression fails with MemoryError instead of
    swapping the test machine to a halt."""
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))


# Starts the command and writes its peak RSS (kB) to $PEAK_FILE. A process forked from
# pytest and exec'd keeps pytest's resident size as its starting peak (Linux carries the old
# memory's high-water mark over exec): with Whisper loaded in the test process that alone
# was 340 MB. Forked from this small wrapper instead, the command's peak is its own.
_MEASURE = """
import os, subprocess, sys
p = subprocess.Popen(sys.argv[1:])
_, status, usage = os.wait4(p.pid, 0)
open(os.environ["PEAK_FILE"], "w").write(f"{usage.ru_maxrss} {os.waitstatus_to_exitcode(status)}")
"""


def companion(tmp_path: Path, *args: str, timeout: float = 60) -> Ran:
    """Run `python -m companion ARGS` with its own folders; measure that one command's peak
    RSS (wait4 in a small wrapper: not RUSAGE_CHILDREN, the largest of every child so far,
    nor a child forked from pytest, which starts with pytest's size)."""
    peak = tmp_path / "peak_kb.txt"
    env = {**os.environ, "COMPANION_CONFIG_DIR": str(tmp_path / "cfg"),
           "COMPANION_DATA_DIR": str(tmp_path / "data"),
           "COMPANION_CACHE_DIR": str(tmp_path / "cache"), "PEAK_FILE": str(peak)}
    out, err = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    with open(out, "wb") as o, open(err, "wb") as e:
        p = subprocess.Popen([sys.executable, "-c", _MEASURE, sys.executable, "-m", "companion",
                              *args], stdin=subprocess.DEVNULL, stdout=o, stderr=e, env=env,
                             cwd=tmp_path, preexec_fn=_cap_memory, start_new_session=True)
    # A hang fails the test, not the suite: the wrapper and the command go together.
    timer = threading.Timer(timeout, lambda: os.killpg(p.pid, signal.SIGKILL))
    timer.start()
    try:
        wrapper_rc = p.wait()
    finally:
        timer.cancel()
    assert wrapper_rc == 0 and peak.exists(), f"killed after {timeout} s: {args}"
    peak_kb, rc = map(int, peak.read_text().split())
    ran = Ran(rc, out.read_text("utf-8"), err.read_text("utf-8"), peak_kb / 1024)
    assert "Traceback" not in ran.stderr, ran.stderr
    return ran


def routines_dir(tmp_path: Path) -> Path:
    d = tmp_path / "cfg" / "routines"
    d.mkdir(parents=True, exist_ok=True)
    return d


def fan_out(n: int) -> str:
    """n sides blocks of n repeats of n holds, each an alias: about 30 bytes per level
    and n**3 steps for pydantic to check. The hold is out of range, so every one of them
    is also an error to report (n=60: 1.1 KB, 4 s and 600 MB before the fix)."""
    holds = "&h {kind: hold, cue: c, hold_s: 3}" + ", *h" * (n - 1)
    repeat = f"&r {{kind: repeat, times: 5, rest_s: 0, steps: [{holds}]}}" + ", *r" * (n - 1)
    return ("name: bomb\ntitle: t\naliases: [bomb]\nareas: [a]\ntool: wall\nsteps:\n"
            f"  - &s {{kind: sides, sides: [left], pause_s: 0, steps: [{repeat}]}}\n"
            + "  - *s\n" * (n - 1))


# --- routine files ------------------------------------------------------------------------

@pytest.mark.parametrize("n", [60, 500])  # 1.1 KB and 15 KB
def test_a_routine_whose_aliases_fan_out_is_refused_in_bounded_memory(tmp_path, n):
    (routines_dir(tmp_path) / "bomb.yaml").write_text(fan_out(n), "utf-8")
    res = companion(tmp_path, "routines", "list")
    assert res.returncode == 0, res.stderr  # the other routines still list
    assert "neck " in res.stdout
    assert "warning: bomb.yaml: " in res.stderr and "alias" in res.stderr, res.stderr
    assert len(res.stderr.splitlines()) == 1, res.stderr
    assert res.peak_mb < MAX_RSS_MB, res.peak_mb

    res = companion(tmp_path, "routines", "validate", "cfg/routines/bomb.yaml")
    assert res.returncode == 1 and res.stdout == ""
    assert res.stderr.startswith("bomb.yaml: ") and "alias" in res.stderr, res.stderr
    assert res.peak_mb < MAX_RSS_MB, res.peak_mb


def test_a_routine_that_uses_aliases_sparingly_still_loads(tmp_path):
    """Reusing a step with an anchor is ordinary YAML: only a fan-out is refused."""
    (routines_dir(tmp_path) / "reuse.yaml").write_text(
        "name: reuse\ntitle: Reuse\naliases: [reuse]\nareas: [neck]\ntool: wall\nsteps:\n"
        "  - &hold {kind: hold, cue: Hold it., hold_s: 30}\n"
        "  - {kind: rest, rest_s: 20, cue: Rest.}\n"
        "  - *hold\n", "utf-8")
    res = companion(tmp_path, "routines", "show", "reuse")
    assert res.returncode == 0, res.stderr
    assert "(80 s, 3 steps)" in res.stdout


def test_an_oversized_routine_file_is_refused(tmp_path):
    text = (REPO / "routines" / "neck.yaml").read_text("utf-8")
    big = routines_dir(tmp_path) / "big.yaml"
    big.write_text(text.replace("name: neck", "name: big_neck") + "# padding\n" * 30000, "utf-8")
    res = companion(tmp_path, "routines", "list")
    assert res.returncode == 0
    assert "big_neck" not in res.stdout
    assert f"warning: {big}: too large for a routine file (256 KB at most)" in res.stderr, \
        res.stderr


def test_a_fifo_or_a_device_in_the_routines_folder_does_not_hang(tmp_path):
    d = routines_dir(tmp_path)
    os.mkfifo(d / "x.yaml")
    (d / "zero.yaml").symlink_to("/dev/zero")
    res = companion(tmp_path, "routines", "list", timeout=30)
    assert res.returncode == 0 and "neck " in res.stdout
    for name in ("x.yaml", "zero.yaml"):
        assert f"warning: {d / name}: not a regular file" in res.stderr, res.stderr
    assert res.peak_mb < MAX_RSS_MB

    res = companion(tmp_path, "run", "neck", "--text", timeout=30)
    assert res.returncode == 0, res.stderr
    assert "About" in res.stdout

    res = companion(tmp_path, "routines", "validate", str(d / "x.yaml"), "/dev/zero",
                    timeout=30)
    assert res.returncode == 1 and res.stdout == ""
    assert f"{d / 'x.yaml'}: not a regular file" in res.stderr
    assert "/dev/zero: not a regular file" in res.stderr

    res = companion(tmp_path, "routines", "show", str(d / "zero.yaml"), timeout=30)
    assert res.returncode != 0 and "not a regular file" in res.stderr


# --- sound files --------------------------------------------------------------------------

def wav(path: Path, rate: int, frames: int = 5) -> Path:
    data = bytes(2 * frames)
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(data)) + data
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


@pytest.mark.parametrize("rate", [383987, 44101, 7919])
def test_a_wav_with_an_odd_sample_rate_is_heard_in_bounded_memory(tmp_path, rate):
    """383987 Hz (54 bytes) made the resampler build a 1 GB filter bank."""
    odd = wav(tmp_path / "odd.wav", rate)
    res = companion(tmp_path, "recognize", "--engine", "pocketsphinx", str(odd))
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith('{"file": ') and '"error"' not in res.stdout
    assert res.peak_mb < MAX_RSS_MB, res.peak_mb

    res = companion(tmp_path, "run", "neck", "--mic-file", str(odd), "--no-speaker",
                    "--engine", "pocketsphinx")
    assert res.returncode == 0, res.stderr
    assert res.peak_mb < MAX_RSS_MB, res.peak_mb


def test_a_long_wav_at_the_highest_rate_is_heard_in_bounded_memory(tmp_path):
    """Ten seconds at 384 kHz, stereo 32-bit: read and resampled block by block."""
    data = bytes(8 * 384000 * 10)
    fmt = struct.pack("<HHIIHH", 1, 2, 384000, 384000 * 8, 8, 32)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(data)) + data
    big = tmp_path / "big.wav"
    big.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    res = companion(tmp_path, "recognize", "--engine", "pocketsphinx", str(big))
    assert res.returncode == 0, res.stderr
    assert res.peak_mb < MAX_RSS_MB, res.peak_mb


def test_a_fifo_or_a_device_given_as_a_recording_is_refused(tmp_path):
    fifo = tmp_path / "fifo.wav"
    os.mkfifo(fifo)
    res = companion(tmp_path, "recognize", "--engine", "pocketsphinx", str(fifo), "/dev/zero",
                    timeout=30)
    assert res.returncode == 1
    lines = res.stdout.splitlines()
    assert len(lines) == 2 and all("not a regular file" in line for line in lines), res.stdout

    res = companion(tmp_path, "run", "neck", "--mic-file", str(fifo), "--no-speaker",
                    "--engine", "pocketsphinx", timeout=30)
    assert res.returncode == 2
    assert f"{fifo}: cannot open: not a regular file" in res.stderr, res.stderr
