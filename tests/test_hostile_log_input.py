"""Issue 14: input that broke the pain log's commands, run as a user would (a real process on a
real SQLite file, no mocks): implausible imported times and any time already stored, CSV
formulas, one data folder for every command, a mistyped --data-dir, import tracebacks, a
full or closed standard output, and `report` with no arguments."""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Optional

import pytest

from companion.storage.store import DB_NAME, PainLog

T0 = 1_700_000_000.0  # 2023-11-14


def run(*args: str, home: Path, env: Optional[dict[str, str]] = None, stdin: str = "",
        stdout: Any = subprocess.PIPE, cwd: Optional[Path] = None,
        timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """`python -m companion ARGS` with HOME, XDG and the config folder inside `home`."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("COMPANION_")}
    full_env.update(HOME=str(home), XDG_DATA_HOME=str(home / "xdg-data"),
                    COMPANION_CONFIG_DIR=str(home / "config"), TZ="UTC")
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "companion", *args], env=full_env,
                          stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=timeout,
                          input=stdin, cwd=cwd or home)


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    return result.stdout


def refused(result: subprocess.CompletedProcess[str], *says: str) -> str:
    """Exit code 2 and a clear message, no traceback."""
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr and "Exception" not in result.stderr, result.stderr
    for words in says:
        assert words in result.stderr, result.stderr
    return result.stderr


def seed(data: Path, routine: str = "neck", step: str = "hold upper trapezius",
         area: str = "neck") -> None:
    with PainLog.open(data) as log:
        for day, value in enumerate([7, 6, 5]):
            session = log.start_session(routine, T0 + day * 86_400)
            log.log_rating(session, T0 + day * 86_400 + 60, value, 2, step, area)
            log.end_session(session, T0 + day * 86_400 + 600, "completed")


def counts(data: Path) -> tuple[int, int]:
    with sqlite3.connect(data / DB_NAME) as db:
        return (db.execute("SELECT COUNT(*) FROM sessions").fetchone()[0],
                db.execute("SELECT COUNT(*) FROM ratings").fetchone()[0])


SESSION = {"id": 1, "routine": "neck", "started_at": "2023-11-14T22:13:20+00:00",
           "ended_at": "2023-11-14T22:23:20+00:00", "end_reason": "completed"}
RATING = {"session_id": 1, "time": "2023-11-14T22:14:20+00:00", "routine": "neck",
          "step_index": 2, "step": "hold", "area": "neck", "value": 6}


def export_file(path: Path, session: Optional[dict[str, Any]] = None,
                rating: Optional[dict[str, Any]] = None) -> Path:
    doc = {"sessions": [{**SESSION, **(session or {})}],
           "ratings": [{**RATING, **(rating or {})}]}
    path.write_text(json.dumps(doc), "utf-8")
    return path


# --- 1. times: plausible on import, and any stored value shown without a crash ---------------

def _in_days(days: float) -> str:
    return (datetime.now(timezone.utc) + timedelta(days=days)).isoformat(timespec="seconds")


@pytest.mark.parametrize("field, value", [
    ("sessions[0].started_at", "9999-12-31T23:00:00-14:00"),
    ("ratings[0].time", "0001-01-01T00:00:00+14:00"),
    ("ratings[0].time", "1999-12-31T23:59:59+00:00"),
    ("sessions[0].ended_at", "9999-12-31T23:59:59+00:00"),
    ("ratings[0].time", "in 3 days"),
])
def test_import_refuses_an_implausible_time(field: str, value: str, tmp_path: Path) -> None:
    if value == "in 3 days":
        value = _in_days(3)
    record, name = field.split(".")
    change = {name: value} if record.startswith("sessions") else {"time": value}
    file = export_file(tmp_path / "e.json", **(
        {"session": change} if record.startswith("sessions") else {"rating": change}))
    seed(tmp_path / "data")
    err = refused(run("import", str(file), "--data-dir", str(tmp_path / "data"), home=tmp_path),
                  f"{field}: ", "2000", "nothing was imported")
    assert value in err
    assert counts(tmp_path / "data") == (3, 3)


def test_import_takes_a_time_from_today(tmp_path: Path) -> None:
    now = _in_days(0)
    file = export_file(tmp_path / "e.json", session={"started_at": now, "ended_at": None},
                       rating={"time": now})
    ok(run("import", str(file), "--data-dir", str(tmp_path / "data"), home=tmp_path))
    assert counts(tmp_path / "data") == (1, 1)


STORED_TIMES = [1e300, -1e300, float("inf"), float("-inf"), 253_402_300_799.0 * 3,
                -62_135_596_800.0 * 2, "garbage", "2023-11-14", b"\x00\xff", 4e9, -1.0]


@pytest.mark.parametrize("stored", STORED_TIMES, ids=repr)
def test_every_command_survives_any_stored_time(stored: Any, tmp_path: Path) -> None:
    data = tmp_path / "data"
    seed(data)
    with sqlite3.connect(data / DB_NAME) as db:  # as a hand edit or an old import left it
        db.execute("UPDATE ratings SET at = ? WHERE id = 2", (stored,))
        db.execute("UPDATE sessions SET started_at = ? WHERE id = 1", (stored,))
        db.execute("UPDATE sessions SET ended_at = ? WHERE id = 3", (stored,))
    flag = ("--data-dir", str(data))
    table = ok(run("history", *flag, home=tmp_path))
    assert "neck" in table
    rows = json.loads(ok(run("history", "--json", *flag, home=tmp_path)))
    assert rows and rows[0]["area"] == "neck"
    assert ok(run("history", "--spoken", *flag, home=tmp_path)).strip()
    doc = json.loads(ok(run("export", "--format", "json", *flag, home=tmp_path)),
                     parse_constant=lambda c: pytest.fail(f"{c} is not JSON"))
    assert len(doc["ratings"]) == 3 and len(doc["sessions"]) == 3
    assert all(isinstance(r["time"], str) for r in doc["ratings"])
    exported = list(csv.DictReader(io.StringIO(ok(run("export", *flag, home=tmp_path)))))
    assert len(exported) == 3
    page = ok(run("report", "--html", "-", *flag, home=tmp_path))
    assert page.rstrip().endswith("</html>")
    assert "Traceback" not in page


# --- 2. CSV cells a spreadsheet would run ----------------------------------------------------

def test_csv_export_neutralises_formulas(tmp_path: Path) -> None:
    data = tmp_path / "data"
    seed(data, routine="=HYPERLINK(\"http://x\",\"y\")", step="+1+1", area="@SUM(A1)")
    with sqlite3.connect(data / DB_NAME) as db:
        db.execute("UPDATE ratings SET step = '-2+3' WHERE id = 2")
        db.execute("UPDATE ratings SET area = char(9) || 'tab', step = char(13) || 'cr' "
                   "WHERE id = 3")
    out = tmp_path / "out.csv"
    ok(run("export", "-o", str(out), "--data-dir", str(data), home=tmp_path))
    with open(out, newline="", encoding="utf-8") as f:  # keep the CR inside its cell
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    assert header == ["session_id", "time", "routine", "step", "area", "value"]
    for row in body:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), row
    assert body[0][2:5] == ["'=HYPERLINK(\"http://x\",\"y\")", "'+1+1", "'@SUM(A1)"]
    assert body[1][3] == "'-2+3" and body[2][3:5] == ["'\rcr", "'\ttab"]
    assert [row[5] for row in body] == ["7", "6", "5"] and body[0][0] == "1"


# --- 3. one data folder for every command ----------------------------------------------------

def write_config(home: Path, data: Path) -> None:
    (home / "config").mkdir(exist_ok=True)
    (home / "config" / "config.toml").write_text(f'data_dir = "{data}"\n', "utf-8")


def test_config_data_dir_is_used_by_every_log_command(tmp_path: Path) -> None:
    data = tmp_path / "from-config"
    seed(data)
    write_config(tmp_path, data)
    rows = json.loads(ok(run("history", "--json", home=tmp_path)))
    assert rows[0]["count"] == 3
    assert len(json.loads(ok(run("export", "--format", "json", home=tmp_path)))["ratings"]) == 3
    assert "3 sessions and 3 pain ratings" in ok(run("report", "--html", "-", home=tmp_path))
    file = export_file(tmp_path / "e.json", session={"started_at": "2023-12-01T10:00:00Z",
                                                      "ended_at": None},
                       rating={"time": "2023-12-01T10:01:00Z"})
    assert str(data / DB_NAME) in ok(run("import", str(file), home=tmp_path))
    assert counts(data) == (4, 4)
    ok(run("run", "neck", "--text", "--speed", "500", stdin="pain six\nstop\n",
           home=tmp_path))
    assert counts(data)[1] == 5  # the session's rating went to the same log
    assert not (tmp_path / "xdg-data").exists()  # no second log anywhere


def test_flag_beats_environment_beats_config(tmp_path: Path) -> None:
    in_config, in_env, in_flag = (tmp_path / n for n in ("config-data", "env-data", "flag-data"))
    for folder in (in_config, in_env, in_flag):
        seed(folder, area=folder.name)
    write_config(tmp_path, in_config)
    env = {"COMPANION_DATA_DIR": str(in_env)}
    assert json.loads(ok(run("history", "--json", home=tmp_path, env=env)))[0]["area"] == \
        "env-data"
    assert json.loads(ok(run("history", "--json", "--data-dir", str(in_flag), home=tmp_path,
                             env=env)))[0]["area"] == "flag-data"
    ok(run("run", "neck", "--text", "--speed", "500", stdin="pain six\nstop\n",
           home=tmp_path, env=env))
    assert [counts(f)[1] for f in (in_config, in_env, in_flag)] == [3, 4, 3]


# --- 4. a mistyped data folder is not silently a new, empty log -------------------------------

@pytest.mark.parametrize("command", [["history"], ["history", "--json"], ["export"],
                                     ["report", "--html", "-"]])
@pytest.mark.parametrize("how", ["flag", "env", "config"])
def test_a_missing_data_folder_is_named_not_created(command: list[str], how: str,
                                                    tmp_path: Path) -> None:
    typo = tmp_path / "typo"
    env = {"COMPANION_DATA_DIR": str(typo)} if how == "env" else None
    if how == "config":
        write_config(tmp_path, typo)
    extra = ["--data-dir", str(typo)] if how == "flag" else []
    result = run(*command, *extra, home=tmp_path, env=env)
    refused(result, str(typo), "does not exist", "companion run")
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stdout == ""
    assert not typo.exists() and not (tmp_path / "xdg-data").exists()


def test_the_default_folder_is_not_created_by_reading_either(tmp_path: Path) -> None:
    refused(run("history", home=tmp_path), "does not exist", "companion run")
    assert not (tmp_path / "xdg-data").exists()


# --- 5. imports that raised tracebacks -------------------------------------------------------

@pytest.mark.parametrize("make, says", [
    (lambda p: export_file(p, rating={"step_index": 2 ** 70}), "ratings[0].step_index: "),
    (lambda p: export_file(p, session={"steps_started": 2 ** 70}), "sessions[0].steps_started"),
    (lambda p: export_file(p, rating={"step": "\ud800"}), "ratings[0].step: "),
    (lambda p: export_file(p, session={"routine": "neck\udfff"}), "sessions[0].routine: "),
    (lambda p: (p.write_text("[" * 100_000 + "]" * 100_000), p)[1], "nested too deeply"),
    (lambda p: (p.write_text('{"sessions": ' + "[" * 100_000), p)[1], "nested too deeply"),
])
def test_import_that_used_to_crash_is_one_clear_line(make: Any, says: str,
                                                     tmp_path: Path) -> None:
    data = tmp_path / "data"
    seed(data)
    file = make(tmp_path / "hostile.json")
    err = refused(run("import", str(file), "--data-dir", str(data), home=tmp_path), says,
                  "hostile.json")
    assert len(err.strip().splitlines()) <= 2  # the file, then the one problem
    assert counts(data) == (3, 3)


def test_import_refuses_a_fifo_and_a_device(tmp_path: Path) -> None:
    fifo = tmp_path / "e.json"
    os.mkfifo(fifo)
    start = time.monotonic()
    refused(run("import", str(fifo), "--data-dir", str(tmp_path / "data"), home=tmp_path,
                timeout=30), str(fifo), "not a regular file")
    assert time.monotonic() - start < 20
    refused(run("import", "/dev/zero", "--data-dir", str(tmp_path / "data"), home=tmp_path),
            "/dev/zero", "not a regular file")


def test_import_refuses_a_huge_file(tmp_path: Path) -> None:
    huge = tmp_path / "huge.json"
    with open(huge, "wb") as f:
        f.truncate(65 * 1024 * 1024)  # sparse: takes no disk
    refused(run("import", str(huge), "--data-dir", str(tmp_path / "data"), home=tmp_path),
            "too large", "64 MB")


# --- 6. a full or closed standard output -----------------------------------------------------

@pytest.mark.parametrize("command", [["export"], ["export", "--format", "json"], ["history"],
                                     ["history", "--json"], ["history", "--spoken"],
                                     ["report", "--html", "-"]])
def test_a_full_standard_output_is_one_clear_line(command: list[str], tmp_path: Path) -> None:
    seed(tmp_path / "data")
    with open("/dev/full", "w") as full:
        result = run(*command, "--data-dir", str(tmp_path / "data"), home=tmp_path,
                     stdout=full)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr and "Exception" not in result.stderr, result.stderr
    assert result.stderr.strip().splitlines() == [
        "companion: cannot write to standard output: No space left on device"], result.stderr


@pytest.mark.parametrize("command", [["export"], ["history"], ["report", "--html", "-"]])
def test_a_closed_pipe_ends_quietly(command: list[str], tmp_path: Path) -> None:
    seed(tmp_path / "data")
    read, write = os.pipe()
    os.close(read)  # like `| head` that has already finished
    try:
        result = run(*command, "--data-dir", str(tmp_path / "data"), home=tmp_path,
                     stdout=write)
    finally:
        os.close(write)
    assert result.stderr == "", result.stderr
    assert result.returncode == 0


# --- 7. `report` with no arguments -----------------------------------------------------------

def test_report_alone_writes_a_file_here_and_says_where(tmp_path: Path) -> None:
    seed(tmp_path / "data")
    work = tmp_path / "work"
    work.mkdir()
    result = run("report", "--data-dir", str(tmp_path / "data"), home=tmp_path, cwd=work)
    assert ok(result) == ""
    page = work / "pain-report.html"
    assert page.read_text().rstrip().endswith("</html>")
    assert str(page) in result.stderr
    assert "pain-report.html" in ok(run("report", "--help", home=tmp_path))
