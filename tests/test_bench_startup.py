"""`bench startup` measures a live run's idle CPU and memory; a run whose cue cache lacks
lines has a child process render them meanwhile, which the bench finds and reports apart."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

from companion.bench import startup
from companion.core import cues
from companion.host.config import load_config
from companion.loop.warmup import all_lines
from companion.speech import renderer_for


def test_the_lines_a_live_run_would_render_first_are_counted(tmp_path, monkeypatch):
    monkeypatch.setenv("COMPANION_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("COMPANION_CONFIG_DIR", str(tmp_path / "config"))
    lines, first = all_lines(), set(cues.fixed())
    assert startup.uncached_lines() == (len(lines), len(first))  # an empty cache: every line
    assert len(lines) > 100 and first < set(lines)
    renderer_for(load_config()).render(cues.HALFWAY)   # said first, and in all_lines
    assert startup.uncached_lines() == (len(lines) - 1, len(first) - 1)
    figures = {"startup_to_listening_s": 1.0, "idle_cpu_share": 0.5, "idle_cpu_share_main": 0.4,
               "idle_rss_mb_main": 400.0, "idle_rss_mb_all": 440.0, "peak_rss_mb_main": 400.0,
               "cue_lines_to_render": 3, "cue_lines_before_listening": 2}
    assert "3 (2 of them said first, rendered before listening; a child process renders " \
        "the rest" in startup.table(figures)
    assert "child" not in startup.table({**figures, "cue_lines_to_render": 0})
    every = startup.table({**figures, "cue_lines_before_listening": 3})
    assert "3 (all said first, rendered before listening)" in every and "child" not in every
    running = {**figures, "warm_up_cpu_share": 0.9, "warm_up_peak_rss_mb": 300.0}
    row = startup.table(running).splitlines()[-1]
    assert row.split()[:4] == ["its", "renderer", "while", "running"] and "0.9 of one" in row


def test_a_child_started_by_any_thread_is_found_and_the_warm_up_told_apart():
    """The warm-up's renderer is started by a thread, not the main one: /proc lists it under
    that thread alone."""
    children: list[subprocess.Popen] = []

    def spawn(*marker: str) -> None:
        child = subprocess.Popen([sys.executable, "-c", "import time; print('up', flush=True); "
                                  "time.sleep(60)", *marker], stdout=subprocess.PIPE, text=True)
        # Popen returns once exec has begun; the kernel fills /proc/<pid>/cmdline a moment
        # later, and on a busy machine the check read it empty. The child's first line says
        # it is running.
        assert child.stdout is not None and child.stdout.readline() == "up\n"
        children.append(child)

    t = threading.Thread(target=spawn, args=("companion.loop.warmup",))
    t.start()
    t.join()
    spawn()
    try:
        tree = startup._tree(os.getpid())
        assert {c.pid for c in children} <= set(tree)
        assert [startup._warm_up(c.pid) for c in children] == [True, False]
    finally:
        for c in children:
            c.kill()
            c.wait()
            if c.stdout:
                c.stdout.close()
