"""Where the pain is going: trends per body area, the words to speak, and the seeds' two rules
(rate pain every few days; see a professional after two weeks without improvement).

Everything but reminders() is a pure function of rating and session rows (as PainLog returns
them) and an injected `now` in Unix seconds, so tests need no clock and no sleeping. Rows
whose time is not a usable one (store.usable_time) are left out.

Definitions (also in the README):
- rolling median: the median of an area's ratings in the 7 days up to and including its latest
  rating; first median: the same for the 7 days from its first rating. After two weeks the two
  windows no longer overlap.
- regular sessions: the latest run of sessions with no gap over 7 days has at least 4 sessions
  spanning at least 14 days.
- no real improvement: an area rated over at least 14 days whose rolling median is less than
  2 below its first median and still 3 or more.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Iterable, Optional, Protocol, Sequence, Union

from companion.core.vocabulary import IntentKind, taught_lead
from companion.storage.store import usable_time

if TYPE_CHECKING:
    from companion.storage.store import PainLog

Row = dict[str, Any]


class History(Protocol):
    """What reminders() reads and writes: a PainLog, or a LateLog opening one."""

    def ratings(self) -> list[Row]: ...
    def sessions(self) -> list[Row]: ...
    def notices(self) -> dict[str, float]: ...
    def add_notice(self, key: str, at: float) -> bool: ...

DAY = 86_400.0
WINDOW_S = 7 * DAY  # rolling and first medians
RATE_EVERY_S = 3 * DAY  # the seed: "track your pain level every 3 days"
ADVICE_AFTER_S = 14 * DAY  # the seed: "two weeks with no improvement"
REGULAR_SESSIONS = 4
REGULAR_GAP_S = 7 * DAY
REAL_DROP = 2.0
STILL_PAINFUL = 3.0  # below this there is little left to improve; no advice
SPOKEN_AREAS = 3
ADVICE_KEY = "see-professional:"  # + area; stored in the log's notices once spoken


@dataclass(frozen=True)
class AreaTrend:
    area: Optional[str]
    first: int
    latest: int
    count: int
    first_at: float
    latest_at: float
    first_median: float
    rolling_median: float

    @property
    def change(self) -> int:
        return self.latest - self.first

    @property
    def median_change(self) -> float:
        return self.rolling_median - self.first_median

    @property
    def span_days(self) -> float:
        return (self.latest_at - self.first_at) / DAY


def area_trends(ratings: Iterable[Row], now: Optional[float] = None) -> list[AreaTrend]:
    """One trend per area, sorted by area name (no area last); only ratings up to `now`."""
    by_area: dict[Optional[str], list[Row]] = {}
    for r in sorted(_until(ratings, now), key=lambda r: (r["at"], r.get("id") or 0)):
        by_area.setdefault(r["area"], []).append(r)
    trends = []
    for area in sorted(by_area, key=lambda a: (a is None, a or "")):
        rows = by_area[area]
        first, latest = rows[0], rows[-1]
        early = [r["value"] for r in rows if r["at"] < first["at"] + WINDOW_S]
        recent = [r["value"] for r in rows if r["at"] > latest["at"] - WINDOW_S]
        trends.append(AreaTrend(area, first["value"], latest["value"], len(rows), first["at"],
                                latest["at"], float(statistics.median(early)),
                                float(statistics.median(recent))))
    return trends


def regular_sessions(sessions: Iterable[Row], now: float) -> bool:
    """Has the latest run of sessions (no gap over 7 days) had 4 or more over 14 days?"""
    starts = sorted(t for t in _starts(sessions) if t <= now)
    if not starts:
        return False
    run_start, count = starts[-1], 1
    for earlier in reversed(starts[:-1]):
        if run_start - earlier > REGULAR_GAP_S:
            break
        run_start, count = earlier, count + 1
    return count >= REGULAR_SESSIONS and starts[-1] - run_start >= ADVICE_AFTER_S


def advice_areas(ratings: Iterable[Row], sessions: Iterable[Row],
                 now: float) -> list[Optional[str]]:
    """Areas where seeing a professional is advised now (see the module's definitions)."""
    if not regular_sessions(sessions, now):
        return []
    return [t.area for t in area_trends(ratings, now)
            if t.latest_at - t.first_at >= ADVICE_AFTER_S
            and t.first_median - t.rolling_median < REAL_DROP
            and t.rolling_median >= STILL_PAINFUL]


def advice_line(areas: Sequence[Optional[str]]) -> str:
    names = _join([area_name(a).lower() if a else "general pain" for a in areas])
    verb = "has" if len(areas) == 1 else "have"
    return (f"Your {names} {verb} not really improved after two weeks of regular sessions. "
            "It is a good time to see a physical therapist or a massage therapist: they can "
            "work deeper and rule out a nerve problem.")


def rate_reminder(ratings: Iterable[Row], sessions: Iterable[Row], now: float) -> Optional[str]:
    """A nudge to rate pain when three days have passed since the last rating, or since the
    first session if there has never been one. None for a new user or a recent rating."""
    rated = [r["at"] for r in _until(ratings, now)]
    if rated:
        if now - max(rated) < RATE_EVERY_S:
            return None
        days = int((now - max(rated)) // DAY)
        start = f"It has been {number_words(days)} days since you last rated your pain. "
    else:
        if not any(t <= now - RATE_EVERY_S for t in _starts(sessions)):
            return None
        start = "You have not rated your pain yet. "
    return start + (f"When a spot feels tender, say {taught_lead(IntentKind.PAIN)} and a "
                    "number from zero to ten, so you can see the trend.")


def reminders(log: History, now: float, *, remember: bool = True) -> list[str]:
    """Lines to speak at the start of a session: professional advice for areas not told yet
    (recorded in the log as said unless remember=False), then a reminder to rate pain.
    Call it just before or just after log.start_session(routine, now); either works."""
    ratings, sessions = log.ratings(), log.sessions()
    said = log.notices()
    new = [a for a in advice_areas(ratings, sessions, now) if ADVICE_KEY + (a or "") not in said]
    lines = [advice_line(new)] if new else []
    if remember:
        for area in new:
            log.add_notice(ADVICE_KEY + (area or ""), now)
    reminder = rate_reminder(ratings, sessions, now)
    return lines + ([reminder] if reminder else [])


def spoken_summary(log_or_ratings: Union["PainLog", Iterable[Row]], now: float) -> str:
    """"How am I doing": one short sentence for each of the 3 most recently rated areas."""
    ratings = log_or_ratings.ratings() if hasattr(log_or_ratings, "ratings") else log_or_ratings
    trends = sorted(area_trends(ratings, now), key=lambda t: -t.latest_at)[:SPOKEN_AREAS]
    if not trends:
        return (f"No pain ratings yet. During a session, say {taught_lead(IntentKind.PAIN)} "
                "and a number from zero to ten, and I will keep track.")
    return " ".join(_area_sentence(t, now) for t in trends)


def _area_sentence(t: AreaTrend, now: float) -> str:
    name, first, latest = area_name(t.area), number_words(t.first), number_words(t.latest)
    if t.count == 1:
        return f"{name}: {latest}, rated once, {_ago(t.latest_at, now)}."
    over = _span(t.latest_at - t.first_at)
    if t.first == t.latest:
        return f"{name}: still {latest}, {over}."
    return f"{name}: from {first} to {latest} {over}."


def _span(seconds: float) -> str:
    days = round(seconds / DAY)
    return "within a day" if days < 1 else f"over {_period(days)}"


def _ago(at: float, now: float) -> str:
    """Calendar days in local time: a rating last night is "yesterday" this morning."""
    days = (_local_date(now) - _local_date(at)).days
    if days <= 1:
        return ("today", "yesterday")[max(days, 0)]
    return f"{_period(days)} ago"


def _period(days: int) -> str:
    """Days while they are few, then rounder units: nobody says "four hundred days"."""
    if days <= 20:
        return _count(days, "day")
    if days < 60:
        return _count(round(days / 7), "week")
    if days < 730:
        return _count(round(days / 30.44), "month")
    return _count(round(days / 365.25), "year")


def _count(n: int, unit: str) -> str:
    return f"{number_words(n)} {unit}{'' if n == 1 else 's'}"


def area_name(area: Optional[str]) -> str:
    """Speakable: "low_back" -> "Low back"; ratings outside any area are "General"."""
    words = re.sub(r"[^A-Za-z' ]+", " ", area or "").split()
    text = " ".join(words) or "general"
    return text[0].upper() + text[1:]


_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen "
         "fourteen fifteen sixteen seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def number_words(n: int) -> str:
    """0 <= n < a million as English words, e.g. 42 -> "forty two" (no hyphen: no symbols in
    speech); larger numbers as digits."""
    if not 0 <= n < 1_000_000:
        return str(n)
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    big, unit = (100, "hundred") if n < 1000 else (1000, "thousand")
    rest = n % big
    joiner = " and " if rest < 100 else " "
    return f"{number_words(n // big)} {unit}" + (joiner + number_words(rest) if rest else "")


def _local_date(at: float) -> date:
    return datetime.fromtimestamp(at).date()


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _until(rows: Iterable[Row], now: Optional[float]) -> list[Row]:
    """Ratings up to `now` whose time is usable (store.usable_time): a log edited by hand
    may hold text or 1e300 there, and those are left out rather than crash a summary."""
    out = []
    for r in rows:
        at = usable_time(r["at"])
        if at is not None and (now is None or at <= now):
            out.append({**r, "at": at})
    return out


def _starts(sessions: Iterable[Row]) -> list[float]:
    """Session starts that are usable times (see _until)."""
    return [t for t in (usable_time(s["started_at"]) for s in sessions) if t is not None]
