"""The typed front end, end to end through the real CLI and a real SQLite file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from companion.core import cues
from companion.storage.store import PainLog


def companion(*args, stdin="", timeout=60):
    return subprocess.run([sys.executable, "-m", "companion", *args], input=stdin,
                          capture_output=True, text=True, timeout=timeout)


def test_done_when_scenario_logs_ratings_with_step_and_area(tmp_path):
    data = str(tmp_path / "x")
    r = companion("run", "neck", "--text", "--speed", "50", "--data-dir", data,
                  stdin="pain six\nhold longer\nnext\npain 3\nstop\n")
    assert r.returncode == 0, r.stderr
    assert "Six, noted." in r.stdout and "Three, noted." in r.stdout
    # A typed stop is meant: not offered for taking back, as a heard one is.
    assert cues.STOPPED in r.stdout and cues.STOPPED_UNDOABLE not in r.stdout
    # The confirmation is printed after the rating: it must be on disk by then.
    exported = companion("export", "--format", "json", "--data-dir", data)
    assert exported.returncode == 0, exported.stderr
    doc = json.loads(exported.stdout)
    ratings = doc["ratings"]
    assert [x["value"] for x in ratings] == [6, 3]
    assert all(x["routine"] == "neck" and x["area"] == "neck" for x in ratings)
    assert ratings[1]["step_index"] == ratings[0]["step_index"] + 1  # "next" moved on
    assert doc["sessions"][0]["end_reason"] == "stopped"
    assert "T" in ratings[0]["time"]


def test_end_of_input_ends_the_session_cleanly(tmp_path):
    r = companion("run", "neck", "--text", "--speed", "50", "--data-dir", str(tmp_path),
                  stdin="pain 4\n")
    assert r.returncode == 0, r.stderr
    with PainLog.open(tmp_path) as log:
        (session,) = log.sessions()
        assert session["end_reason"] == "end_of_input" and session["ended_at"] is not None
        assert [x["value"] for x in log.ratings()] == [4]


def test_unknown_lines_are_ignored_not_guessed(tmp_path):
    r = companion("run", "neck", "--text", "--speed", "50", "--data-dir", str(tmp_path),
                  stdin="pain eleven\nbanana\nsix\nstop\n")
    assert r.returncode == 0
    assert 'not a command, ignored: "pain eleven"' in r.stderr
    with PainLog.open(tmp_path) as log:
        assert log.ratings() == []  # "six" was never asked for, so it is not a rating


def test_louder_typed_says_it_is_for_the_voice_and_changes_nothing(tmp_path):
    r = companion("run", "neck", "--text", "--speed", "50", "--data-dir", str(tmp_path),
                  stdin="louder\ntoo loud\nstop\n")
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("sets how loud the spoken voice is") == 2
    assert "not a command" not in r.stderr and cues.LOUDER not in r.stdout
    assert not (tmp_path / "loudness.json").exists()


def test_whole_routine_at_high_speed_completes(tmp_path):
    """Input held open (nothing typed, no end of input): the routine runs to its end."""
    p = subprocess.Popen([sys.executable, "-m", "companion", "run", "calves", "--text",
                          "--speed", "2000", "--data-dir", str(tmp_path)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    try:
        p.wait(timeout=120)  # ends by itself: stdin is still open (its output fits the pipe)
    finally:
        p.stdin.close()
        if p.poll() is None:
            p.kill()
    out, err = p.stdout.read(), p.stderr.read()
    assert p.returncode == 0, err
    assert "That's the whole routine." in out
    with PainLog.open(tmp_path) as log:
        assert log.sessions()[0]["end_reason"] == "completed"


@pytest.mark.parametrize("sig, inherited_ignore", [
    (signal.SIGTERM, False),   # a service stop
    (signal.SIGINT, False),    # Ctrl-C
    # Started in the background by a shell without job control (a script's `&`, a CI job):
    # SIGINT arrives ignored, and Python keeps it so unless the companion sets it itself.
    (signal.SIGINT, True)])
def test_sigterm_closes_the_session_in_the_log(tmp_path, sig, inherited_ignore):
    p = _running_with_rating(tmp_path, "pain 5", "Five, noted.", sigint_ignored=inherited_ignore)
    p.send_signal(sig)
    p.wait(timeout=30)
    assert "Traceback" not in p.stderr.read()
    with PainLog.open(tmp_path) as log:
        (session,) = log.sessions()
        assert session["end_reason"] == "interrupted"
        assert [x["value"] for x in log.ratings()] == [5]


def test_unknown_routine_is_a_clear_error(tmp_path):
    r = companion("run", "elbows", "--text", "--data-dir", str(tmp_path))
    assert r.returncode != 0 and "no routine called 'elbows'" in r.stderr
    assert "Traceback" not in r.stderr


def _running_with_rating(data: Path, line: str, confirmation: str,
                         sigint_ignored: bool = False) -> subprocess.Popen:
    """A typed neck session left running after one rating has been confirmed."""
    p = subprocess.Popen([sys.executable, "-m", "companion", "run", "neck", "--text",
                          "--data-dir", str(data)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         preexec_fn=(lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
                         if sigint_ignored else None)
    p.stdin.write(line + "\n")
    p.stdin.flush()
    assert confirmation in _read_until(p, confirmation)
    return p


def _read_until(p: subprocess.Popen, text: str, timeout: float = 30) -> str:
    seen = ""
    end = time.monotonic() + timeout
    os.set_blocking(p.stdout.fileno(), True)
    while text not in seen and time.monotonic() < end:
        line = p.stdout.readline()
        if not line:
            break
        seen += line
    return seen


def test_a_second_run_on_the_same_log_is_refused_and_leaves_the_first_alone(tmp_path):
    first = _running_with_rating(tmp_path, "pain 2", "Two, noted.")
    second = companion("run", "neck", "--text", "--data-dir", str(tmp_path), stdin="")
    assert second.returncode != 0 and "already running" in second.stderr
    with PainLog.open(tmp_path) as log:
        assert log.sessions()[0]["ended_at"] is None  # still running, not "interrupted"
    first.stdin.write("stop\n")
    first.stdin.close()
    first.wait(timeout=30)
    with PainLog.open(tmp_path) as log:
        assert log.sessions()[0]["end_reason"] == "stopped"


def test_a_fast_session_killed_at_once_does_not_end_before_it_began(tmp_path):
    """--speed runs the session clock ahead of real time; the log must keep real times,
    or the next start closes the crashed session at a time before its start."""
    p = subprocess.Popen([sys.executable, "-m", "companion", "run", "neck", "--text",
                          "--speed", "500", "--data-dir", str(tmp_path)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    _read_until(p, "Starting")
    p.kill()
    p.communicate(timeout=10)
    with PainLog.open(tmp_path) as log:
        log.close_interrupted(time.time())
        (session,) = log.sessions()
        assert session["started_at"] <= time.time()  # no time from the future in the log
        assert session["ended_at"] >= session["started_at"]


@pytest.mark.parametrize("speed", ["nan", "inf", "-5", "0", "fast"])
def test_a_speed_that_is_not_a_positive_number_is_one_line_and_opens_no_session(tmp_path, speed):
    data = tmp_path / "x"
    r = companion("run", "neck", "--text", "--speed", speed, "--data-dir", str(data),
                  stdin="pain six\nstop\n")
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.count("\n") == 1 and "--speed: must be a positive number" in r.stderr
    assert not data.exists()  # no session row left open, no log at all


def test_ratings_out_of_range_are_explained_and_never_logged(tmp_path):
    r = companion("run", "neck", "--text", "--speed", "50", "--data-dir", str(tmp_path),
                  stdin="pain -1\npain eleven\n11 out of ten\npain 2\nstop\n")
    assert r.returncode == 0, r.stderr
    for said in ("pain -1", "pain eleven", "11 out of ten"):
        assert f'ignored: "{said}"; pain is rated from zero (none) to ten (worst)' in r.stderr
    with PainLog.open(tmp_path) as log:
        assert [x["value"] for x in log.ratings()] == [2]  # -1 was not taken for 1


def test_control_characters_in_an_ignored_line_are_shown_escaped(tmp_path):
    r = companion("run", "neck", "--text", "--speed", "50", "--data-dir", str(tmp_path),
                  stdin="\x1b[2Jhello\x07\nstop\n")
    assert r.returncode == 0
    assert '"\\x1b[2Jhello\\x07"' in r.stderr and "\x1b" not in r.stderr + r.stdout


def test_ratings_that_could_not_be_saved_fail_the_run_and_say_why(tmp_path):
    db = tmp_path / "companion.sqlite3"
    db.write_bytes(b"not a database, " * 300)  # a corrupt log: kept, never overwritten
    before = db.read_bytes()
    r = companion("run", "neck", "--text", "--speed", "50", "--data-dir", str(tmp_path),
                  stdin="pain six\nstop\n")
    assert r.returncode == 1
    # Never confirmed aloud as saved when it is not on disk: the confirmation says so.
    said = [line for line in r.stdout.splitlines() if "Six, noted." in line]
    assert said and all(cues.NOT_SAVED in line for line in said), r.stdout
    assert "1 pain rating could not be saved and is lost" in r.stderr
    assert "not a usable pain log" in r.stderr and "read-only" not in r.stderr
    assert db.read_bytes() == before


def test_a_typed_answer_not_understood_is_asked_for_again_once(tmp_path):
    """The typed front end and the voice loop share the Runner: an unknown line while a
    rating is asked for gets the question once more, as unclear speech does."""
    from companion.core.clock import ManualClock
    from companion.core.engine import Session
    from companion.core.vocabulary import IntentKind, Vocabulary
    from companion.loop.runner import Runner
    from companion.storage.library import Library
    lib, clock, said = Library(), ManualClock(), []
    with PainLog.open(tmp_path) as log:
        runner = Runner(Session(lib.find("neck"), clock), log, lambda c: said.append(c.text),
                        Vocabulary(lib.aliases()))
        runner.start()
        runner.feed("banana")                      # nothing asked: ignored, nothing said
        assert cues.RATE_AGAIN not in said
        while IntentKind.NUMBER not in runner.listening_for():
            clock.advance(1.0)
            runner.tick()
        for line in ("banana", "", "banana"):      # asked again once; a blank line is nothing
            runner.feed(line)
        assert said.count(cues.RATE_AGAIN) == 1 and said[-1] == cues.RATE_AGAIN
        assert runner.feed("six") is not None
        assert [r["value"] for r in log.ratings()] == [6]
