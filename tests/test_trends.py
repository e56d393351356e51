"""Trends, spoken summaries and the seeds' two rules, on real logs with known figures."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Iterator, Sequence

import pytest

from companion.storage import store, trends
from companion.storage.store import DB_NAME, PainLog
from companion.storage.trends import DAY

T0 = 1_700_000_000.0  # 2023-11-14
STALLED = [7, 7, 6, 7, 6, 7, 6, 7]  # every 2 days for 14 days: first week 7, last week 6.5
IMPROVING = [7, 7, 6, 6, 5, 4, 4, 3]  # first week 6.5, last week 4


def seed(log: PainLog, values: Sequence[int], area: str = "neck", start: float = T0,
         every_days: float = 2.0, routine: str = "neck") -> float:
    """One session per value, `every_days` apart, each with one rating a minute in.
    Returns the time of the last rating."""
    at = start
    for i, value in enumerate(values):
        at = start + i * every_days * DAY
        session = log.start_session(routine, at)
        log.log_rating(session, at + 60, value, 1, "hold", area)
        log.end_session(session, at + 600, "completed")
    return at + 60


pytestmark = pytest.mark.usefixtures("utc")  # conftest.py: local days pinned to UTC


@pytest.fixture
def log(tmp_path: Path) -> Iterator[PainLog]:
    with PainLog.open(tmp_path / "data") as opened:
        yield opened


def only(log: PainLog) -> trends.AreaTrend:
    [trend] = trends.area_trends(log.ratings())
    return trend


# --- trends ------------------------------------------------------------------------------


def test_first_latest_and_medians(log: PainLog) -> None:
    seed(log, [7, 7, 6, 6, 5, 5, 5, 4, 4, 4], every_days=1)
    t = only(log)
    assert (t.area, t.first, t.latest, t.change, t.count) == ("neck", 7, 4, -3, 10)
    # First 7 days: days 0-6 -> 7 7 6 6 5 5 5; the 7 days up to the latest: days 3-9.
    assert (t.first_median, t.rolling_median, t.median_change) == (6, 5, -1)
    assert (t.first_at, t.latest_at, t.span_days) == (T0 + 60, T0 + 9 * DAY + 60, 9)


def test_rolling_window_is_seven_days_and_excludes_its_far_edge(log: PainLog) -> None:
    seed(log, [9, 2, 2], every_days=7)  # day 0, 7, 14: day 7 is exactly 7 days before day 14
    t = only(log)
    assert (t.first_median, t.rolling_median) == (9, 2)
    seed(log, [3], start=T0 + 10 * DAY)  # the window now holds days 10 and 14
    assert only(log).rolling_median == 2.5


def test_even_counts_give_half_medians_and_areas_are_sorted(log: PainLog) -> None:
    seed(log, [6, 3], area="shoulder", every_days=1)
    seed(log, [4], area="calf", start=T0 + 5)
    by_area = {t.area: t for t in trends.area_trends(log.ratings())}
    assert list(by_area) == ["calf", "shoulder"]
    assert by_area["shoulder"].rolling_median == 4.5 and by_area["calf"].rolling_median == 4


def test_now_hides_later_ratings(log: PainLog) -> None:
    seed(log, [7, 5, 3], every_days=1)
    [t] = trends.area_trends(log.ratings(), now=T0 + DAY + 60)
    assert (t.latest, t.count) == (5, 2)


# --- reminder to rate ---------------------------------------------------------------------


def test_reminder_after_three_days_without_a_rating(log: PainLog) -> None:
    last = seed(log, [6, 5])
    line = trends.rate_reminder(log.ratings(), log.sessions(), last + 3 * DAY)
    assert line is not None and line.startswith("It has been three days since you last rated")
    assert "pain level and a number from zero to ten" in line
    assert trends.reminders(log, last + 4.5 * DAY) == [
        line.replace("three days", "four days")]


def test_no_reminder_when_rated_recently(log: PainLog) -> None:
    last = seed(log, [6, 5])
    assert trends.rate_reminder(log.ratings(), log.sessions(), last + 3 * DAY - 1) is None
    assert trends.reminders(log, last + DAY) == []


def test_no_reminder_for_a_new_user(log: PainLog) -> None:
    assert trends.reminders(log, T0) == []
    session = log.start_session("neck", T0)  # the first session, just started
    assert trends.reminders(log, T0 + 60) == []
    log.end_session(session, T0 + 600, "completed")
    line = trends.rate_reminder(log.ratings(), log.sessions(), T0 + 3 * DAY)
    assert line is not None and line.startswith("You have not rated your pain yet.")


# --- advice to see a professional -------------------------------------------------------


def test_advice_after_two_weeks_without_improvement(log: PainLog) -> None:
    last = seed(log, STALLED)
    t = only(log)
    assert (t.first_median, t.rolling_median, t.span_days) == (7, 6.5, 14)
    assert trends.advice_areas(log.ratings(), log.sessions(), last) == ["neck"]
    lines = trends.reminders(log, last + 60)
    assert len(lines) == 1
    assert lines[0].startswith("Your neck has not really improved after two weeks of regular "
                               "sessions.")
    assert "physical therapist" in lines[0]


def test_no_advice_when_improving(log: PainLog) -> None:
    last = seed(log, IMPROVING)
    assert (only(log).first_median, only(log).rolling_median) == (6.5, 4)
    assert trends.advice_areas(log.ratings(), log.sessions(), last) == []
    assert trends.reminders(log, last + 60) == []


def test_a_drop_of_exactly_two_counts_as_improvement(log: PainLog) -> None:
    last = seed(log, [7, 7, 7, 7, 5, 5, 5, 5])
    assert trends.advice_areas(log.ratings(), log.sessions(), last) == []


@pytest.mark.parametrize("values, every_days, why", [
    (STALLED[:7], 2.0, "only twelve days so far"),
    ([2, 2, 3, 2, 2, 3, 2, 2], 2.0, "pain is already low"),
    (STALLED[:3], 7.0, "three sessions are not regular"),
])
def test_no_advice_too_early_or_when_there_is_little_pain(
        log: PainLog, values: list[int], every_days: float, why: str) -> None:
    last = seed(log, values, every_days=every_days)
    assert trends.advice_areas(log.ratings(), log.sessions(), last) == [], why


def test_no_advice_after_a_long_gap(log: PainLog) -> None:
    seed(log, STALLED[:3])  # days 0, 2, 4 ...
    last = seed(log, STALLED[3:5], start=T0 + 20 * DAY)  # ... then 16 days off: days 20, 22
    assert only(log).span_days == 22
    assert trends.advice_areas(log.ratings(), log.sessions(), last) == []


def test_advice_is_spoken_once_and_remembered(log: PainLog, tmp_path: Path) -> None:
    last = seed(log, STALLED)
    assert trends.reminders(log, last, remember=False) != []  # a peek records nothing
    assert log.notices() == {}
    assert len(trends.reminders(log, last)) == 1
    assert log.notices() == {"see-professional:neck": last}
    assert trends.reminders(log, last + 60) == []
    with PainLog.open(tmp_path / "data") as again:  # another process, another day
        assert trends.reminders(again, last + DAY) == []
    # Still applies, so history keeps showing it.
    assert trends.advice_areas(log.ratings(), log.sessions(), last + DAY) == ["neck"]


def test_a_second_area_gets_its_own_advice(log: PainLog) -> None:
    last = seed(log, STALLED)
    assert len(trends.reminders(log, last)) == 1
    later = seed(log, [5, 5, 5, 5, 5, 5, 5, 5], area="low back", start=T0 + 16 * DAY,
                 routine="low back")
    lines = trends.reminders(log, later)
    assert len(lines) == 1 and lines[0].startswith("Your low back has not")


def test_two_areas_at_once_share_one_line(log: PainLog) -> None:
    last = seed(log, STALLED)
    seed(log, STALLED, area="shoulder", start=T0 + 30)
    [line] = trends.reminders(log, last + 60)
    assert line.startswith("Your neck and shoulder have not really improved")


def test_advice_comes_before_the_rate_reminder(log: PainLog) -> None:
    last = seed(log, STALLED)
    lines = trends.reminders(log, last + 5 * DAY)
    assert [line.split()[:2] for line in lines] == [["Your", "neck"], ["It", "has"]]


# --- spoken summary ------------------------------------------------------------------------

SPEAKABLE = re.compile(r"[A-Za-z ,.:']+")


def test_summary_wording(log: PainLog) -> None:
    seed(log, [7, 7, 6, 6, 5, 5, 5, 4, 4, 4], every_days=1)
    text = trends.spoken_summary(log, T0 + 10 * DAY)
    assert text == "Neck: from seven to four over nine days."
    assert SPEAKABLE.fullmatch(text)


def test_summary_takes_the_three_most_recently_rated_areas(log: PainLog) -> None:
    seed(log, [6, 6], area="calf", every_days=1)                       # days 0-1
    seed(log, [5], area="shoulder", start=T0 + 2 * DAY)                # day 2
    seed(log, [8, 3], area="low_back", start=T0 + 3 * DAY, every_days=0.25)  # day 3
    seed(log, [9, 10], area="neck", start=T0 + 4 * DAY, every_days=14)  # days 4 and 18
    text = trends.spoken_summary(log.ratings(), T0 + 20 * DAY)
    assert text == ("Neck: from nine to ten over fourteen days. "
                    "Low back: from eight to three within a day. "
                    "Shoulder: five, rated once, eighteen days ago.")
    assert "Calf" not in text and SPEAKABLE.fullmatch(text)


def test_summary_of_steady_and_single_ratings(log: PainLog) -> None:
    seed(log, [5, 5], every_days=3)
    seed(log, [2], area=None, start=T0 + 4 * DAY)  # type: ignore[arg-type]
    text = trends.spoken_summary(log, T0 + 4 * DAY + 3600)
    assert text == "General: two, rated once, today. Neck: still five, over three days."


def test_summary_with_no_ratings(log: PainLog) -> None:
    text = trends.spoken_summary(log, T0)
    assert text.startswith("No pain ratings yet.")
    assert SPEAKABLE.fullmatch(text)
    assert trends.spoken_summary([], T0) == text


@pytest.mark.parametrize("n, words", [(0, "zero"), (7, "seven"), (13, "thirteen"),
                                      (20, "twenty"), (42, "forty two"), (100, "one hundred"),
                                      (365, "three hundred and sixty five"), (1000, "one thousand"),
                                      (2024, "two thousand and twenty four"),
                                      (12_345, "twelve thousand three hundred and forty five"),
                                      (1_000_000, "1000000")])
def test_number_words(n: int, words: str) -> None:
    assert trends.number_words(n) == words


# --- the schema upgrade that brought notices ---------------------------------------------


def test_a_version_one_log_is_upgraded_in_place(tmp_path: Path) -> None:
    with sqlite3.connect(str(tmp_path / DB_NAME)) as old:
        old.executescript(store._MIGRATIONS[1])
        old.execute("INSERT INTO sessions (routine, started_at) VALUES ('neck', ?)", (T0,))
        old.execute("INSERT INTO ratings (session_id, at, value, area, routine) "
                    "VALUES (1, ?, 6, 'neck', 'neck')", (T0 + 5,))
        old.execute("PRAGMA user_version = 1")
    with PainLog.open(tmp_path) as log:
        assert [r["value"] for r in log.ratings()] == [6]
        assert log.add_notice("see-professional:neck", T0) is True
        assert log.add_notice("see-professional:neck", T0 + 1) is False
        assert log.notices() == {"see-professional:neck": T0}
    with sqlite3.connect(str(tmp_path / DB_NAME)) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 2


@pytest.mark.parametrize("days, words", [(0.2, "within a day"), (1, "over one day"),
                                         (20, "over twenty days"), (30, "over four weeks"),
                                         (90, "over three months"), (800, "over two years")])
def test_summary_spans_in_words(days: float, words: str) -> None:
    rows = [{"id": 1, "at": T0, "value": 6, "area": "calf"},
            {"id": 2, "at": T0 + days * DAY, "value": 2, "area": "calf"}]
    assert trends.spoken_summary(rows, T0 + 1000 * DAY) == f"Calf: from six to two {words}."


@pytest.mark.parametrize("days, words", [(2, "two days ago"), (20, "twenty days ago"),
                                         (45, "six weeks ago"), (400, "thirteen months ago"),
                                         (1100, "three years ago")])
def test_a_single_old_rating_says_how_long_ago(days: int, words: str) -> None:
    rows = [{"id": 1, "at": T0, "value": 4, "area": "calf"}]
    assert trends.spoken_summary(rows, T0 + days * DAY) == f"Calf: four, rated once, {words}."


def test_ratings_without_an_area_are_general_pain(log: PainLog) -> None:
    last = seed(log, STALLED, area=None)  # type: ignore[arg-type]
    [line] = trends.reminders(log, last)
    assert line.startswith("Your general pain has not really improved")


def test_rows_without_a_usable_time_are_left_out(tmp_path: Path) -> None:
    """A hand-edited log (text, 1e300 or inf as a time) still gives trends and a summary."""
    with PainLog.open(tmp_path) as log:
        last = seed(log, IMPROVING)
    with sqlite3.connect(tmp_path / DB_NAME) as db:
        db.execute("UPDATE ratings SET at = 'garbage' WHERE id = 1")
        db.execute("UPDATE ratings SET at = 1e300 WHERE id = 2")
        db.execute("UPDATE sessions SET started_at = 9e999 WHERE id = 3")
    with PainLog.open(tmp_path) as log:
        ratings, sessions = log.ratings(), log.sessions()
    [neck] = trends.area_trends(ratings)
    assert (neck.first, neck.count) == (6, 6)
    assert trends.spoken_summary(ratings, last).startswith("Neck: from six to three")
    assert trends.advice_areas(ratings, sessions, last) == []
    assert trends.rate_reminder(ratings, sessions, last + 4 * DAY) is not None
