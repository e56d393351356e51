"""`companion report --html`: page structure, privacy, and a real render in headless Chromium."""

from __future__ import annotations

import os
import re
import shutil
import stat
import struct
import subprocess
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from companion.storage import report
from companion.storage.store import PainLog
from test_cmd_log import DAY, NECK, T0, ok, run

SHOULDER = [(0, 5), (3, 4), (6, 4), (9, 3)]  # (day, value)
NOW = T0 + 12 * DAY


pytestmark = pytest.mark.usefixtures("utc")  # conftest.py: local days pinned to UTC


def seed(data: Path) -> None:
    """Ten daily neck sessions (7 -> 4) with shoulder ratings every third day, Tue 14 Nov to
    Thu 23 Nov 2023: six sessions in the week of 13 Nov, four in the week of 20 Nov."""
    with PainLog.open(data) as log:
        for day, value in enumerate(NECK):
            at = T0 + day * DAY
            session = log.start_session("neck", at)
            log.log_rating(session, at + 60, value, 2, "hold", "neck")
            for _, shoulder in [s for s in SHOULDER if s[0] == day]:
                log.log_rating(session, at + 90, shoulder, 5, "hold", "shoulder")
            log.end_session(session, at + 600, "completed" if day else "stopped")


@pytest.fixture
def page(tmp_path: Path) -> str:
    seed(tmp_path / "data")
    with PainLog.open(tmp_path / "data") as log:
        return report.render(log.sessions(), log.ratings(), NOW)


def svgs(html: str, charts_only: bool = True) -> list[ET.Element]:
    """The charts (or every inline SVG, legend swatches too), parsed as XML: they must be well
    formed to be drawn at all."""
    found = [ET.fromstring(m) for m in re.findall(r"<svg\b.*?</svg>", html, re.S)]
    return [s for s in found if not charts_only or "chart" in s.attrib.get("class", "")]


def points(polyline: ET.Element) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in
            (p.split(",") for p in polyline.attrib["points"].split())]


def test_page_is_self_contained_and_phone_ready(page: str) -> None:
    assert page.startswith("<!DOCTYPE html>")
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert '<meta charset="utf-8">' in page
    for outside in ("http", "//", "<script", "<link", "<img", "@import", "url(", "src=",
                    "@font-face"):
        assert outside not in page, outside
    for svg in svgs(page, charts_only=False):
        assert svg.attrib["viewBox"].startswith("0 0 ")  # scales with the screen


def test_one_line_per_area_with_every_rating(page: str) -> None:
    chart = svgs(page)[0]
    lines = {p.attrib["data-area"]: points(p) for p in chart.iter("polyline")}
    assert {area: len(pts) for area, pts in lines.items()} == {"neck": 10, "shoulder": 4}
    left, top, right, bottom = (report.LEFT, report.TOP, report.W - report.RIGHT,
                                report.H - report.BOTTOM)
    neck = lines["neck"]
    assert neck[0][0] == left and neck[-1][0] == right  # time runs edge to edge
    scale = (bottom - top) / 10
    assert [round((bottom - y) / scale, 1) for _, y in neck] == NECK  # pain 0 at the bottom
    assert all(x1 < x2 for (x1, _), (x2, _) in zip(neck, neck[1:]))
    assert len(list(chart.iter("circle"))) == 14


def test_axes_are_labelled_and_there_is_a_legend(page: str) -> None:
    chart = svgs(page)[0]
    labels = [t.text for t in chart.iter("text")]
    assert labels[:6] == ["0", "2", "4", "6", "8", "10"]
    assert "14 Nov" in labels and "23 Nov" in labels and "pain" in labels and "date" in labels
    legend = re.search(r'<ul class="legend">(.*?)</ul>', page, re.S)
    assert legend and re.findall(r"</svg> ([^<]+)</li>", legend.group(1)) == ["neck", "shoulder"]


def test_sessions_per_week(page: str) -> None:
    bars = svgs(page)[1]
    weeks = [(r.attrib["data-week"], int(r.attrib["data-count"])) for r in bars.iter("rect")]
    assert weeks == [("2023-11-13", 6), ("2023-11-20", 4)]
    heights = [float(r.attrib["height"]) for r in bars.iter("rect")]
    assert heights[0] > heights[1] > 0


def test_session_table(page: str) -> None:
    table = re.search(r'<table class="sessions">(.*?)</table>', page, re.S)
    assert table
    head = re.findall(r"<th>(.*?)</th>", table.group(1))
    assert head == ["date", "routine", "duration", "end", "ratings"]
    rows = [re.findall(r"<td[^>]*>(.*?)</td>", row)
            for row in re.findall(r"<tr>(.*?)</tr>", table.group(1))[1:]]
    assert len(rows) == 10
    assert rows[0] == ["2023-11-23 22:13", "neck", "10 min", "completed", "neck 4, shoulder 3"]
    assert rows[-1] == ["2023-11-14 22:13", "neck", "10 min", "stopped", "neck 7, shoulder 5"]


def test_names_are_escaped(tmp_path: Path) -> None:
    with PainLog.open(tmp_path) as log:
        session = log.start_session("<script>alert(1)</script>", T0)
        log.log_rating(session, T0 + 5, 6, 0, "press", 'calf & "shin"')
        html = report.render(log.sessions(), log.ratings(), T0 + 60)
    assert "<script" not in html and "&lt;script&gt;" in html
    assert 'data-area="calf &amp; &quot;shin&quot;"' in html
    svgs(html)  # still well formed
    assert "not ended" in html  # the session is still open


def test_empty_log_says_there_is_nothing_yet() -> None:
    html = report.render([], [], NOW)
    assert "Nothing here yet" in html and "<svg" not in html and "<table" not in html


def test_sessions_without_ratings(tmp_path: Path) -> None:
    with PainLog.open(tmp_path) as log:
        log.end_session(log.start_session("neck", T0), T0 + 45, "stopped")
        html = report.render(log.sessions(), log.ratings(), NOW)
    assert "No pain ratings yet" in html and len(svgs(html)) == 1 and "45 s" in html


def test_advice_is_on_the_page_while_it_applies(tmp_path: Path) -> None:
    with PainLog.open(tmp_path) as log:
        for i, value in enumerate([7, 7, 6, 7, 6, 7, 6, 7]):
            session = log.start_session("neck", T0 + i * 2 * DAY)
            log.log_rating(session, T0 + i * 2 * DAY + 60, value, 1, "hold", "neck")
        html = report.render(log.sessions(), log.ratings(), T0 + 15 * DAY)
    assert '<p class="advice">Your neck has not really improved' in html


def test_cli_writes_a_private_file(tmp_path: Path) -> None:
    seed(tmp_path / "data")
    target = tmp_path / "report.html"
    target.write_text("old")
    target.chmod(0o644)
    result = run("report", "--html", str(target), "--data-dir", str(tmp_path / "data"),
                 home=tmp_path)
    assert ok(result) == ""
    assert "10 sessions and 14 ratings" in result.stderr
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert len(svgs(target.read_text())) == 2
    (tmp_path / "empty").mkdir()
    empty = ok(run("report", "--html", "-", "--data-dir", str(tmp_path / "empty"), home=tmp_path))
    assert "Nothing here yet" in empty
    bad = run("report", "--html", str(tmp_path / "no" / "dir.html"), "--data-dir",
              str(tmp_path / "data"), home=tmp_path)
    assert bad.returncode != 0 and "cannot write the report" in bad.stderr
    assert "Traceback" not in bad.stderr


# --- headless Chromium ---------------------------------------------------------------------

CHROMIUM = shutil.which("chromium")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install chromium; "
                             "scripts/setup.sh --test does it)")


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    profile = tmp_path / "chromium-profile"
    # No writes to the real home; and none of the virtual sound card's session (its bus and
    # runtime folder, where its PulseAudio socket is): a browser started beside it activated
    # services on its bus, and the card's sinks were lost in a later test of that run.
    runtime = tmp_path / "chromium-runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    env = {k: v for k, v in os.environ.items()
           if k not in ("DBUS_SESSION_BUS_ADDRESS", "PULSE_SERVER", "PIPEWIRE_REMOTE")}
    env.update(HOME=str(tmp_path), XDG_RUNTIME_DIR=str(runtime))
    return subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--mute-audio",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={profile}", *args],
        capture_output=True, timeout=120, env=env)


def write_page(tmp_path: Path, html: str) -> Path:
    path = tmp_path / "report.html"
    path.write_text(html)
    return path


@needs_chromium
def test_chromium_builds_the_chart(page: str, tmp_path: Path) -> None:
    result = chromium(tmp_path, "--dump-dom", write_page(tmp_path, page).as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    dom = result.stdout.decode()
    found = {m.group(1): len(m.group(2).split()) for m in re.finditer(
        r'<polyline class="area" data-area="([^"]+)"[^>]*points="([^"]+)"', dom)}
    assert found == {"neck": 10, "shoulder": 4}
    assert len(re.findall(r'<rect class="week"', dom)) == 2


@needs_chromium
def test_chromium_draws_the_lines_on_a_phone_sized_screen(page: str, tmp_path: Path) -> None:
    shot = tmp_path / "shot.png"
    result = chromium(tmp_path, f"--screenshot={shot}", "--window-size=412,915",
                      "--hide-scrollbars", "--force-device-scale-factor=1",
                      write_page(tmp_path, page).as_uri())
    assert result.returncode == 0 and shot.exists(), result.stderr[-2000:]
    pixels = read_png(shot.read_bytes())
    height, width = pixels.shape[:2]
    assert (width, height) == (412, 915)
    for colour in report.COLOURS[:2]:  # neck, shoulder
        rgb = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)])
        ys, xs = np.nonzero(np.abs(pixels[..., :3].astype(int) - rgb).sum(axis=2) < 60)
        # A line across the chart, not just the legend swatch (32 px wide).
        assert len(xs) > 200 and xs.max() - xs.min() > width * 0.6, colour
        assert ys.min() < height * 0.6  # the chart is near the top, above the fold
    background = (pixels[..., :3] == 255).all(axis=2).mean()
    assert 0.5 < background < 0.99  # mostly white page, but something is drawn


def read_png(data: bytes) -> np.ndarray[Any, Any]:
    """A minimal decoder for Chromium's screenshots (8-bit RGB/RGBA, not interlaced):
    the test must not need Pillow."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour_type, _, _, interlace = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
    assert depth == 8 and colour_type in (2, 6) and interlace == 0
    bpp = 3 if colour_type == 2 else 4
    stride = width * bpp
    raw = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(height, stride + 1)
    out = np.zeros((height, stride), dtype=np.uint8)
    prev = np.zeros(stride, dtype=np.int64)
    for y in range(height):
        kind_, line = raw[y, 0], raw[y, 1:].astype(np.int64)
        if kind_ == 1:  # Sub: a running sum along the row, per channel
            line = np.cumsum(line.reshape(width, bpp), axis=0).reshape(-1) % 256
        elif kind_ == 2:  # Up
            line = (line + prev) % 256
        elif kind_ in (3, 4):  # Average, Paeth: each byte needs the one just decoded
            row, above = line.tolist(), prev.tolist()
            for i in range(stride):
                a = row[i - bpp] if i >= bpp else 0
                b, c = above[i], above[i - bpp] if i >= bpp else 0
                if kind_ == 3:
                    row[i] = (row[i] + (a + b) // 2) % 256
                else:
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    row[i] = (row[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) \
                        % 256
            line = np.array(row, dtype=np.int64)
        out[y], prev = line, line
    return out.reshape(height, width, bpp)
