"""`bench startup` measures a live run's idle CPU and memory; a run whose cue cache lacks
lines renders them in the background meanwhile, so the bench says how many there were."""

from __future__ import annotations

from companion.bench import startup
from companion.host.config import load_config
from companion.loop.warmup import all_lines
from companion.speech import renderer_for


def test_the_lines_a_live_run_would_render_first_are_counted(tmp_path, monkeypatch):
    monkeypatch.setenv("COMPANION_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("COMPANION_CONFIG_DIR", str(tmp_path / "config"))
    lines = all_lines()
    assert startup.uncached_lines() == len(lines) > 100  # an empty cache: every line
    renderer_for(load_config()).render(lines[0])
    assert startup.uncached_lines() == len(lines) - 1
    figures = {"startup_to_listening_s": 1.0, "idle_cpu_share": 0.5, "idle_cpu_share_main": 0.4,
               "idle_rss_mb_main": 400.0, "idle_rss_mb_all": 440.0, "peak_rss_mb_main": 400.0,
               "cue_lines_to_render": 3}
    assert "voice prepare" in startup.table(figures)
    assert "voice prepare" not in startup.table({**figures, "cue_lines_to_render": 0})
