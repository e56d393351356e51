"""A clock earlier than the pain log (a Raspberry Pi started offline, with no clock of its
own) is said, by `companion doctor` and at the start of a run, with how to fix it; the
session is guided and logged all the same. Real SQLite files; the time is the system's
(the log is written ahead of it instead of setting the clock back)."""

from __future__ import annotations

import logging
import subprocess
import sys
import time

from companion.storage.store import PainLog
from companion.storage.wall_clock import SLACK_S, behind, warn_if_behind

DAY = 86_400.0


def _log_at(data, at: float) -> None:
    """A session logged at `at`: begun, rated a minute in, ended at two."""
    with PainLog.open(data) as log:
        sid = log.start_session("neck", at)
        log.log_event(sid, at + 30, "started", 0, "position", "neck")
        log.log_rating(sid, at + 60, 6, 1, "hold", "neck")
        log.end_session(sid, at + 120, "completed")


def companion(*args, stdin=""):
    return subprocess.run([sys.executable, "-m", "companion", *args], input=stdin,
                          capture_output=True, text=True, timeout=120)


def test_the_newest_entry_is_what_the_clock_is_held_against(tmp_path):
    with PainLog.open(tmp_path) as log:
        assert log.latest_at() is None and warn_if_behind(log) is None
    t = 1_790_000_000.0
    _log_at(tmp_path, t)
    with PainLog.open(tmp_path) as log:
        assert log.latest_at() == t + 120
    assert behind(t + 120, t + 120 - SLACK_S + 1) is None  # a few minutes back: believed
    said = behind(t + 120, t - DAY)
    assert said is not None and "earlier than the last entry in the pain log" in said


def test_a_run_with_the_clock_behind_says_so_and_still_logs_the_session(tmp_path):
    data = tmp_path / "d"
    _log_at(data, time.time() + DAY)  # the log holds a session of "tomorrow"
    r = companion("run", "neck", "--text", "--speed", "50", "--data-dir", str(data),
                  stdin="pain four\n")
    assert r.returncode == 0, r.stderr
    assert "the system clock says" in r.stderr and "sudo date -s" in r.stderr
    assert "companion doctor" in r.stderr
    with PainLog.open(data) as log:  # kept, though dated before "tomorrow's" (the harm said)
        assert [x["value"] for x in log.ratings()] == [4, 6]

    fine = tmp_path / "fine"
    _log_at(fine, time.time() - DAY)
    r = companion("run", "neck", "--text", "--speed", "50", "--data-dir", str(fine),
                  stdin="pain four\n")
    assert r.returncode == 0 and "system clock" not in r.stderr, r.stderr


def test_doctor_names_a_clock_behind_the_log_and_the_fix(tmp_path):
    data = tmp_path / "d"
    skip = [a for s in ("espeak", "microphone", "speaker", "recognizer", "service")
            for a in ("--skip", s)]
    r = companion("doctor", *skip, "--data-dir", str(data))
    assert r.returncode == 0 and "nothing logged yet" in r.stdout, r.stdout + r.stderr
    _log_at(data, time.time() - DAY)
    r = companion("doctor", *skip, "--data-dir", str(data))
    assert r.returncode == 0 and "after everything in the pain log" in r.stdout, r.stdout
    _log_at(data, time.time() + DAY)
    r = companion("doctor", *skip, "--data-dir", str(data))
    assert r.returncode == 1, r.stdout
    line = next(x for x in r.stdout.splitlines() if " clock " in x)
    assert line.startswith("!!") and "earlier than the last entry in the pain log" in line
    assert "fix: set the time (sudo date -s" in r.stdout


def test_the_warning_goes_to_the_companions_log(tmp_path, caplog):
    _log_at(tmp_path, time.time() + DAY)
    with PainLog.open(tmp_path) as log, caplog.at_level(logging.WARNING):
        said = warn_if_behind(log)
    assert said and any(said in r.getMessage() for r in caplog.records)


def test_a_voice_run_says_aloud_that_its_clock_is_behind(tmp_path):
    """Headless, nobody reads the journal: the greeting says it, before "Listening". A
    replayed second of quiet through the real voice loop (no speaker; the cues are in the
    events)."""
    import json

    import numpy as np

    from companion.audio.wav import write_wav
    from companion.core import cues

    quiet = tmp_path / "quiet.wav"
    write_wav(quiet, np.zeros(16000))

    def greeted(data) -> list[str]:
        ev = tmp_path / "events.jsonl"
        r = companion("run", "--mic-file", str(quiet), "--no-speaker", "--events", str(ev),
                      "--data-dir", str(data))
        assert r.returncode == 0, r.stderr
        return [e["text"] for e in map(json.loads, ev.read_text().splitlines())
                if e["type"] == "cue"]

    _log_at(tmp_path / "ahead", time.time() + DAY)
    assert greeted(tmp_path / "ahead")[:2] == [cues.CLOCK_BEHIND, cues.LISTENING]
    _log_at(tmp_path / "fine", time.time() - DAY)
    assert greeted(tmp_path / "fine")[:1] == [cues.LISTENING]
