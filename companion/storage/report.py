"""`companion report --html FILE`: one self-contained page to look at the pain log on a phone.

No scripts, fonts, stylesheets or images from anywhere: the page must open offline and must
not tell a server that someone is looking at their health data. Charts are inline SVG with a
viewBox, so they scale to the screen.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from html import escape
from typing import Any, Iterable, Optional

from companion.storage import trends
from companion.storage.portability import raw
from companion.storage.store import usable_time

Row = dict[str, Any]

# Okabe-Ito colours (told apart with colour blindness); areas past the palette get dashes.
COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
DASHES = ("", "6 4", "2 3")

W, H = 480, 280  # chart viewBox; the page scales it (a phone: about 0.8)
LEFT, RIGHT, TOP, BOTTOM = 40, 16, 14, 48

CSS = """
body{font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#222;
 background:#fff;margin:0 auto;padding:1rem;max-width:48rem}
h1{font-size:1.5rem;margin:.2rem 0} h2{font-size:1.15rem;margin:1.6rem 0 .4rem}
svg{width:100%;height:auto;display:block} svg.chart{max-width:36rem}
svg text{font-size:15px;fill:#444} .axis{stroke:#888} .grid{stroke:#e4e4e4}
.legend{list-style:none;padding:0;margin:.4rem 0;display:flex;flex-wrap:wrap;gap:.2rem 1.2rem}
.legend svg{display:inline;width:2rem;height:.8rem;vertical-align:middle}
.scroll{overflow-x:auto} table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{padding:.35rem .5rem;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}
td.num{text-align:right;white-space:nowrap} .note{color:#555;font-size:.9rem}
.advice{background:#fff4e5;border-left:4px solid #E69F00;padding:.5rem .75rem}
@media (max-width:36rem){.sessions thead{display:none} .sessions tr{display:block;
 padding:.4rem 0;border-bottom:1px solid #ddd} .sessions td{display:inline;border:0;
 padding:0 .6rem 0 0} .sessions td.ratings{display:block}}
"""


def render(sessions: list[Row], ratings: list[Row], now: float) -> str:
    """The whole page as a string."""
    made = _local(now).strftime("%Y-%m-%d %H:%M")
    if not sessions and not ratings:
        body = ("<p>Nothing here yet: this log has no sessions or pain ratings. Say "
                "&ldquo;let&rsquo;s do neck&rdquo; to begin, and &ldquo;pain level six&rdquo; to "
                "rate a spot; they will show up here.</p>")
    else:
        advice = trends.advice_areas(ratings, sessions, now)
        # Charts need real times; rows whose stored time is not one are counted, not drawn.
        timed = [{**r, "at": at} for r in ratings if (at := usable_time(r["at"])) is not None]
        started = [s for s in sessions if usable_time(s["started_at"]) is not None]
        body = "".join([
            f'<p class="advice">{escape(trends.advice_line(advice))}</p>' if advice else "",
            _untimed_note(len(ratings) - len(timed), len(sessions) - len(started)),
            "<h2>Pain per body area</h2>", pain_chart(timed),
            "<h2>Sessions per week</h2>", week_bars(started),
            "<h2>Sessions</h2>", session_table(sessions, ratings)])
    summary = f"{len(sessions)} sessions and {len(ratings)} pain ratings" if sessions or ratings \
        else "an empty log"
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>Pain log</title><style>{CSS}</style></head>\n<body><h1>Pain log</h1>\n"
            f'<p class="note">Made {made} from {summary}. Pain is 0 (none) to 10 (worst).</p>\n'
            f"{body}\n</body></html>\n")


def pain_chart(ratings: list[Row]) -> str:
    """One polyline per area (every rating a point), pain 0-10 up, time across."""
    if not ratings:
        return "<p>No pain ratings yet.</p>"
    t0: float = min(r["at"] for r in ratings)
    t1: float = max(r["at"] for r in ratings)
    if t1 - t0 < trends.DAY:  # one day or less: widen so the points do not sit on an edge
        t0, t1 = t0 - trends.DAY / 2, t1 + trends.DAY / 2
    plot_w, plot_h = W - LEFT - RIGHT, H - TOP - BOTTOM

    def x(t: float) -> float:
        return LEFT + (t - t0) / (t1 - t0) * plot_w

    def y(v: float) -> float:
        return TOP + (10 - v) / 10 * plot_h

    parts = [f'<svg class="chart pain" viewBox="0 0 {W} {H}" role="img" '
             f'aria-label="Pain per body area over time">']
    for v in range(0, 11, 2):
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{W - RIGHT}" y1="{y(v):.1f}" '
                     f'y2="{y(v):.1f}"/><text x="{LEFT - 8}" y="{y(v) + 4:.1f}" '
                     f'text-anchor="end">{v}</text>')
    spans_years = _local(t0).year != _local(t1).year
    for i in range(5):
        t = t0 + (t1 - t0) * i / 4
        label = _local(t).strftime("%b %Y" if spans_years else "%d %b")
        parts.append(f'<line class="axis" x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{H - BOTTOM}" '
                     f'y2="{H - BOTTOM + 5}"/><text x="{x(t):.1f}" y="{H - BOTTOM + 20}" '
                     f'text-anchor="{("start", "middle", "middle", "middle", "end")[i]}">'
                     f"{label}</text>")
    parts.append(f'<line class="axis" x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{H - BOTTOM}"/>'
                 f'<line class="axis" x1="{LEFT}" x2="{W - RIGHT}" y1="{H - BOTTOM}" '
                 f'y2="{H - BOTTOM}"/><text x="12" y="{TOP + plot_h / 2:.0f}" '
                 f'text-anchor="middle" transform="rotate(-90 12 {TOP + plot_h / 2:.0f})">'
                 f'pain</text><text x="{LEFT + plot_w / 2:.0f}" y="{H - 6}" '
                 f'text-anchor="middle">date</text>')
    legend = []
    for n, (area, rows) in enumerate(_by_area(ratings)):
        colour, dash = COLOURS[n % len(COLOURS)], DASHES[n // len(COLOURS) % len(DASHES)]
        style = f'stroke="{colour}" stroke-width="2.5" fill="none"' + (
            f' stroke-dasharray="{dash}"' if dash else "")
        name = escape(area or "(no area)")
        points = " ".join(f"{x(r['at']):.1f},{y(r['value']):.1f}" for r in rows)
        parts.append(f'<polyline class="area" data-area="{name}" {style} points="{points}"/>')
        parts += [f'<circle cx="{x(r["at"]):.1f}" cy="{y(r["value"]):.1f}" r="3.5" '
                  f'fill="{colour}"><title>{name}: {r["value"]} on '
                  f'{_local(r["at"]):%Y-%m-%d %H:%M}</title></circle>' for r in rows]
        legend.append(f'<li><svg viewBox="0 0 32 12" aria-hidden="true"><line x1="0" x2="32" '
                      f'y1="6" y2="6" {style}/></svg> {name}</li>')
    parts.append("</svg>")
    return "".join(parts) + f'<ul class="legend">{"".join(legend)}</ul>'


def week_bars(sessions: list[Row]) -> str:
    """Bars of sessions started per week (Monday to Sunday, local time), empty weeks too."""
    if not sessions:
        return "<p>No sessions yet.</p>"
    counts: dict[date, int] = {}
    for s in sessions:
        day = _local(s["started_at"]).date()
        monday = day - timedelta(days=day.weekday())
        counts[monday] = counts.get(monday, 0) + 1
    weeks = [min(counts)]
    while weeks[-1] < max(counts):
        weeks.append(weeks[-1] + timedelta(days=7))
    height, bottom = 170, 30
    top, most = 22, max(counts.values())
    slot = (W - LEFT - RIGHT) / len(weeks)
    every = math.ceil(len(weeks) / 8)  # at most 8 date labels, so they never overlap
    parts = [f'<svg class="chart weeks" viewBox="0 0 {W} {height}" role="img" '
             f'aria-label="Sessions per week">',
             f'<line class="axis" x1="{LEFT}" x2="{W - RIGHT}" y1="{height - bottom}" '
             f'y2="{height - bottom}"/>']
    for i, week in enumerate(weeks):
        n = counts.get(week, 0)
        bar_h = (height - bottom - top) * n / most
        bx, by = LEFT + i * slot + slot * 0.15, height - bottom - bar_h
        parts.append(f'<rect class="week" data-week="{week.isoformat()}" data-count="{n}" '
                     f'x="{bx:.1f}" y="{by:.1f}" width="{slot * 0.7:.1f}" '
                     f'height="{bar_h:.1f}" fill="{COLOURS[0]}"><title>week of {week:%d %b %Y}'
                     f": {n} sessions</title></rect>")
        cx = LEFT + (i + 0.5) * slot
        if n and len(weeks) <= 26:
            parts.append(f'<text x="{cx:.1f}" y="{by - 5:.1f}" text-anchor="middle">{n}</text>')
        if i % every == 0:
            parts.append(f'<text x="{cx:.1f}" y="{height - bottom + 18}" '
                         f'text-anchor="middle">{week:%d %b}</text>')
    parts.append("</svg>")
    return "".join(parts) + '<p class="note">Weeks start on Monday; labels are the Monday.</p>'


def session_table(sessions: list[Row], ratings: list[Row]) -> str:
    """Newest first: when, routine, how long, how it ended, the ratings given."""
    said: dict[int, list[str]] = {}
    for r in ratings:
        said.setdefault(r["session_id"], []).append(f"{r['area'] or '(no area)'} {r['value']}")
    rows = []
    for s in sorted(sessions, key=lambda s: -_sortable(s["started_at"])):
        start, end = usable_time(s["started_at"]), usable_time(s["ended_at"])
        when = f"{_local(start):%Y-%m-%d %H:%M}" if start is not None else \
            escape(raw(s["started_at"])[:40])
        rows.append("<tr>" + "".join([
            f'<td class="num">{when}</td>',
            f"<td>{escape(s['routine'])}</td>",
            f'<td class="num">'
            f'{_duration(end - start) if start is not None and end is not None else "&ndash;"}'
            "</td>",
            f"<td>{escape(s['end_reason'] or 'not ended')}</td>",
            f'<td class="ratings">{escape(", ".join(said.get(s["id"], [])) or "-")}</td>'])
            + "</tr>")
    return ('<div class="scroll"><table class="sessions"><thead><tr><th>date</th><th>routine'
            "</th><th>duration</th><th>end</th><th>ratings</th></tr></thead><tbody>"
            + "".join(rows) + "</tbody></table></div>")


def _sortable(at: object) -> float:
    """A stored start for sorting: its time, or before everything if it is not a time."""
    t = usable_time(at)
    return -math.inf if t is None else t


def _untimed_note(ratings: int, sessions: int) -> str:
    if not ratings and not sessions:
        return ""
    what = " and ".join(f"{n} {word}{'s' * (n != 1)}" for n, word in (
        (ratings, "pain rating"), (sessions, "session")) if n)
    return (f'<p class="note">{what} in the log {"has" if ratings + sessions == 1 else "have"} '
            "a time that is not a date between 1970 and 2100 (edited by hand?); they are left "
            "out of the charts. <code>companion export</code> shows them as stored.</p>")


def _by_area(ratings: Iterable[Row]) -> list[tuple[Optional[str], list[Row]]]:
    groups: dict[Optional[str], list[Row]] = {}
    for r in sorted(ratings, key=lambda r: (r["at"], r["id"])):
        groups.setdefault(r["area"], []).append(r)
    return sorted(groups.items(), key=lambda kv: (kv[0] is None, kv[0] or ""))


def _duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    if seconds < 60:
        return f"{max(0, round(seconds))} s"
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"


def _local(at: float) -> datetime:
    return datetime.fromtimestamp(at).astimezone()
