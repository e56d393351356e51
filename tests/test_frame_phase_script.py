"""scripts/frame_phase.py: each recording heard at twelve frame phases; one that gives a
segment at some and none at others is counted as lost. Before the pitch check's windows
hopped 5 ms, one of the breathy stops (tests/audio/breathy) was lost at 3 of the twelve and
the replayed one (tests/audio/frame_phase) at 1; now none is."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
SCRIPT = HERE.parent / "scripts" / "frame_phase.py"


def test_the_stops_that_hung_on_frame_phase_give_a_segment_at_every_phase():
    r = subprocess.run([sys.executable, str(SCRIPT), "--json", str(HERE / "audio" / "breathy"),
                        str(HERE / "audio" / "frame_phase")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert got["files"] == 4 and len(got["shifts"]) == 12
    assert got["lost_at_some_phase"] == 0, got["lost"]


def test_without_recordings_it_says_what_to_give():
    r = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 2 and "give WAV files or folders, or --split" in r.stderr
