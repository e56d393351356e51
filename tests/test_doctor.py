"""`companion doctor` against the virtual sound card: real devices, real checks."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from companion.audio.wav import write_wav


def doctor(*args, env=None):
    return subprocess.Popen([sys.executable, "-m", "companion", "doctor", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)


@pytest.mark.skipif(shutil.which("pw-play") is None, reason="pw-play missing (pipewire-bin)")
def test_doctor_passes_with_a_microphone_that_hears_and_a_speaker(tmp_path, virtual_audio):
    noise = tmp_path / "room.wav"
    write_wav(noise, np.random.default_rng(1).normal(0, 0.05, 16000 * 8))
    env = {**os.environ, "COMPANION_CACHE_DIR": str(tmp_path / "cache")}
    player = subprocess.Popen(["pw-play", "--target", "vmic_in", str(noise)])
    try:
        p = doctor("--skip", "service", "--data-dir", str(tmp_path / "data"), env=env)
        out, err = p.communicate(timeout=120)
    finally:
        player.kill()
    assert p.returncode == 0, out + err
    for name in ("espeak-ng", "microphone", "speaker", "recognizer", "pain log"):
        assert any(line.startswith("ok ") and name in line for line in out.splitlines()), out
    assert "dBFS" in out


def test_doctor_says_how_to_fix_a_missing_device(tmp_path):
    cfg = tmp_path / "cfg"
    cfg.mkdir()
    (cfg / "config.toml").write_text('input_device = "no such microphone"\n')
    env = {**os.environ, "COMPANION_CONFIG_DIR": str(cfg)}
    p = doctor("--skip", "speaker", "--skip", "service", "--data-dir", str(tmp_path / "d"),
               env=env)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 1
    assert "!!  microphone  no input device 'no such microphone'" in out
    assert "fix: plug in a USB microphone" in out and "Traceback" not in err


def test_doctor_says_when_the_pain_logs_disk_is_nearly_full(tmp_path):
    """The free space is the injected fault (a card cannot be filled here); the log, its
    folder and the check are real."""
    from companion.cli.doctor import MIN_FREE_BYTES, check_data_dir
    from companion.host import config
    from companion.storage.store import PainLog

    with PainLog.open(tmp_path / "d"):
        pass
    cfg = config.Config(data_dir=str(tmp_path / "d"))
    roomy = check_data_dir(cfg)
    assert roomy.ok and "MB free" in roomy.detail
    full = check_data_dir(cfg, free=lambda _folder: MIN_FREE_BYTES - 1)
    assert not full.ok and "free where" in full.detail and "may not be saved" in full.detail
    assert "journalctl --vacuum-size" in full.fix


ONLY_RECOGNIZER = [f"--skip={s}" for s in ("microphone", "speaker", "data", "clock", "service")]


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng missing")
def test_the_recognizer_check_hears_phrases_said_by_espeak_at_their_moments(tmp_path):
    """The real model hears real espeak-ng speech: a model that loads but hears nothing
    right would pass a check that only loads it."""
    env = {**os.environ, "COMPANION_CACHE_DIR": str(tmp_path / "cache")}
    p = doctor(*ONLY_RECOGNIZER, "--data-dir", str(tmp_path / "data"), env=env)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, out + err
    line = next(ln for ln in out.splitlines() if "recognizer" in ln)
    assert line.startswith("ok "), out
    assert ('heard "how am i doing", "next", "it\'s sharp", "continue" and "six" as espeak-ng '
            'says them') in line
    ms = int(line.split("in about ")[1].split(" ms")[0])
    assert ms > 0


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng missing")
def test_a_recognizer_that_mishears_fails_the_check_with_what_it_heard(tmp_path):
    """The fault injected: every phrase the test says comes out as "skip this one" (as a
    model that loads but hears wrong would answer). The recognizer and espeak-ng are real."""
    from companion.bench.synth import render
    from companion.cli.doctor import HEARING_TEST, TEST_VOICE, check_recognizer
    from companion.core.errors import CompanionError
    from companion.host import config

    cfg = config.Config(data_dir=str(tmp_path / "d"))
    c = check_recognizer(cfg, say=lambda _text: render("skip this one", *TEST_VOICE))
    assert not c.ok and not c.optional
    assert f"missed {len(HEARING_TEST)} of {len(HEARING_TEST)} phrases" in c.detail
    assert '"how am i doing" was heard as' in c.detail
    assert "reinstall the model" in c.fix
    # PocketSphinx, the fallback where CTranslate2 has no wheel, is known to hear poorly:
    # its misses are said, as advice, without failing doctor.
    weak = check_recognizer(config.Config(data_dir=str(tmp_path / "d"), engine="pocketsphinx"),
                            say=lambda _text: render("skip this one", *TEST_VOICE))
    assert not weak.ok and weak.optional and "pocketsphinx loads, but missed" in weak.detail
    assert "64-bit Raspberry Pi OS" in weak.fix

    def mute(_text: str):
        raise CompanionError("espeak-ng is not installed (sudo apt install espeak-ng)")

    c = check_recognizer(cfg, say=mute)
    assert c.ok and "not heard: espeak-ng is not installed" in c.detail
