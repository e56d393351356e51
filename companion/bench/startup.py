"""Start-up and idle figures of a live `companion run` on the real default devices (a Pi's,
or the virtual sound card): time to listening, then CPU share and memory while it listens
to a quiet room. These are the figures of the README's resource budget."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def _cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def _tree(pid: int) -> list[int]:
    """The process and its children, whichever of its threads started them (the speech
    playback process, the cue warm-up's renderer)."""
    out = [pid]
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                for child in f.read().split():
                    out += _tree(int(child))
        except OSError:
            pass
    return out


def _warm_up(pid: int) -> bool:
    """The cue warm-up's renderer (loop/warmup.start), which ends once the cache is full."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"companion.loop.warmup" in f.read()
    except OSError:
        return False


def _kb(pid: int, key: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1])
    return 0


def uncached_lines() -> tuple[int, int]:
    """Lines the live run will render (for lines added since the last `voice prepare`): all
    of them, and of those the ones it says first (the fixed lines, no routine named), which
    it renders before it listens (warmup.prerender): they are in the time to listening. The
    rest a child process renders in the background, which the table shows apart."""
    from companion.core.cues import fixed
    from companion.core.errors import CompanionError
    from companion.host.config import load_config
    from companion.loop.warmup import all_lines, uncached
    from companion.speech import renderer_for
    try:
        cfg = load_config()
        missing = uncached(renderer_for(cfg), all_lines(cfg.hold_step_s))
        return len(missing), len(set(missing) & set(fixed()))  # the fixed lines are in all
    except CompanionError:
        return 0, 0  # a config or voice the run itself will name the problem of


def run(idle_s: float = 20.0) -> dict:
    to_render, first = uncached_lines()
    with tempfile.TemporaryDirectory() as d:
        ev = Path(d) / "events.jsonl"
        t0 = time.monotonic()
        p = subprocess.Popen([sys.executable, "-m", "companion", "run", "--events", str(ev),
                              "--data-dir", str(Path(d) / "data")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            while not (ev.exists() and '"type": "cue"' in ev.read_text()):
                if p.poll() is not None:
                    err = p.stderr.read() if p.stderr else ""
                    raise RuntimeError(f"companion run exited: {err[-500:]}")
                if time.monotonic() - t0 > 120:
                    raise RuntimeError("companion run did not start listening in 120 s")
                time.sleep(0.02)
            ready = time.monotonic() - t0
            time.sleep(3.0)  # let the greeting finish playing
            c0 = {q: _cpu_s(q) for q in _tree(p.pid)}
            w0 = time.monotonic()
            time.sleep(idle_s)
            procs = _tree(p.pid)   # the warm-up may have begun meanwhile: from its start
            warming = [q for q in procs if _warm_up(q)]
            used = {q: _cpu_s(q) - c0.get(q, 0.0) for q in procs}
            wall = time.monotonic() - w0
            cpu = sum(v for q, v in used.items() if q not in warming)
            rss = {q: _kb(q, "VmRSS") for q in procs if q not in warming}
            hwm = _kb(p.pid, "VmHWM")
            warm_cpu = sum(used[q] for q in warming)
            warm_hwm = max((_kb(q, "VmHWM") for q in warming), default=0)
        finally:
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=30)
    return {"startup_to_listening_s": round(ready, 2), "idle_cpu_share": round(cpu / wall, 4),
            # Listening (main) and keeping the output stream open (the playback process).
            "idle_cpu_share_main": round(used[p.pid] / wall, 4),
            "idle_rss_mb_main": round(rss[p.pid] / 1024, 1),
            "idle_rss_mb_all": round(sum(rss.values()) / 1024, 1),
            "peak_rss_mb_main": round(hwm / 1024, 1), "processes": len(rss),
            "cue_lines_to_render": to_render, "cue_lines_before_listening": first,
            # The warm-up's renderer while it runs (at the lowest priority; gone once done).
            "warm_up_cpu_share": round(warm_cpu / wall, 4),
            "warm_up_peak_rss_mb": round(warm_hwm / 1024, 1)}


def _missing(f: dict) -> str:
    """How many lines the start lacked: those said first (rendered before listening, in
    its time) and those a child renders meanwhile (not in it)."""
    n, first = f["cue_lines_to_render"], f.get("cue_lines_before_listening", 0)
    if not n:
        return "0"
    if first == n:
        return f"{n} (all said first, rendered before listening)"
    return (f"{n} ({first} of them said first, rendered before listening; a child process "
            "renders the rest meanwhile, not counted above)")


def table(f: dict) -> str:
    rows = [("start-up to listening", f"{f['startup_to_listening_s']} s"),
            ("idle CPU share (all processes)", f"{f['idle_cpu_share']} of one core"),
            ("  of which the listening process", f"{f['idle_cpu_share_main']}"),
            ("idle RSS, main process", f"{f['idle_rss_mb_main']} MB"),
            ("idle RSS, with speech process", f"{f['idle_rss_mb_all']} MB"),
            ("peak RSS, main process", f"{f['peak_rss_mb_main']} MB"),
            ("cue lines not cached at start", _missing(f))]
    if f.get("warm_up_cpu_share"):
        rows.append(("  its renderer while running", f"{f['warm_up_cpu_share']} of one core "
                     f"(lowest priority), peak RSS {f['warm_up_peak_rss_mb']} MB"))
    w = max(len(a) for a, _ in rows)
    return "\n".join(f"{a:<{w}}  {b}" for a, b in rows)


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
