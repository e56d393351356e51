"""A disk that fills mid-session (an injected fault): the session keeps going, the user
is told, and ratings reach the disk once it takes them again."""

from __future__ import annotations

from companion.clock import ManualClock
from companion.engine import Session
from companion.errors import CompanionError
from companion.library import Library
from companion.runner import Runner
from companion.safe_log import SafeLog
from companion.store import PainLog
from companion.vocabulary import Vocabulary


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


def setup(tmp_path):
    lib = Library()
    clock = ManualClock()
    store = FillingLog(tmp_path / "log.sqlite3")
    said: list[str] = []
    runner = Runner(Session(lib.find("neck"), clock), SafeLog(store),
                    lambda c: said.append(c.text), Vocabulary(lib.aliases()))
    runner.start()
    return clock, store, runner, said


def test_ratings_wait_in_memory_and_are_written_when_the_disk_frees(tmp_path):
    clock, store, runner, said = setup(tmp_path)
    runner.feed("pain four")
    assert said[-1] == "Four, logged."
    store.full = True
    clock.advance(20)
    runner.feed("pain six")
    assert said[-1].startswith("Six, noted.") and "can't save" in said[-1]
    clock.advance(20)
    runner.tick()  # the session carries on regardless
    runner.feed("pain seven")
    assert [r["value"] for r in store.ratings()] == [4]
    store.full = False
    runner.feed("pain three")
    assert said[-1] == "Three, logged."
    assert [r["value"] for r in store.ratings()] == [4, 6, 7, 3]
    runner.feed("stop")
    assert store.sessions()[0]["end_reason"] == "stopped"


def test_user_is_told_at_the_end_if_ratings_could_not_be_saved(tmp_path):
    clock, store, runner, said = setup(tmp_path)
    store.full = True
    runner.feed("pain five")
    runner.feed("pain six")
    runner.feed("stop")
    assert any("Two pain ratings could not be saved" in s for s in said)
