"""`companion history` and `companion export`, run as a user would: a process on a real log."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import stat
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Optional

import pytest

from companion.storage import trends
from companion.storage.store import DB_NAME, PainLog

T0 = 1_700_000_000.0  # 2023-11-14
DAY = 86_400.0
NECK = [7, 7, 6, 6, 5, 5, 5, 4, 4, 4]  # ten days, 7 -> 4


def seed(data_dir: Path) -> None:
    """Ten days of neck sessions, one shoulder rating on day 3, and a session never ended."""
    with PainLog.open(data_dir) as log:
        for day, value in enumerate(NECK):
            start = T0 + day * DAY
            session = log.start_session("neck", start)
            log.log_event(session, start + 1, "started", 2, "hold upper trapezius", "neck")
            log.log_rating(session, start + 60, value, 2, "hold upper trapezius", "neck")
            if day == 3:
                log.log_rating(session, start + 90, 5, 5, "hold levator, left", "shoulder")
            log.end_session(session, start + 600, "completed")
        log.start_session("low back", T0 + 20 * DAY)


def run(*args: str, env: Optional[dict[str, str]] = None, home: Path,
        prefix: tuple[str, ...] = (), stdin: str = "") -> subprocess.CompletedProcess[str]:
    """`python -m companion ARGS` with a clean environment: HOME and XDG point into tmp, so a
    test can never read or write the real pain log."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("COMPANION_")}
    full_env.update(HOME=str(home), XDG_DATA_HOME=str(home / "xdg-data"), TZ="UTC")
    full_env.update(env or {})
    return subprocess.run([*prefix, sys.executable, "-m", "companion", *args], env=full_env,
                          capture_output=True, text=True, timeout=60, input=stdin)


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def parse_time(text: str) -> float:
    moment = datetime.fromisoformat(text)
    assert moment.tzinfo is not None, f"{text} has no UTC offset"
    return moment.timestamp()


@pytest.fixture
def data(tmp_path: Path) -> Path:
    seed(tmp_path / "data")
    return tmp_path / "data"


def test_history_json_figures(data: Path, tmp_path: Path) -> None:
    rows = json.loads(ok(run("history", "--json", "--data-dir", str(data), home=tmp_path)))
    assert [row["area"] for row in rows] == ["neck", "shoulder"]
    neck, shoulder = rows
    assert {k: neck[k] for k in ("first", "latest", "change", "count")} == {
        "first": 7, "latest": 4, "change": -3, "count": 10}
    assert parse_time(neck["first_at"]) == T0 + 60
    assert parse_time(neck["latest_at"]) == T0 + 9 * DAY + 60
    assert (shoulder["first"], shoulder["latest"], shoulder["change"], shoulder["count"]) == (
        5, 5, 0, 1)


def test_history_table_is_readable(data: Path, tmp_path: Path) -> None:
    out = ok(run("history", "--data-dir", str(data), home=tmp_path))
    lines = out.splitlines()
    assert lines[0].split() == ["area", "first", "latest", "change", "median", "vs", "start",
                                "ratings", "first", "on", "latest", "on"]
    # median: days 3-9 (6 5 5 5 4 4 4) -> 5; first week: days 0-6 (7 7 6 6 5 5 5) -> 6.
    assert lines[1].split() == ["neck", "7", "4", "-3", "5", "-1", "10", "2023-11-14",
                                "2023-11-23"]
    assert lines[2].split() == ["shoulder", "5", "5", "0", "5", "0", "1", "2023-11-17",
                                "2023-11-17"]


def test_history_with_no_ratings_says_so(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()  # a folder that does not exist is a mistake (test_hostile_log_input.py)
    out = ok(run("history", "--data-dir", str(empty), home=tmp_path))
    assert "No pain ratings yet" in out
    assert json.loads(ok(run("history", "--json", "--data-dir", str(empty), home=tmp_path))) == []


def test_export_json_shape(data: Path, tmp_path: Path) -> None:
    doc = json.loads(ok(run("export", "--format", "json", "--data-dir", str(data), home=tmp_path)))
    assert set(doc) == {"sessions", "ratings"}
    assert len(doc["ratings"]) == 11 and len(doc["sessions"]) == 11
    first = doc["ratings"][0]
    assert {"session_id", "time", "routine", "step", "step_index", "area", "value"} <= set(first)
    assert (first["routine"], first["step"], first["step_index"], first["area"],
            first["value"]) == ("neck", "hold upper trapezius", 2, "neck", 7)
    assert parse_time(first["time"]) == T0 + 60
    done, open_one = doc["sessions"][0], doc["sessions"][-1]
    assert {"id", "routine", "started_at", "ended_at", "end_reason"} <= set(done)
    assert parse_time(done["started_at"]) == T0
    assert parse_time(done["ended_at"]) == T0 + 600
    assert done["end_reason"] == "completed"
    assert (open_one["routine"], open_one["ended_at"], open_one["end_reason"]) == (
        "low back", None, None)


def test_export_csv_shape(data: Path, tmp_path: Path) -> None:
    out = ok(run("export", "--format", "csv", "--data-dir", str(data), home=tmp_path))
    assert out.splitlines()[0] == "session_id,time,routine,step,area,value"
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 11
    assert [int(r["value"]) for r in rows if r["area"] == "neck"] == NECK
    shoulder = next(r for r in rows if r["area"] == "shoulder")
    assert shoulder["step"] == "hold levator, left"  # the comma survives quoting
    assert parse_time(shoulder["time"]) == T0 + 3 * DAY + 90


def test_export_to_file_is_private(data: Path, tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    target.write_text("old, world-readable")
    target.chmod(0o644)
    result = run("export", "--format", "json", "--output", str(target), "--data-dir", str(data),
                 home=tmp_path)
    assert ok(result) == ""  # the data went to the file, not the screen
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert len(json.loads(target.read_text())["ratings"]) == 11
    fresh = tmp_path / "fresh.csv"
    ok(run("export", "-o", str(fresh), "--data-dir", str(data), home=tmp_path))
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o600


def test_export_to_an_impossible_file_is_a_clear_error(data: Path, tmp_path: Path) -> None:
    result = run("export", "--output", str(tmp_path / "no" / "such" / "dir.csv"),
                 "--data-dir", str(data), home=tmp_path)
    assert result.returncode != 0
    assert "cannot write the export" in result.stderr and "Traceback" not in result.stderr


def test_environment_variable_is_honoured(data: Path, tmp_path: Path) -> None:
    rows = json.loads(ok(run("history", "--json", env={"COMPANION_DATA_DIR": str(data)},
                             home=tmp_path)))
    assert rows[0]["count"] == 10
    assert not (tmp_path / "xdg-data").exists()


def test_data_dir_flag_beats_the_environment(data: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    with PainLog.open(other) as log:
        log.log_rating(log.start_session("back", T0), T0, 2, 0, "press", "low back")
    rows = json.loads(ok(run("history", "--json", "--data-dir", str(other),
                             env={"COMPANION_DATA_DIR": str(data)}, home=tmp_path)))
    assert [(r["area"], r["count"]) for r in rows] == [("low back", 1)]


def test_default_is_the_xdg_data_dir(tmp_path: Path) -> None:
    default = tmp_path / "xdg-data" / "companion"
    seed(default)
    rows = json.loads(ok(run("history", "--json", home=tmp_path)))
    assert rows[0]["count"] == 10


def without_permission_override() -> tuple[str, ...]:
    """Root writes into read-only folders; drop that power for the child, or skip."""
    if os.geteuid() != 0:
        return ()
    setpriv = shutil.which("setpriv")
    caps = "-dac_override,-dac_read_search"
    prefix = (setpriv or "setpriv", f"--inh-caps={caps}", f"--bounding-set={caps}")
    if not setpriv or subprocess.run([*prefix, "true"], capture_output=True).returncode:
        pytest.skip("running as root and cannot drop CAP_DAC_OVERRIDE")
    return prefix


@pytest.mark.parametrize("command", [["history"], ["export", "--format", "json"]])
def test_read_only_data_dir_is_a_clear_message(tmp_path: Path, command: list[str]) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        result = run(*command, "--data-dir", str(locked), home=tmp_path,
                     prefix=without_permission_override())
    finally:
        locked.chmod(0o700)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert str(locked / DB_NAME) in result.stderr
    assert "not writable" in result.stderr and "--data-dir" in result.stderr
    assert result.stdout == ""


def test_not_a_database_is_a_clear_message(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / DB_NAME).write_text("shopping list\n" * 200)
    result = run("history", "--data-dir", str(tmp_path / "data"), home=tmp_path)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "not a usable pain log" in result.stderr


# --- trends, spoken summary and advice (issue 6) -------------------------------------------


def test_history_json_has_medians_and_dates(data: Path, tmp_path: Path) -> None:
    neck, shoulder = json.loads(ok(run("history", "--json", "--data-dir", str(data),
                                       home=tmp_path)))
    # First 7 days: 7 7 6 6 5 5 5 -> 6; the 7 days up to the latest: 6 5 5 5 4 4 4 -> 5.
    assert {k: neck[k] for k in ("first_median", "rolling_median", "median_change", "days",
                                 "see_professional")} == {
        "first_median": 6, "rolling_median": 5, "median_change": -1, "days": 9.0,
        "see_professional": False}
    assert (shoulder["rolling_median"], shoulder["days"]) == (5, 0.0)


def test_history_spoken_is_plain_words(data: Path, tmp_path: Path) -> None:
    out = ok(run("history", "--spoken", "--data-dir", str(data), home=tmp_path)).strip()
    assert out.startswith("Neck: from seven to four over nine days. Shoulder: five, rated once,")
    assert not any(ch.isdigit() for ch in out)
    (tmp_path / "none").mkdir()
    empty = ok(run("history", "--spoken", "--data-dir", str(tmp_path / "none"), home=tmp_path))
    assert empty.startswith("No pain ratings yet.")


def test_history_shows_advice_while_it_applies_without_using_it_up(tmp_path: Path) -> None:
    """Two weeks of sessions ending now, neck stuck around 7: advice in every history, and
    still spoken (once) at the next session start."""
    data, now = tmp_path / "data", time.time()
    with PainLog.open(data) as log:
        for i, value in enumerate([7, 7, 6, 7, 6, 7, 6, 7]):
            at = now - 15 * DAY + i * 2 * DAY
            session = log.start_session("neck", at)
            log.log_rating(session, at + 60, value, 1, "hold", "neck")
            log.end_session(session, at + 600, "completed")
    for _ in range(2):
        table = ok(run("history", "--data-dir", str(data), home=tmp_path))
        assert "Advice: Your neck has not really improved after two weeks" in table
    [row] = json.loads(ok(run("history", "--json", "--data-dir", str(data), home=tmp_path)))
    assert row["see_professional"] is True
    with PainLog.open(data) as log:
        assert len(trends.reminders(log, time.time())) == 1
        assert trends.reminders(log, time.time()) == []
    assert "Advice:" in ok(run("history", "--data-dir", str(data), home=tmp_path))


def test_a_session_is_still_guided_when_the_data_dir_turned_read_only(tmp_path: Path) -> None:
    """A log that exists (with a session a crash left open) in a folder that has since
    become read-only: no traceback, the session runs, ratings are said to be unsaved."""
    data = tmp_path / "data"
    with PainLog.open(data) as log:
        log.start_session("neck", time.time() - 60)  # never ended: a crash
    for f in [data, *data.iterdir()]:
        f.chmod(0o555 if f.is_dir() else 0o444)
    try:
        result = run("run", "neck", "--text", "--speed", "200", "--data-dir", str(data),
                     home=tmp_path, prefix=without_permission_override(),
                     stdin="pain six\nstop\n")
    finally:
        for f in [data, *data.iterdir()]:
            f.chmod(0o700 if f.is_dir() else 0o600)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 1, result.stderr  # guided, but the rating is lost: a failure
    assert "could not be saved and is lost" in result.stderr
    assert "Six, noted" in result.stdout and "could not be saved" in result.stdout, result.stdout
    assert "could not close the session a crash left open" in result.stderr


def test_a_session_is_guided_in_a_read_only_folder_that_has_no_log_yet(tmp_path: Path) -> None:
    """Nothing can be created: the session still runs, says ratings could not be saved,
    and the log is written on a later run once the folder is writable."""
    data = tmp_path / "data"
    data.mkdir()
    data.chmod(0o555)
    try:
        result = run("run", "neck", "--text", "--speed", "200", "--data-dir", str(data),
                     home=tmp_path, prefix=without_permission_override(),
                     stdin="pain six\nstop\n")
    finally:
        data.chmod(0o700)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 1, result.stderr  # guided, but the rating is lost: a failure
    assert "could not be saved and is lost" in result.stderr
    assert "ratings wait in memory" in result.stderr
    assert "Six, noted" in result.stdout and "could not be saved" in result.stdout, result.stdout
    assert not (data / DB_NAME).exists()
