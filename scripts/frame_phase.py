#!/usr/bin/env python3
"""Does where a word falls against the endpointer's 30 ms frames decide whether it is heard?

Each recording is heard twelve times, shifted by 0, 40, ..., 440 samples (its own first
samples put before it, so the room sounds the same), and the endpointer's segments are
counted. A recording that gives a segment at some shifts and none at others would be lost
or heard by chance in use. No decoding: only what reaches the recognizer.

    scripts/frame_phase.py --split dev            # the benchmark's recorded commands
    scripts/frame_phase.py tests/audio/breathy    # WAV files or folders of them
    scripts/frame_phase.py --split test --json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from companion.audio.wav import load_16k
from companion.hearing.endpoint import FRAME_PHASES, Endpointer
from companion.hearing.sources import RATE, pcm_frames, to_int16

def speech_seconds(x: np.ndarray) -> float:
    """Seconds of segments the endpointer cuts from float audio at 16 kHz."""
    return sum(s.end - s.start for s in Endpointer().segments(pcm_frames(to_int16(x))))


def over_phases(x: np.ndarray) -> list[float]:
    return [round(speech_seconds(np.concatenate([x[:n], x])), 2) for n in FRAME_PHASES]


def recordings(args: argparse.Namespace) -> list[tuple[Path, float]]:
    """(file, seconds of quiet heard around it) to check."""
    if args.split:
        from companion.bench.recognition import default_data_dir, quiet_around, recorded_cases

        return [(c.path, quiet_around(c.path))
                for c in recorded_cases(args.data or default_data_dir(), args.split, None)
                if c.expect is not None]
    out: list[tuple[Path, float]] = []
    for p in args.paths:
        out += [(f, 0.0) for f in (sorted(p.rglob("*.wav")) if p.is_dir() else [p])]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("paths", nargs="*", type=Path, help="WAV files or folders")
    ap.add_argument("--split", choices=("dev", "test", "all"),
                    help="the benchmark's recorded commands (../shared/data/speech)")
    ap.add_argument("--data", type=Path, help="speech data (default ../shared/data/speech)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if not args.split and not args.paths:
        ap.error("give WAV files or folders, or --split")
    lost: dict[str, list[float]] = {}
    files = recordings(args)
    for path, quiet in files:
        x = load_16k(path)
        if quiet:
            pad = np.zeros(int(quiet * RATE), np.float32)
            x = np.concatenate([pad, x, pad])
        got = over_phases(x)
        if min(got) == 0 < max(got):
            lost[str(path)] = got
    if args.json:
        print(json.dumps({"files": len(files), "lost_at_some_phase": len(lost),
                          "lost": lost, "shifts": list(FRAME_PHASES)}))
    else:
        for name, got in lost.items():
            print(f"{name}: seconds of speech per shift {got}")
        print(f"{len(files)} files; lost at some of {len(FRAME_PHASES)} frame phases: {len(lost)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
