"""A disk that fills mid-session (an injected fault): the session keeps going, the user
is told, and ratings reach the disk once it takes them again."""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager

from companion.core import cues
from companion.core.clock import ManualClock
from companion.core.engine import Session
from companion.core.errors import CompanionError
from companion.storage.library import Library
from companion.loop.runner import Runner
from companion.storage.safe_log import EndSession, LogEvent, LogRating, SafeLog, StartSession
from companion.storage.store import PainLog
from companion.core.vocabulary import Vocabulary


class FillingLog(PainLog):
    """The real pain log, except that writes fail while `full` is set."""

    full = False

    def _fail(self):
        if self.full:
            raise CompanionError(f"{self.path}: the disk is full")

    def log_rating(self, *a, **k):
        self._fail()
        return super().log_rating(*a, **k)

    def log_event(self, *a, **k):
        self._fail()
        return super().log_event(*a, **k)

    def end_session(self, *a, **k):
        self._fail()
        return super().end_session(*a, **k)

    def reopen_session(self, *a, **k):
        self._fail()
        return super().reopen_session(*a, **k)


def setup(tmp_path, log_class: type = None):
    lib = Library()
    clock = ManualClock()
    store = (log_class or FillingLog)(tmp_path / "log.sqlite3")
    said: list[str] = []
    runner = Runner(Session(lib.find("neck"), clock), SafeLog(store),
                    lambda c: said.append(c.text), Vocabulary(lib.aliases()))
    runner.start()
    return clock, store, runner, said


def test_ratings_wait_in_memory_and_are_written_when_the_disk_frees(tmp_path):
    clock, store, runner, said = setup(tmp_path)
    runner.feed("pain four")
    assert said[-1] == "Four, noted."
    store.full = True
    clock.advance(20)
    runner.feed("pain six")
    assert said[-1].startswith("Six, noted.") and "can't save" in said[-1]
    clock.advance(20)
    runner.tick()  # the session carries on regardless
    runner.feed("pain seven")
    assert [r["value"] for r in store.ratings()] == [4]
    store.full = False
    clock.advance(20)
    runner.feed("pain three")
    assert said[-1] == "Three, noted."
    assert [r["value"] for r in store.ratings()] == [4, 6, 7, 3]
    runner.feed("pain two")  # at once: puts the three right, in the order it was said
    assert said[-1] == "Changed to two."
    assert [r["value"] for r in store.ratings()] == [4, 6, 7, 2]
    runner.feed("stop")
    assert store.sessions()[0]["end_reason"] == "stopped"


def test_a_stop_taken_back_on_a_full_disk_reaches_it_in_order(tmp_path):
    """Stopped, taken back and stopped again while the disk refused every write: once it
    takes them, the log has the session ended once, by the last stop, with its rating."""
    clock, store, runner, said = setup(tmp_path)
    store.full = True
    clock.advance(5)
    runner.feed("stop")
    clock.advance(5)
    runner.undo_stop()
    assert said[-2] == cues.STOP_TAKEN_BACK and not runner.over
    clock.advance(30)
    runner.feed("pain three")
    runner.feed("stop")
    store.full = False
    assert runner.log.flush()
    [row] = store.sessions()
    assert (row["end_reason"], row["ratings_count"]) == ("stopped", 1)
    assert [e["detail"] for e in store.events() if e["kind"] == "corrected"] == ["stop -> resume"]


def test_user_is_told_at_the_end_if_ratings_could_not_be_saved(tmp_path):
    clock, store, runner, said = setup(tmp_path)
    store.full = True
    runner.feed("pain five")
    runner.feed("pain six")
    runner.feed("stop")
    assert any("Two pain ratings could not be saved" in s for s in said)


class FullDisk(PainLog):
    """The real pain log on a disk that refuses every SQLite write while `full` is set."""

    full = False

    @contextmanager
    def _transaction(self):
        if self.full:
            raise sqlite3.OperationalError("database or disk is full")
        with super()._transaction() as db:
            yield db


def test_step_events_are_written_once_after_the_disk_was_full(tmp_path):
    clock, store, runner, said = setup(tmp_path, FullDisk)
    store.full = True
    for _ in range(15):  # steps move on while nothing can be written
        runner.feed("next")
        clock.advance(5)
        runner.tick()
    runner.feed("pain five")
    store.full = False
    runner.feed("next")
    runner.feed("pain six")
    runner.feed("stop")
    keys = [(e["at"], e["kind"], e["step_index"]) for e in store.events()]
    assert len(keys) == len(set(keys)), "a step event was stored more than once"
    started = [k for k in keys if k[1] == "started"]
    assert [k[2] for k in started] == list(range(len(started))) and len(started) >= 17
    assert [r["value"] for r in store.ratings()] == [5, 6]
    (session,) = store.sessions()
    assert session["end_reason"] == "stopped"


def test_a_session_started_on_a_full_disk_gets_its_real_id_when_written(tmp_path):
    store = FullDisk(tmp_path / "log.sqlite3")
    safe = SafeLog(store)
    store.full = True
    first = safe.start_session("neck", 10.0)
    second = safe.start_session("back", 11.0)
    assert first < 0 and second < 0 and first != second  # provisional, handed out at once
    safe.log_event(second, 12.0, "started", 0, "Upper back", "back")
    assert safe.log_rating(second, 13.0, 4, 0, "Upper back", "back") == 0
    safe.end_session(first, 14.0, "stopped")
    assert [type(w) for w in safe.pending] == [StartSession, StartSession, LogEvent, LogRating,
                                               EndSession]
    assert safe.unsaved_ratings() == 1 and isinstance(safe.error, CompanionError)
    store.full = False
    assert safe.flush() and not safe.pending and safe.error is None
    neck, back = store.sessions()
    assert (neck["routine"], neck["end_reason"], back["routine"]) == ("neck", "stopped", "back")
    assert [(r["session_id"], r["value"]) for r in store.ratings()] == [(back["id"], 4)]
    assert [e["session_id"] for e in store.events()] == [back["id"]]
