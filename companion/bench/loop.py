"""Benchmark of the hands-free loop on replayed sessions (audio clock): end-of-speech to
action latency, idle-listening CPU share, hold timing over a long replay, peak RSS."""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

import numpy as np

from companion.core.errors import CompanionError
from companion.hearing import WavSource
from companion.storage.library import Library
from companion.hearing import make_recognizer
from companion.bench.sessionwav import build, heard_take, load_16k, place_when_quiet, steady_hiss
from companion.core.vocabulary import Vocabulary
from companion.core.rehearsal import instruction_seconds

SPEECH = Path(__file__).resolve().parents[3] / "shared" / "data" / "speech"
NOISE_DB = -45.0  # the latency replay's room hiss
COMMANDS = ["pain six", "next", "hold longer", "how long left", "pain three", "repeat",
            "shorter", "what's next", "pain seven", "back"]


def room_noise(data: Optional[Path] = None) -> Optional[np.ndarray]:
    """The idle benchmark's noise: 20 Speech Commands noise clips (taps, dishes, a bike,
    hiss) one after another at their own relative levels; None without the recordings."""
    folder = (data or SPEECH) / "speech-commands" / "_silence_"
    clips = sorted(folder.glob("*.wav"))[:20] if folder.is_dir() else []
    return np.concatenate([load_16k(p) for p in clips]) if clips else None


def _peak_rss_mb(pid: int) -> float:
    """The process's own high-water mark since exec. ru_maxrss of a child is no good here:
    it keeps the size of the forked bench from before exec (hundreds of MB of WAVs)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return 0.0


def _replay(wav: Path, engine: str, tmp: Path) -> tuple[list[dict], float, float, float]:
    """Replay wav through the real `companion run --mic-file` in a child process (so its
    CPU and memory are the companion's alone); (event records, CPU seconds, audio
    seconds, peak RSS MB)."""
    events = tmp / f"{wav.stem}.jsonl"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    p = subprocess.Popen([sys.executable, "-m", "companion", "run", "--mic-file", str(wav),
                          "--no-speaker", "--engine", engine, "--events", str(events),
                          "--data-dir", str(tmp / f"log-{wav.stem}")],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak = 0.0
    while p.poll() is None:  # VmHWM only grows: the last reading before exit is the peak
        peak = max(peak, _peak_rss_mb(p.pid))
        time.sleep(0.05)
    stderr = p.stderr.read() if p.stderr else ""
    if p.returncode != 0:
        raise CompanionError(f"replay of {wav.name} failed: {stderr.strip()}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    records = [json.loads(x) for x in events.read_text().splitlines()]
    return records, cpu, WavSource(wav).duration, peak


def _takes(engine: str, tmp: Path, texts: set[str]) -> dict[str, np.ndarray]:
    """Takes the recognizer hears, over steady hiss: the loop bench measures timing, not
    recognition."""
    vocab = Vocabulary(Library().aliases())
    rec = make_recognizer(vocab, engine)
    return {text: heard_take(text, rec, vocab, tmp, NOISE_DB) for text in sorted(texts)}


def latency(engine: str, tmp: Path) -> dict:
    """A command about every 12 s after a start, each said once the companion is quiet
    (as users do; over its voice they would be gated); latency = when the intent acted -
    when the phrase's audio really ended (both audio clock)."""
    wishes = [(1.0, "start calves")] + [(20.0 + 12.0 * i, COMMANDS[i % len(COMMANDS)])
                                        for i in range(30)]
    takes = _takes(engine, tmp, {text for _, text in wishes})
    script = place_when_quiet([(t, text, takes[text]) for t, text in wishes])
    wav = tmp / "latency.wav"
    placed = build(script, wav, total_s=script[-1][0] + 8, noise=steady_hiss(),
                   noise_db=NOISE_DB)
    records, cpu, audio, rss = _replay(wav, engine, tmp)
    heard = [r for r in records if r["type"] == "heard" and r["intent"] and not r["gated"]]
    lat = []
    for p in placed:
        match = [h for h in heard if p.start - 0.3 <= h["start"] <= p.end + 0.5]
        if match:
            lat.append(match[0]["at"] - p.end)
    return {"phrases": len(placed), "acted": len(lat),
            "p50_ms": round(1000 * statistics.median(lat), 1) if lat else None,
            "p95_ms": round(1000 * float(np.percentile(lat, 95)), 1) if lat else None,
            "rtf": round(cpu / audio, 4), "peak_rss_mb": round(rss, 1)}


def idle(engine: str, tmp: Path, noise: Optional[np.ndarray], minutes: float,
         noise_db: float = -35.0) -> dict:
    """Listening to room noise with nobody talking: CPU share and spurious commands. The
    default is hard: Speech Commands noise clips, a new one every second, at -35 dBFS; the
    voice detector lets much of it through to the recognizer."""
    wav = tmp / "idle.wav"
    build([], wav, total_s=minutes * 60, noise=noise, noise_db=noise_db)
    records, cpu, audio, rss = _replay(wav, engine, tmp)
    acted = [r for r in records if r["type"] == "heard" and r["intent"]]
    return {"audio_s": round(audio), "cpu_share": round(cpu / audio, 4),
            "spurious": len(acted), "peak_rss_mb": round(rss, 1)}


def hold_timing(engine: str, tmp: Path, minutes: float) -> dict:
    """A long session replayed at full speed: how far step changes land from when they
    were due (audio clock), over the whole replay."""
    wav = tmp / "long.wav"
    daily = Library().find("daily")
    # Steps wait for their instructions to be said, so a session outlasts duration_s.
    length = daily.duration_s + instruction_seconds(daily) + 30
    start = _takes(engine, tmp, {"start daily routine"})["start daily routine"]
    # The first after the greeting ("Listening...", ~4 s), which would gate it.
    build([(5.0 + k * length, start) for k in range(max(1, int(minutes * 60 // length)))],
          wav, total_s=minutes * 60, noise=steady_hiss(), noise_db=NOISE_DB)
    records, cpu, audio, rss = _replay(wav, engine, tmp)
    starts = [r for r in records if r["type"] == "StepStarted"]
    errs = [r["acted"] - r["due"] for r in starts]
    # Accumulated drift: each step's due time against its session's first start plus the
    # planned lengths before it (steps are timed from when the last was due, not from when
    # it was acted on, so frame-sized lags must not add up). The lag of each single step
    # behind its due time (one frame at most) is max_lag_ms.
    drift, first, elapsed = [], 0.0, 0.0
    for r in starts:
        if r["index"] == 0:
            first, elapsed = r["due"], 0.0
        drift.append(abs(r["due"] - (first + elapsed)))
        elapsed += r["seconds"]
    ends = [r for r in records if r["type"] == "SessionEnded"]
    return {"steps": len(starts), "max_lag_ms": round(1000 * max(errs), 1) if errs else None,
            "drift_ms": round(1000 * max(drift), 3) if drift else None,
            "sessions_completed": sum(1 for e in ends if e["reason"] == "completed"),
            "audio_s": round(audio), "peak_rss_mb": round(rss, 1)}


def run(engine: str = "pocketsphinx", minutes: float = 30.0, data: Optional[Path] = None
        ) -> dict:
    noise = room_noise(data)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        figures: dict[str, Any] = {
            "engine": engine, "latency": latency(engine, tmp),
            "idle": idle(engine, tmp, noise, min(minutes, 10.0)),
            "idle_quiet": idle(engine, tmp, steady_hiss(), min(minutes, 10.0), NOISE_DB),
            "hold_timing": hold_timing(engine, tmp, minutes)}
    # The largest companion process among the replays.
    figures["peak_rss_mb"] = max(figures[k]["peak_rss_mb"] for k in (
        "latency", "idle", "idle_quiet", "hold_timing"))
    return figures


def table(f: dict) -> str:
    lat, idl, hold = f["latency"], f["idle"], f["hold_timing"]
    rows = [
        ("end of speech -> action p50", f"{lat['p50_ms']} ms", "<= 300 ms"),
        ("end of speech -> action p95", f"{lat['p95_ms']} ms", ""),
        ("commands acted on", f"{lat['acted']}/{lat['phrases']}", ""),
        ("RTF with commands", f"{lat['rtf']}", "<= 0.05"),
        ("idle listening CPU share, loud noise", f"{idl['cpu_share']} ({idl['audio_s']} s of "
         "changing noise, -35 dBFS)", "<= 0.05"),
        ("idle listening CPU share, quiet room", f"{f['idle_quiet']['cpu_share']} (steady "
         f"hiss, {NOISE_DB:g} dBFS)", "<= 0.05"),
        ("spurious commands while idle", f"{idl['spurious']}", "0"),
        ("hold timing drift (accumulated)", f"{hold['drift_ms']} ms over {hold['audio_s']} s, "
         f"{hold['steps']} steps", "<= 20 ms"),
        ("cue lag behind its due time", f"{hold['max_lag_ms']} ms worst (one 30 ms frame at "
         "most)", ""),
        ("peak RSS (companion process)", f"{f['peak_rss_mb']} MB", "<= 250 MB"),
    ]
    w = max(len(r[0]) for r in rows)
    return "\n".join(f"{a:<{w}}  {b:<40} {c}" for a, b, c in rows)
