"""`companion import`: an export goes back in whole, only once, and bad files are refused."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from companion.core.errors import CompanionError
from companion.storage.export_format import Export
from companion.storage.portability import parse_export
from companion.storage.store import PainLog
from test_cmd_log import DAY, T0, ok, run, seed


def export(data: Path, home: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(ok(run("export", "--format", "json", "--data-dir", str(data), home=home)))
    return doc


def write(path: Path, doc: Any) -> Path:
    path.write_text(json.dumps(doc) if not isinstance(doc, str) else doc)
    return path


@pytest.fixture
def exported(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    """The seeded log of test_cmd_log (11 sessions, 11 ratings, one never ended), exported."""
    seed(tmp_path / "data")
    doc = export(tmp_path / "data", tmp_path)
    return write(tmp_path / "export.json", doc), doc


def test_round_trip_into_an_empty_log(exported: tuple[Path, dict[str, Any]],
                                      tmp_path: Path) -> None:
    file, doc = exported
    fresh = tmp_path / "fresh"
    out = ok(run("import", str(file), "--data-dir", str(fresh), home=tmp_path))
    assert out.splitlines()[0].startswith("imported 11 sessions and 11 ratings into ")
    assert "skipped" not in out
    assert export(fresh, tmp_path) == doc  # ids, times, counts, open session: all the same


def test_importing_twice_adds_nothing_and_says_so(exported: tuple[Path, dict[str, Any]],
                                                  tmp_path: Path) -> None:
    file, doc = exported
    fresh = tmp_path / "fresh"
    ok(run("import", str(file), "--data-dir", str(fresh), home=tmp_path))
    out = ok(run("import", str(file), "--data-dir", str(fresh), home=tmp_path))
    assert out.splitlines() == [f"imported 0 sessions and 0 ratings into {fresh}/companion.sqlite3",
                                "skipped 11 sessions and 11 ratings already in the log"]
    assert export(fresh, tmp_path) == doc


def test_importing_into_the_log_it_came_from_adds_nothing(tmp_path: Path) -> None:
    """The log has fractions of a second; the export does not. They still match."""
    data = tmp_path / "data"
    with PainLog.open(data) as log:
        session = log.start_session("neck", T0 + 0.75)
        log.log_rating(session, T0 + 60.999, 6, 2, "hold", "neck")
        log.log_rating(session, T0 + 60.999, 6, 2, "hold", "neck")  # said twice in a second
        log.end_session(session, T0 + 600.5, "completed")
    file = write(tmp_path / "e.json", export(data, tmp_path))
    out = ok(run("import", str(file), "--data-dir", str(data), home=tmp_path))
    assert "imported 0 sessions and 0 ratings" in out and "skipped 1 sessions and 2 ratings" in out
    fresh = tmp_path / "fresh"
    ok(run("import", str(file), "--data-dir", str(fresh), home=tmp_path))
    with PainLog.open(fresh) as log:
        assert [r["value"] for r in log.ratings()] == [6, 6]  # both equal ratings survive


def test_a_newer_export_adds_only_what_is_new(exported: tuple[Path, dict[str, Any]],
                                              tmp_path: Path) -> None:
    file, doc = exported
    older = {"sessions": doc["sessions"][:5],
             "ratings": [r for r in doc["ratings"] if r["session_id"] <= 5][:-1]}
    fresh = tmp_path / "fresh"
    ok(run("import", str(write(tmp_path / "older.json", older)), "--data-dir", str(fresh),
           home=tmp_path))
    out = ok(run("import", str(file), "--data-dir", str(fresh), home=tmp_path))
    # Sessions 1-5 (six ratings, one left out) are there; the left-out one joins its session.
    assert "imported 6 sessions and 6 ratings" in out
    assert "skipped 5 sessions and 5 ratings" in out
    assert export(fresh, tmp_path) == doc  # including that session's ratings_count


def test_import_goes_beside_existing_sessions(exported: tuple[Path, dict[str, Any]],
                                              tmp_path: Path) -> None:
    file, doc = exported
    other = tmp_path / "other"
    with PainLog.open(other) as log:
        session = log.start_session("calf", T0 - DAY)
        log.log_rating(session, T0 - DAY + 5, 3, 0, "press", "calf")
        log.end_session(session, T0 - DAY + 300, "completed")
    ok(run("import", str(file), "--data-dir", str(other), home=tmp_path))
    merged = export(other, tmp_path)
    assert len(merged["sessions"]) == 12 and len(merged["ratings"]) == 12
    assert merged["sessions"][0]["routine"] == "calf"
    by_session = {s["id"]: s for s in merged["sessions"]}
    for rating in merged["ratings"]:  # every rating still points at its own session
        assert by_session[rating["session_id"]]["routine"] == rating["routine"]


def test_standard_input(exported: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    file, _ = exported
    result = subprocess.run([sys.executable, "-m", "companion", "import", "-", "--data-dir",
                             str(tmp_path / "fresh")], input=file.read_text(), text=True,
                            capture_output=True, timeout=60)
    assert "imported 11 sessions and 11 ratings" in ok(result)


GOOD_SESSION = {"id": 1, "routine": "neck", "started_at": "2023-11-14T22:13:20+00:00",
                "ended_at": "2023-11-14T22:23:20+00:00", "end_reason": "completed"}
GOOD_RATING = {"session_id": 1, "time": "2023-11-14T22:14:20+00:00", "routine": "neck",
               "step_index": 2, "step": "hold", "area": "neck", "value": 6}


def doc_with(session: dict[str, Any] | None = None, rating: dict[str, Any] | None = None,
             **top: Any) -> dict[str, Any]:
    return {"sessions": [{**GOOD_SESSION, **(session or {})}],
            "ratings": [{**GOOD_RATING, **(rating or {})}], **top}


BAD_FILES = [
    ('{"sessions": [', "is not JSON (line 1, column 15"),
    ("session_id,time,routine,step,area,value\n1,x,neck,,neck,5\n", "is a CSV export"),
    ([], "found a list"),
    ({"sessions": []}, "found an object without them"),
    (doc_with(rating={"value": 11}), "ratings[0].value: must be a pain rating, a whole number "
                                     "from 0 to 10, not 11"),
    (doc_with(rating={"value": "6"}), 'ratings[0].value: must be a pain rating'),
    (doc_with(rating={"value": True}), "not true"),
    (doc_with(rating={"time": "2023-11-14 22:14"}), "ratings[0].time: must be a time with its "
                                                    "UTC offset"),
    (doc_with(rating={"session_id": 7}), "ratings[0].session_id: no session 7 in the file"),
    (doc_with(session={"started_at": None}), "sessions[0].started_at: must be a time"),
    (doc_with(session={"routine": ""}), "sessions[0].routine: must be a non-empty string"),
    (doc_with(session={"ended_at": "2023-11-13T00:00:00+00:00"}),
     "sessions[0].ended_at: before started_at"),
    ({"sessions": [GOOD_SESSION, GOOD_SESSION], "ratings": []},
     "sessions[1].id: 1 is used by more than one session"),
    ({"sessions": ["neck"], "ratings": []}, "sessions[0]: must be an object, not a string"),
    ('{"sessions": [], "ratings": [{"value": NaN}]}', "NaN is not a number JSON allows"),
]


@pytest.mark.parametrize("content, says", BAD_FILES)
def test_bad_files_are_refused_clearly(content: Any, says: str, tmp_path: Path) -> None:
    file = write(tmp_path / "bad.json", content)
    result = run("import", str(file), "--data-dir", str(tmp_path / "data"), home=tmp_path)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert says in result.stderr, result.stderr
    assert str(file) in result.stderr or "bad.json" in result.stderr
    with PainLog.open(tmp_path / "data") as log:
        assert log.sessions() == [] and log.ratings() == []  # nothing half-imported


def test_problems_are_listed_up_to_five(tmp_path: Path) -> None:
    ratings = [{**GOOD_RATING, "value": 20 + i} for i in range(8)]
    with pytest.raises(Exception) as caught:
        parse_export(json.dumps({"sessions": [GOOD_SESSION], "ratings": ratings}), "x.json")
    lines = str(caught.value).splitlines()
    assert lines[0] == "x.json is not a usable export; nothing was imported:"
    assert lines[1].strip().startswith("ratings[0].value") and lines[-1].strip() == \
        "... and 3 more"


def test_link_problems_are_listed_beside_field_problems() -> None:
    sessions = [GOOD_SESSION, {**GOOD_SESSION, "id": 2, "ended_at": "2000-01-01T00:00:00+00:00"},
                GOOD_SESSION]
    with pytest.raises(CompanionError) as caught:
        parse_export(json.dumps({"sessions": sessions,
                                 "ratings": [{**GOOD_RATING, "session_id": 9}]}), "x.json")
    assert [line.strip() for line in str(caught.value).splitlines()[1:]] == [
        "sessions[1].ended_at: before started_at",
        "sessions[0].id: 1 is used by more than one session",
        "sessions[2].id: 1 is used by more than one session",
        "ratings[0].session_id: no session 9 in the file"]


def test_a_session_with_a_bad_id_does_not_also_orphan_its_ratings() -> None:
    with pytest.raises(CompanionError) as caught:
        parse_export(json.dumps(doc_with(session={"id": "1"})), "x.json")
    assert str(caught.value).splitlines()[1:] == ['  sessions[0].id: must be a whole number, '
                                                  'not "1"']


def test_a_checked_export_is_typed_with_unix_times() -> None:
    export = parse_export(json.dumps(doc_with()), "x.json")
    assert isinstance(export, Export)
    (rating,) = export.ratings
    assert (rating.session_id, rating.at, rating.value, rating.step) == (1, 1_700_000_060.0, 6,
                                                                         "hold")
    assert export.sessions[0].started_at == 1_700_000_000.0


@pytest.mark.parametrize("make, says", [
    (lambda p: p / "missing.json", "cannot read"),
    (lambda p: p, "cannot read"),  # a folder
    (lambda p: (p / "bin.json", (p / "bin.json").write_bytes(b"\xff\xfe\x00"))[0],
     "is not a text file"),
])
def test_unreadable_files_are_a_clear_message(make: Any, says: str, tmp_path: Path) -> None:
    result = run("import", str(make(tmp_path)), "--data-dir", str(tmp_path / "data"),
                 home=tmp_path)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert says in result.stderr


def test_optional_fields_may_be_missing(tmp_path: Path) -> None:
    minimal = {"sessions": [{"id": 4, "routine": "calf", "started_at": "2023-11-14T10:00:00Z"}],
               "ratings": [{"session_id": 4, "time": "2023-11-14T11:01:00+01:00", "value": 0}]}
    export = parse_export(json.dumps(minimal), "m.json")
    with PainLog.open(tmp_path) as log:
        done = log.import_rows(export)
        assert (done.sessions_added, done.ratings_added) == (1, 1)
        [rating] = log.ratings()
        assert (rating["routine"], rating["area"], rating["value"]) == ("calf", None, 0)
        assert rating["at"] == 1_699_956_060.0  # 11:01 at +01:00 is 10:01 UTC
        [session] = log.sessions()
        assert (session["ended_at"], session["ratings_count"]) == (None, 1)


def test_import_into_a_log_holding_hand_edited_times(tmp_path: Path) -> None:
    """A stored time that is no number (a hand edit) matches nothing and breaks nothing."""
    with PainLog.open(tmp_path) as log:
        session = log.start_session("neck", T0)
        log.log_rating(session, T0 + 60, 6, 2, "hold", "neck")
    with sqlite3.connect(tmp_path / "companion.sqlite3") as db:
        db.execute("UPDATE sessions SET started_at = 'garbage'")
        db.execute("UPDATE ratings SET at = ?", (float("inf"),))
    export = parse_export(json.dumps(doc_with()), "x.json")
    with PainLog.open(tmp_path) as log:
        done = log.import_rows(export)
        assert (done.sessions_added, done.ratings_added) == (1, 1)
        assert len(log.sessions()) == 2 and len(log.ratings()) == 2
