"""The pain log on real SQLite files: privacy, durability, validation, crash recovery."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path
from typing import Iterator

import pytest

from companion.core.errors import CompanionError
from companion.storage.store import DB_NAME, SCHEMA_VERSION, PainLog

T0 = 1_700_000_000.0  # a fixed "now" so times are predictable


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """umask 0: anything private must be private on purpose, not thanks to the umask."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture
def log(tmp_path: Path) -> Iterator[PainLog]:
    with PainLog.open(tmp_path / "data") as opened:
        yield opened


def raw(path: Path) -> sqlite3.Connection:
    """A second, independent connection, as another process would have."""
    return sqlite3.connect(str(path))


def test_folder_is_0700_and_file_0600(tmp_path: Path, permissive_umask: None) -> None:
    folder = tmp_path / "deep" / "data"
    with PainLog.open(folder) as log:
        log.log_rating(log.start_session("neck", T0), T0 + 1, 6, 0, "press", "neck")
    assert mode(folder) == 0o700
    assert mode(folder / DB_NAME) == 0o600
    assert sorted(p.name for p in folder.iterdir()) == [DB_NAME]  # no journal left behind


def test_rollback_journal_is_as_private_as_the_file(tmp_path: Path,
                                                    permissive_umask: None) -> None:
    with PainLog.open(tmp_path) as log:
        log.start_session("neck", T0)
    other = sqlite3.connect(str(tmp_path / DB_NAME), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO sessions (routine, started_at) VALUES ('x', 1)")
    journal = tmp_path / (DB_NAME + "-journal")
    assert journal.exists() and mode(journal) == 0o600
    other.execute("ROLLBACK")
    other.close()


def test_loose_existing_file_is_tightened(tmp_path: Path) -> None:
    PainLog.open(tmp_path).close()
    os.chmod(tmp_path / DB_NAME, 0o644)
    PainLog.open(tmp_path).close()
    assert mode(tmp_path / DB_NAME) == 0o600


def test_rating_is_on_disk_when_log_rating_returns(log: PainLog) -> None:
    session = log.start_session("neck", T0)
    rating = log.log_rating(session, T0 + 5, 6, 2, "hold upper trapezius", "neck")
    with raw(log.path) as other:  # no close() of `log` in between
        row = other.execute("SELECT id, session_id, at, value, step_index, step, area, routine "
                            "FROM ratings").fetchone()
    assert row == (rating, session, T0 + 5, 6, 2, "hold upper trapezius", "neck", "neck")
    assert log._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_a_correction_replaces_the_sessions_last_rating(log: PainLog) -> None:
    sid = log.start_session("neck", 1000.0)
    first = log.log_rating(sid, 1001.0, 4, 2, "knot", "neck")
    fixed = log.log_rating(sid, 1004.0, 6, 2, "knot", "neck", corrects=True)
    assert fixed == first  # the same rating, now right
    assert [(r["value"], r["at"]) for r in log.ratings()] == [(6, 1004.0)]
    (event,) = [e for e in log.events(sid) if e["kind"] == "corrected"]
    assert event["detail"] == "pain 4 -> 6" and event["step"] == "knot"
    other = log.start_session("neck", 2000.0)  # a correction never reaches another session
    log.log_rating(other, 2001.0, 3, 0, "pos", "neck", corrects=True)
    assert sorted(r["value"] for r in log.ratings()) == [3, 6]


@pytest.mark.parametrize("bad", [-1, 11, 6.5, "6", None, True])
def test_out_of_range_rating_is_rejected(log: PainLog, bad: object) -> None:
    session = log.start_session("neck", T0)
    with pytest.raises(ValueError):
        log.log_rating(session, T0, bad, 0, "press", "neck")  # type: ignore[arg-type]
    assert log.ratings() == []


def test_database_itself_refuses_out_of_range(log: PainLog) -> None:
    session = log.start_session("neck", T0)
    with raw(log.path) as other, pytest.raises(sqlite3.IntegrityError):
        other.execute("INSERT INTO ratings (session_id, at, value, routine) VALUES (?, 1, 11, 'x')",
                      (session,))


def test_edges_and_numpy_style_ints_are_accepted(log: PainLog) -> None:
    session = log.start_session("neck", T0)

    class Index:  # anything with __index__, like numpy.int64
        def __index__(self) -> int:
            return 10

    log.log_rating(session, T0, 0, 0, "press", "neck")
    log.log_rating(session, T0 + 1, Index(), 0, "press", "neck")  # type: ignore[arg-type]
    assert [r["value"] for r in log.ratings()] == [0, 10]


def test_unknown_session_is_a_value_error(log: PainLog) -> None:
    with pytest.raises(ValueError):
        log.log_rating(99, T0, 5, 0, "press", "neck")
    with pytest.raises(ValueError):
        log.log_event(99, T0, "started")


def test_step_events_are_batched_but_written_with_the_next_rating(log: PainLog) -> None:
    session = log.start_session("neck", T0)
    log.log_event(session, T0 + 1, "started", 0, "press", "neck")
    with raw(log.path) as other:
        assert other.execute("SELECT COUNT(*) FROM step_events").fetchone()[0] == 0
    log.log_rating(session, T0 + 2, 4, 0, "press", "neck")
    with raw(log.path) as other:
        assert other.execute("SELECT kind FROM step_events").fetchall() == [("started",)]


def test_close_writes_queued_events(tmp_path: Path) -> None:
    with PainLog.open(tmp_path) as log:
        session = log.start_session("neck", T0)
        log.log_event(session, T0 + 1, "paused", 3, "hold", "neck", "user said pause")
    with PainLog.open(tmp_path) as log:
        assert log.events(session) == [{"session_id": session, "at": T0 + 1, "kind": "paused",
                                        "step_index": 3, "step": "hold", "area": "neck",
                                        "detail": "user said pause"}]


def test_long_quiet_stretch_flushes_events(log: PainLog) -> None:
    session = log.start_session("neck", T0)
    log.log_event(session, T0, "started", 0)
    log.log_event(session, T0 + 60, "ended", 0)  # a minute later: do not keep it in memory
    with raw(log.path) as other:
        assert other.execute("SELECT COUNT(*) FROM step_events").fetchone()[0] == 2


def test_end_session_records_reason_and_counts(log: PainLog) -> None:
    session = log.start_session("neck", T0)
    for i, kind in enumerate(["started", "ended", "started", "skipped", "started"]):
        log.log_event(session, T0 + i, kind, i // 2, f"step {i // 2}", "neck")
    log.log_rating(session, T0 + 10, 5, 2, "step 2", "neck")
    log.end_session(session, T0 + 20, "completed")
    [row] = log.sessions()
    assert row == {"id": session, "routine": "neck", "started_at": T0, "ended_at": T0 + 20,
                   "end_reason": "completed", "steps_started": 3, "steps_skipped": 1,
                   "ratings_count": 1}


def test_a_reopened_session_is_open_until_it_ends_again(log: PainLog) -> None:
    """A "stop" taken back: the session's end is undone (a crash now closes it as
    interrupted, not as stopped), and its next end is the one kept."""
    session = log.start_session("neck", T0)
    log.end_session(session, T0 + 20, "stopped")
    log.reopen_session(session)
    log.log_rating(session, T0 + 30, 4, 1, "press", "neck")
    [row] = log.sessions()
    assert (row["ended_at"], row["end_reason"], row["ratings_count"]) == (None, None, 1)
    log.end_session(session, T0 + 90, "completed")
    [row] = log.sessions()
    assert (row["ended_at"], row["end_reason"]) == (T0 + 90, "completed")
    log.reopen_session(session)
    assert log.close_interrupted(T0 + 999) == 1
    assert log.sessions()[0]["end_reason"] == "interrupted"
    with pytest.raises(ValueError):
        log.reopen_session(session + 1)


def test_close_interrupted(log: PainLog) -> None:
    done = log.start_session("neck", T0)
    log.end_session(done, T0 + 100, "completed")
    rated = log.start_session("neck", T0 + 1000)
    log.log_event(rated, T0 + 1010, "started", 0, "press", "neck")
    log.log_rating(rated, T0 + 1050, 7, 0, "press", "neck")
    log.log_event(rated, T0 + 1040, "paused", 0)
    silent = log.start_session("low back", T0 + 2000)

    assert log.close_interrupted(T0 + 9999) == 2
    by_id = {s["id"]: s for s in log.sessions()}
    assert (by_id[done]["ended_at"], by_id[done]["end_reason"]) == (T0 + 100, "completed")
    assert (by_id[rated]["ended_at"], by_id[rated]["end_reason"]) == (T0 + 1050, "interrupted")
    assert by_id[rated]["ratings_count"] == 1
    assert (by_id[silent]["ended_at"], by_id[silent]["end_reason"]) == (T0 + 9999, "interrupted")
    assert log.close_interrupted(T0 + 99999) == 0


def test_schema_version_is_set_and_reopening_keeps_data(tmp_path: Path) -> None:
    with PainLog.open(tmp_path) as log:
        log.log_rating(log.start_session("neck", T0), T0, 3, 0, "press", "neck")
    with raw(tmp_path / DB_NAME) as other:
        assert other.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2
    with PainLog.open(tmp_path) as log:
        assert [r["value"] for r in log.ratings()] == [3]


def test_log_from_a_newer_companion_is_refused(tmp_path: Path) -> None:
    PainLog.open(tmp_path).close()
    with raw(tmp_path / DB_NAME) as other:
        other.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(CompanionError, match="newer"):
        PainLog.open(tmp_path)


def test_open_honours_override_then_environment(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPANION_DATA_DIR", str(tmp_path / "env"))
    with PainLog.open() as log:
        assert log.path == tmp_path / "env" / DB_NAME
    with PainLog.open(tmp_path / "flag") as log:
        assert log.path == tmp_path / "flag" / DB_NAME
    assert (tmp_path / "env" / DB_NAME).exists() and (tmp_path / "flag" / DB_NAME).exists()


def test_not_a_database_names_the_file(tmp_path: Path) -> None:
    (tmp_path / DB_NAME).write_bytes(b"these are my notes, not a database" * 100)
    with pytest.raises(CompanionError) as caught:
        PainLog.open(tmp_path)
    assert str(tmp_path / DB_NAME) in str(caught.value)
    assert "Move it aside" in str(caught.value)


def test_file_in_place_of_the_folder(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("oops")
    with pytest.raises(CompanionError, match="in the way"):
        PainLog.open(tmp_path / "data")


def test_full_disk_is_a_clear_error_and_earlier_ratings_survive(log: PainLog) -> None:
    session = log.start_session("neck", T0)
    log.log_rating(session, T0, 5, 0, "press", "neck")
    pages = log._db.execute("PRAGMA page_count").fetchone()[0]
    log._db.execute(f"PRAGMA max_page_count = {pages}")  # the file may not grow: "disk full"
    with pytest.raises(CompanionError, match="disk is full"):
        for i in range(2000):
            log.log_event(session, T0 + i, "started", i, "x" * 500, "neck")
    assert [r["value"] for r in log.ratings()] == [5]
    log._db.execute("PRAGMA max_page_count = 1000000")  # space freed: queued events go in
    log.log_rating(session, T0 + 5000, 3, 1, "press", "neck")
    assert [r["value"] for r in log.ratings()] == [5, 3]
    assert len(log.events()) == i  # the call that raised did not happen; the ones before did


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders anyway; "
                    "test_cmd_log covers this with the capability dropped")
def test_read_only_folder_is_a_clear_error(tmp_path: Path) -> None:
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(CompanionError, match="not writable"):
            PainLog.open(tmp_path)
    finally:
        tmp_path.chmod(0o700)


def test_closed_log_refuses_politely(tmp_path: Path) -> None:
    log = PainLog.open(tmp_path)
    session = log.start_session("neck", T0)
    log.close()
    log.close()  # twice is fine
    with pytest.raises(CompanionError, match="closed"):
        log.log_rating(session, T0, 5, 0, "press", "neck")


def test_whatever_a_hand_edit_stored_reads_back_as_text_and_times_as_stored(log: PainLog) -> None:
    """SQLite keeps any type in any column: text columns read back as str (bytes that are not
    UTF-8 as U+FFFD), times as stored, with usable_time saying which ones can be charted."""
    from companion.storage.store import usable_time

    session = log.start_session("neck", T0)
    log.log_rating(session, T0 + 60, 5, 1, "hold", "neck")
    with raw(log.path) as other:
        other.execute("UPDATE ratings SET area = X'ff6e65636b', step = 42, at = 'garbage'")
        other.execute("UPDATE sessions SET routine = X'00'")
    [rating] = log.ratings()
    assert (rating["area"], rating["step"], rating["at"]) == ("\ufffdneck", "42", "garbage")
    assert log.sessions()[0]["routine"] == "\x00"
    assert [usable_time(v) for v in (T0, 0, "garbage", b"", True, float("inf"), 1e300,
                                     -1.0, None)] == [T0, 0.0] + [None] * 7
