"""A live run's cue warm-up: the lines its cache lacks (routines changed since `voice prepare`)
are rendered by a child process of their own, which ends with the run; the Piper lines said
first, by one the start waits for."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from companion.loop import warmup
from companion.speech.render import CueRenderer
from piper_installed import needs_piper


SETTINGS = ("en-gb", 170, 0.6)   # not the defaults: the child must render with the run's own


@pytest.fixture(scope="module")
def full_cache(tmp_path_factory) -> Path:
    """Every line rendered once with SETTINGS; each test works on a copy."""
    d = tmp_path_factory.mktemp("full")
    CueRenderer(*SETTINGS, cache_dir=d, engine="espeak-ng").prerender(warmup.all_lines(20))
    return d


def _copy(full: Path, to: Path) -> CueRenderer:
    shutil.copytree(full, to)
    return CueRenderer(*SETTINGS, cache_dir=to, engine="espeak-ng")


def test_the_lines_a_cache_lacks_are_rendered_by_a_child_with_the_runs_voice(tmp_path,
                                                                             full_cache):
    """Its renders are the very files the run looks for (same engine, voice, rate, volume),
    and the run itself renders none of them."""
    r = _copy(full_cache, tmp_path / "cues")
    lines = warmup.all_lines(20)
    assert "Holding 20 seconds longer." in lines   # the configured step
    for text in lines[-4:]:   # as after an update that added four lines
        r.path_for(text).unlink()
    child = warmup.start(r, 20)
    assert child is not None and child.pid != os.getpid()
    assert child.wait(timeout=300) == 0
    assert warmup.uncached(r, lines) == [] and r.renders == 0   # the child's work
    assert warmup.start(r, 20) is None   # nothing missing: no child at all


def test_the_summary_is_rendered_too_and_never_shown_to_other_users(tmp_path, full_cache):
    """What "how am I doing" would say is rendered ahead with the rest; it speaks of the
    user's pain, so it reaches the child by a pipe, not its command line (/proc is public)."""
    r = _copy(full_cache, tmp_path / "cues")   # a full cache: the summary alone is missing
    summary = "Your neck went from seven to four over ten days."
    child = warmup.start(r, 20, [summary])
    assert child is not None
    with open(f"/proc/{child.pid}/cmdline", "rb") as f:
        assert b"seven" not in f.read()
    assert child.wait(timeout=300) == 0 and r.is_cached(summary)
    assert warmup.start(r, 20, [summary]) is None


START_LINES = ["Lie on your back with your knees bent.", "Breathe in slowly, and let it go."]


@needs_piper
def test_piper_lines_missing_at_start_are_rendered_by_a_child_the_run_waits_for(tmp_path):
    """A start after an update without `voice prepare`: the lines said first are all in the
    cache before anything plays, and the listening process rendered none of them (Piper
    loaded there would hold its memory until the idle unload)."""
    r = CueRenderer("en_US-joe-medium", cache_dir=tmp_path, engine="piper")
    got = warmup.prerender(r, START_LINES)
    assert [c.path for c in got] == [r.path_for(t) for t in START_LINES]
    assert all(c.path.exists() and c.seconds > 1 for c in got)
    assert r.renders == 0 and r.hits == len(START_LINES)


def test_espeak_lines_missing_at_start_are_rendered_by_the_run_itself(tmp_path):
    """espeak-ng costs the run no memory worth a process: no child to wait for."""
    r = CueRenderer(*SETTINGS, cache_dir=tmp_path, engine="espeak-ng")
    got = warmup.prerender(r, START_LINES)
    assert r.renders == len(START_LINES) and all(c.path.exists() for c in got)


PARENT = """
import sys, time
from companion.loop import warmup
from companion.speech.render import CueRenderer
child = warmup.start(CueRenderer(cache_dir=sys.argv[1], engine="espeak-ng"), 15)
print(child.pid, flush=True)
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_the_child_ends_when_the_run_is_killed(tmp_path):
    """A companion killed outright (the service stopped hard) leaves no renderer behind."""
    parent = subprocess.Popen([sys.executable, "-c", PARENT, str(tmp_path)],
                              stdout=subprocess.PIPE, text=True)
    try:
        pid = int(parent.stdout.readline())
        assert _alive(pid)
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    deadline = time.monotonic() + 60   # bounds a child left behind; it goes at once
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid)
    assert len(list(tmp_path.glob("*.wav"))) < len(warmup.all_lines(15))   # it stopped midway
