"""The Whisper weights stored as int8, as CTranslate2 would quantize them while loading.

The packaged model.bin holds float16 weights. Loaded with compute_type="int8", CTranslate2
reads all of them and quantizes them in memory: the process peaks ~90 MB above where it
settles (tiny.en: 235 MB at load, 141 MB after, measured), which alone nearly reaches the
250 MB budget. A copy whose weights are int8 already loads with no such peak (144 MB), and
gives exactly the same log-probabilities: the rows quantized here are the ones CTranslate2
quantizes on the CPU (every linear and embedding weight, row by row, scale 127 / max |row|,
rounded to nearest; convolution weights stay as they are), checked by
tests/test_whisper_model.py and pinned by the copy's SHA-256 in whisper_model.SPECS.

model.bin (CTranslate2 binary version 6): u32 version, string spec name, u32 revision, u32
count, then per variable: string name, u8 rank, u32 dims, u8 dtype, u32 bytes, the data; u32
alias count, alias and target strings. A string is u16 length (its NUL included), the bytes,
NUL."""

from __future__ import annotations

import os
import shutil
import struct
import tempfile
from pathlib import Path
from typing import BinaryIO, Mapping, NamedTuple

import numpy as np

# CTranslate2's DataType enum order (include/ctranslate2/types.h).
DTYPES = ("float32", "int8", "int16", "int32", "float16", "bfloat16")
VERSION = 6
ROWS = 4096  # rows quantized at a time: the float32 working copy stays a few MB


class Variable(NamedTuple):
    name: str
    shape: tuple[int, ...]
    dtype: str
    offset: int  # of its data in the file
    size: int    # bytes


class ModelBin(NamedTuple):
    spec: str
    revision: int
    variables: list[Variable]
    aliases: list[tuple[str, str]]


class FormatError(ValueError):
    """A model.bin this reader does not understand."""


def read(path: Path) -> ModelBin:
    """The layout of a model.bin: its variables' names, shapes and where their data is."""
    with open(path, "rb") as f:
        def number(fmt: str) -> int:
            raw = f.read(struct.calcsize(fmt))
            if len(raw) < struct.calcsize(fmt):
                raise FormatError(f"{path} ends early")
            return int(struct.unpack(fmt, raw)[0])

        def string() -> str:
            raw = f.read(number("H"))
            return raw[:-1].decode("utf-8")

        version = number("I")
        if version != VERSION:
            raise FormatError(f"{path}: binary version {version}, not {VERSION}")
        spec, revision = string(), number("I")
        variables = []
        for _ in range(number("I")):
            name = string()
            shape = tuple(number("I") for _ in range(number("B")))
            dtype = number("B")
            if dtype >= len(DTYPES):
                raise FormatError(f"{path}: {name} has unknown type {dtype}")
            size = number("I")
            variables.append(Variable(name, shape, DTYPES[dtype], f.tell(), size))
            f.seek(size, os.SEEK_CUR)
        aliases = [(string(), string()) for _ in range(number("I"))]
        if f.read(1):
            raise FormatError(f"{path}: data after the aliases")
    return ModelBin(spec, revision, variables, aliases)


def quantized(name: str, shape: tuple[int, ...], dtype: str) -> bool:
    """Whether CTranslate2 keeps this variable as int8 on the CPU: the weights of linear and
    embedding layers (convolutions it leaves in float: quantizing them too changed the
    transcripts of 7 in 50 clips)."""
    return (name.rsplit("/", 1)[-1] == "weight" and len(shape) == 2
            and dtype in ("float32", "float16"))


def quantize(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of a weight as int8 and their float32 scales (127 / max |row|)."""
    w = rows.astype(np.float32)
    amax = np.abs(w).max(axis=1)
    amax[amax == 0] = 127.0
    amax = np.maximum(amax, np.float32(127) / np.finfo(np.float32).max)
    scale = (np.float32(127.0) / amax).astype(np.float32)
    return np.rint(w * scale[:, None]).astype(np.int8), scale


def _string(out: BinaryIO, text: str) -> None:
    raw = text.encode("utf-8")
    out.write(struct.pack("H", len(raw) + 1) + raw + b"\0")


def _header(out: BinaryIO, name: str, shape: tuple[int, ...], dtype: str, size: int) -> None:
    _string(out, name)
    out.write(struct.pack("B", len(shape)) + b"".join(struct.pack("I", d) for d in shape))
    out.write(struct.pack("B", DTYPES.index(dtype)) + struct.pack("I", size))


def _begin(out: BinaryIO, layout: ModelBin, count: int) -> None:
    out.write(struct.pack("I", VERSION))
    _string(out, layout.spec)
    out.write(struct.pack("I", layout.revision) + struct.pack("I", count))


def _end(out: BinaryIO, layout: ModelBin) -> None:
    out.write(struct.pack("I", len(layout.aliases)))
    for alias, target in layout.aliases:
        _string(out, alias)
        _string(out, target)


def write_plain(out: BinaryIO, layout: ModelBin, values: Mapping[str, np.ndarray]) -> None:
    """A model.bin of `layout`'s variables, each taken from `values` in its own type and
    shape, nothing quantized (weights a fine-tune made: scripts/whisper_finetune.py)."""
    _begin(out, layout, len(layout.variables))
    for v in layout.variables:
        raw = np.asarray(values[v.name]).astype(np.dtype(v.dtype)).reshape(v.shape).tobytes()
        _header(out, v.name, v.shape, v.dtype, len(raw))
        out.write(raw)
    _end(out, layout)


def write_int8(source: Path, dest: Path, replace: Mapping[str, np.ndarray] | None = None
               ) -> Path:
    """Write the int8 copy of the model folder `source` into `dest` (model.bin and the
    files beside it), atomically; returns dest. Variables in name order, as the converter
    writes them, each weight followed by its scale. `replace` gives some variables new
    values (tuned weights) of the same shape and type; a mismatch is a FormatError."""
    layout = read(source / "model.bin")
    data = np.memmap(source / "model.bin", dtype=np.uint8, mode="r")
    replace = dict(replace or {})
    known = {v.name: v for v in layout.variables}
    for name, value in replace.items():
        v = known.get(name)
        if v is None or tuple(value.shape) != v.shape or value.dtype != np.dtype(v.dtype):
            raise FormatError(f"{name} {value.dtype}{list(value.shape)} does not fit "
                              f"{source / 'model.bin'}")
    entries: list[tuple[str, Variable]] = []
    for v in layout.variables:
        entries.append((v.name, v))
        if quantized(v.name, v.shape, v.dtype):
            entries.append((v.name + "_scale", v))
    entries.sort(key=lambda e: e[0])
    dest.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            _begin(out, layout, len(entries))
            scales: dict[str, bytes] = {}  # a weight's, until its entry (right after it)
            for name, v in entries:
                raw = (np.ascontiguousarray(replace[v.name]).reshape(-1).view(np.uint8)
                       if v.name in replace else data[v.offset: v.offset + v.size])
                if not quantized(v.name, v.shape, v.dtype):
                    _header(out, name, v.shape, v.dtype, v.size)
                    out.write(raw.tobytes())
                elif name != v.name:
                    _header(out, name, (v.shape[0],), "float32", 4 * v.shape[0])
                    out.write(scales.pop(v.name))
                else:
                    w = raw.view(np.dtype(v.dtype)).reshape(v.shape)
                    parts = [quantize(w[i: i + ROWS]) for i in range(0, v.shape[0], ROWS)]
                    _header(out, name, v.shape, "int8", v.shape[0] * v.shape[1])
                    out.write(b"".join(q.tobytes() for q, _ in parts))
                    scales[v.name] = b"".join(s.tobytes() for _, s in parts)
            _end(out, layout)
        for f in source.iterdir():  # each replaced whole: another process may be loading
            if f.is_file() and f.name != "model.bin":
                part = dest / f"{f.name}.{os.getpid()}.part"
                shutil.copyfile(f, part)
                os.replace(part, dest / f.name)
        os.replace(tmp, dest / "model.bin")
    except BaseException:
        for part in [Path(tmp), *dest.glob(f"*.{os.getpid()}.part")]:
            part.unlink(missing_ok=True)
        raise
    return dest
