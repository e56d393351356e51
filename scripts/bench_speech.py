#!/usr/bin/env python3
"""How fast speech out is: cue render time, time from say() to first audio (cached and not
cached), and peak memory.

    scripts/bench_speech.py                    # the default output device
    scripts/bench_speech.py --device 2         # another one (index or part of a name)
    scripts/bench_speech.py --virtual-audio    # no sound card: the tests' virtual one
    scripts/bench_speech.py --json

"First frame" is when the cue's first sample left the audio callback (the playback
process reports it); "first sound" adds the cue's leading silence, so it is when the first
non-silent sample left the callback. Both are measured from the moment say() was called,
so for an uncached cue they include rendering it. Renders go to a fresh cache directory.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _ms(xs):
    xs = sorted(xs)
    return {"median": round(1000 * statistics.median(xs), 2),
            "p90": round(1000 * xs[min(len(xs) - 1, int(0.9 * len(xs)))], 2),
            "max": round(1000 * xs[-1], 2), "n": len(xs)}


def _leading_silence(cue) -> float:
    import numpy as np
    x = np.abs(cue.samples())
    loud = np.nonzero(x > 0.02 * x.max())[0]
    return loud[0] / cue.samplerate if len(loud) else 0.0


def _vm_hwm_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _cpu_seconds(pid: int) -> float:
    f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def _wait_started(u, timeout=10.0) -> None:
    deadline = time.monotonic() + timeout
    while u.started_at is None and u.status in ("queued", "playing") and \
            time.monotonic() < deadline:
        time.sleep(0.0005)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default=None, help="output device: index or part of a name")
    ap.add_argument("--voice", default="en-us")
    ap.add_argument("--rate", type=int, default=150)
    ap.add_argument("--rounds", type=int, default=3, help="cached plays of each cue")
    ap.add_argument("--idle-seconds", type=float, default=3.0,
                    help="how long to measure the playback process's idle CPU")
    ap.add_argument("--virtual-audio", action="store_true",
                    help="start the tests' virtual sound card (PipeWire) for the run")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args()

    va = None
    if args.virtual_audio:
        sys.path.insert(0, str(REPO / "tests"))
        import audio_env
        va = audio_env.start()
        audio_env.activate(va)
    try:
        return run(args)
    finally:
        if va is not None:
            audio_env.deactivate(va)
            audio_env.stop(va)


def run(args) -> int:
    from companion.core import cues
    from companion.speech import CueRenderer, DeviceSpeaker

    texts = cues.fixed()
    fresh = [f"{n} seconds left in this step, and about {m} minutes in the session."
             for n, m in ((40, 3), (25, 2), (55, 7), (10, 1), (35, 4))]
    rss_start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with tempfile.TemporaryDirectory(prefix="bench-speech-") as cache:
        r = CueRenderer(args.voice, args.rate, cache_dir=cache)
        t0 = time.perf_counter()
        first = r.render(texts[0])   # includes starting pyttsx3/espeak-ng
        first_render = time.perf_counter() - t0
        prerender_t0 = time.perf_counter()
        r.prerender(texts[1:])
        prerender_s = time.perf_counter() - prerender_t0
        render_times = r.render_seconds[1:]
        audio_s = sum(r.render(t).seconds for t in texts)
        hit_t0 = time.perf_counter()
        for t in texts:
            r.render(t)
        hit_s = (time.perf_counter() - hit_t0) / len(texts)

        sp = DeviceSpeaker(args.device, renderer=r)
        player_pid = sp._player.proc.pid
        try:
            cached, cached_sound, uncached, uncached_sound = [], [], [], []
            # Uncached: say() renders first, so this is render + queue + first callback.
            for text in fresh:
                sp.say(text)
                u = sp.history[-1]
                _wait_started(u)
                if u.started_at is not None:
                    lead = _leading_silence(r.render(text))
                    uncached.append(u.started_at - u.queued_at)
                    uncached_sound.append(u.started_at - u.queued_at + lead)
                sp.stop()
                time.sleep(0.05)
            for _ in range(args.rounds):
                for text in texts[:12]:
                    sp.say(text)
                    u = sp.history[-1]
                    _wait_started(u)
                    if u.started_at is not None:
                        cached.append(u.started_at - u.queued_at)
                        cached_sound.append(u.started_at - u.queued_at +
                                            _leading_silence(r.render(text)))
                    sp.stop()
                    time.sleep(0.03)
            # One whole cue: does playback end when the speaker said it would?
            sp.say(texts[1])
            u = sp.history[-1]
            sp.wait(timeout=30)
            player_rss = _vm_hwm_kb(player_pid)
            c0, t0 = _cpu_seconds(player_pid), time.monotonic()
            time.sleep(args.idle_seconds)   # the stream keeps running between cues
            idle_cpu = (_cpu_seconds(player_pid) - c0) / (time.monotonic() - t0)
            figures = {
                "device": sp.device_name, "samplerate": sp.samplerate,
                "portaudio_latency_ms": round(1000 * sp.latency, 1),
                "player_start_ms": round(1000 * sp.startup_seconds, 1),
                "error": str(sp.error) if sp.error else None,
                "underflows": sp.underflows,
                "player_idle_cpu_percent": round(100 * idle_cpu, 2),
                "engine": r.engine_version,
                "render_first_ms": round(1000 * first_render, 1),
                "render_per_cue_ms": _ms(render_times),
                "render_ms_per_audio_second": round(1000 * prerender_s / max(
                    1e-9, audio_s - first.seconds), 2),
                "cache_hit_ms": round(1000 * hit_s, 3),
                "first_frame_cached_ms": _ms(cached) if cached else None,
                "first_sound_cached_ms": _ms(cached_sound) if cached_sound else None,
                "first_frame_uncached_ms": _ms(uncached) if uncached else None,
                "first_sound_uncached_ms": _ms(uncached_sound) if uncached_sound else None,
                "whole_cue": {"seconds": round(u.seconds, 3), "status": u.status,
                              "played_ms": round(1000 * ((u.ended_at or 0) -
                                                         (u.audio_start or 0)), 1)},
                "peak_rss_mb": {
                    "companion": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                                       / 1024, 1),
                    "companion_before_speech": round(rss_start / 1024, 1),
                    "player_process": round(player_rss / 1024, 1)},
            }
        finally:
            sp.close()
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    f = figures
    print(f"device: {f['device']} at {f['samplerate']} Hz, PortAudio latency "
          f"{f['portaudio_latency_ms']} ms, player start {f['player_start_ms']} ms, "
          f"underflows {f['underflows']}, idle CPU {f['player_idle_cpu_percent']}% of a core"
          + (f", ERROR {f['error']}" if f["error"] else ""))
    print(f"engine: {f['engine']}")
    rp = f["render_per_cue_ms"]
    print(f"render: first cue {f['render_first_ms']} ms (starts the engine); then per cue "
          f"median {rp['median']} ms, p90 {rp['p90']} ms, max {rp['max']} ms (n={rp['n']}); "
          f"{f['render_ms_per_audio_second']} ms per second of speech; cache hit "
          f"{f['cache_hit_ms']} ms")
    for label, key in (("cached  ", "cached"), ("uncached", "uncached")):
        a, b = f[f"first_frame_{key}_ms"], f[f"first_sound_{key}_ms"]
        if a:
            print(f"say() -> first frame, {label}: median {a['median']} ms, p90 {a['p90']} "
                  f"ms, max {a['max']} ms (n={a['n']}); first non-silent sample: median "
                  f"{b['median']} ms, max {b['max']} ms")
    w = f["whole_cue"]
    print(f"whole cue: {w['seconds']} s of audio, {w['status']}, played for {w['played_ms']} "
          "ms by the device's clock")
    m = f["peak_rss_mb"]
    print(f"peak RSS: companion {m['companion']} MB (before speech {m['companion_before_speech']}"
          f" MB), playback process {m['player_process']} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
