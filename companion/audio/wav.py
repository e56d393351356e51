"""Reading WAV files of any common layout into float samples.

A small RIFF parser rather than the `wave` module: `wave` (Python < 3.12) rejects float
and WAVE_FORMAT_EXTENSIBLE files, which sox and most editors write for 24-bit or
multi-channel audio, and its errors do not say what is wrong with the file."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator

import numpy as np

from companion.core.errors import CompanionError
from companion.host.userfiles import open_regular

_PCM, _FLOAT, _EXTENSIBLE = 1, 3, 0xFFFE
_MAX_READ = 4 * 1024 * 1024  # bytes read and decoded at once, whatever the layout
_FORMAT_NAMES = {2: "ADPCM", 6: "A-law", 7: "mu-law", 0x11: "IMA ADPCM", 0x55: "MP3"}


class AudioFileError(CompanionError):
    """A sound file that cannot be used; the message names the file and the problem."""


@dataclass(frozen=True)
class WavInfo:
    rate: int
    channels: int
    width: int  # bytes per sample
    is_float: bool
    data_offset: int
    data_bytes: int

    @property
    def frames(self) -> int:
        return self.data_bytes // (self.width * self.channels)

    @property
    def duration(self) -> float:
        return self.frames / self.rate


def read_info(f: BinaryIO, name: str) -> WavInfo:
    """Parse the RIFF header up to the data chunk; raise AudioFileError saying what is
    wrong (empty, not a WAV, truncated, unsupported sample format)."""
    head = f.read(12)
    if not head:
        raise AudioFileError(f"{name}: the file is empty")
    if len(head) < 12 or head[:4] not in (b"RIFF", b"RIFX") or head[8:12] != b"WAVE":
        raise AudioFileError(f"{name}: not a WAV file (no RIFF/WAVE header)")
    if head[:4] == b"RIFX":
        raise AudioFileError(f"{name}: big-endian (RIFX) WAV files are not supported")
    fmt = None
    while True:
        chunk = f.read(8)
        if len(chunk) < 8:
            what = "no 'data' chunk" if fmt else "no 'fmt ' chunk"
            raise AudioFileError(f"{name}: corrupt or truncated WAV file ({what})")
        cid, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
        if cid == b"fmt ":
            body = f.read(size)
            if len(body) < 16:
                raise AudioFileError(f"{name}: corrupt WAV file (short 'fmt ' chunk)")
            fmt = _parse_fmt(body, name)
            f.read(size & 1)  # chunks are word aligned
        elif cid == b"data":
            if fmt is None:
                raise AudioFileError(f"{name}: corrupt WAV file ('data' before 'fmt ')")
            offset = f.tell()
            end = f.seek(0, 2)
            # Streamed writers leave size 0 or 0xFFFFFFFF; trust the file length then.
            avail = end - offset
            data_bytes = avail if size in (0, 0xFFFFFFFF) or size > avail else size
            rate, channels, width, is_float = fmt
            info = WavInfo(rate, channels, width, is_float, offset, data_bytes)
            if info.frames == 0:
                raise AudioFileError(f"{name}: the WAV file holds no audio (0 samples)")
            return info
        else:
            f.seek(size + (size & 1), 1)


def _parse_fmt(body: bytes, name: str) -> tuple[int, int, int, bool]:
    tag, channels, rate, _, _, bits = struct.unpack("<HHIIHH", body[:16])
    if tag == _EXTENSIBLE and len(body) >= 26:
        tag = struct.unpack("<H", body[24:26])[0]  # first two bytes of the sub-format GUID
    if tag not in (_PCM, _FLOAT):
        kind = _FORMAT_NAMES.get(tag, f"format code {tag}")
        raise AudioFileError(f"{name}: unsupported sample format ({kind}); "
                             "use PCM integer or float WAV")
    if channels < 1 or rate < 1000 or rate > 384000:
        raise AudioFileError(f"{name}: corrupt WAV header ({channels} channels at {rate} Hz)")
    ok = (32, 64) if tag == _FLOAT else (8, 16, 24, 32)
    if bits not in ok:
        kind = "float" if tag == _FLOAT else "integer"
        raise AudioFileError(f"{name}: unsupported sample format ({bits}-bit {kind}); "
                             f"supported: {', '.join(f'{b}-bit' for b in ok)} {kind}")
    return rate, channels, bits // 8, tag == _FLOAT


def decode(raw: bytes, info: WavInfo) -> np.ndarray:
    """Interleaved sample bytes -> mono float32 in [-1, 1] (channels averaged)."""
    w = info.width
    raw = raw[: len(raw) - len(raw) % (w * info.channels)]
    if info.is_float:
        x = np.frombuffer(raw, dtype="<f4" if w == 4 else "<f8").astype(np.float32)
        x = np.nan_to_num(np.clip(x, -1.0, 1.0))
    elif w == 1:
        x = (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    elif w == 2:
        x = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    elif w == 3:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        x = (np.where(v >= 1 << 23, v - (1 << 24), v)).astype(np.float32) / float(1 << 23)
    else:
        x = np.frombuffer(raw, dtype="<i4").astype(np.float32) / float(1 << 31)
    if info.channels > 1:
        x = x.reshape(-1, info.channels).mean(axis=1)
    return x


def read_blocks(path: Path, block_seconds: float = 0.5) -> tuple[WavInfo, Iterator[np.ndarray]]:
    """Open a WAV file: its header info now (so errors surface before any audio flows) and
    an iterator of mono float32 blocks at the file's own rate."""
    name = str(path)
    try:  # a regular file only: a FIFO would hang, /dev/zero would never end
        f = open(open_regular(path, "sound file"), "rb")
    except CompanionError as e:  # "x.wav: no such sound file" -> "x.wav: cannot open: ..."
        raise AudioFileError(str(e).replace(f"{name}: ", f"{name}: cannot open: ", 1)) \
            from None
    try:
        info = read_info(f, name)
    except Exception:
        f.close()
        raise

    def blocks() -> Iterator[np.ndarray]:
        with f:
            f.seek(info.data_offset)
            left = info.data_bytes
            frame = info.width * info.channels
            step = max(1, min(int(block_seconds * info.rate), _MAX_READ // frame)) * frame
            while left > 0:
                raw = f.read(min(step, left))
                if not raw:
                    break
                left -= len(raw)
                yield decode(raw, info)

    return info, blocks()


def write_wav(path: Path, samples: np.ndarray, rate: int = 16000) -> None:
    """Write mono 16-bit PCM (test fixtures, benchmark renders)."""
    import wave

    pcm = np.clip(np.asarray(samples, dtype=np.float64), -1.0, 32767 / 32768)
    data = (pcm * 32768.0).astype("<i2").tobytes()
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(data)


def read_all(path: Path | str) -> tuple[np.ndarray, int]:
    """A whole WAV as (mono float32 in [-1, 1], its sample rate)."""
    info, blocks = read_blocks(Path(path))
    parts = list(blocks)
    return (np.concatenate(parts) if parts else np.zeros(0, np.float32)), info.rate


def read_wav(path: Path | str) -> tuple[np.ndarray, int]:
    """A whole WAV as (mono int16, its sample rate): what the cue cache stores and plays."""
    x, rate = read_all(path)
    return (np.clip(np.round(x * 32768.0), -32768, 32767)).astype(np.int16), rate


def load_16k(path: Path | str) -> np.ndarray:
    """A whole WAV as mono float32 at 16 kHz, whatever its rate and layout."""
    from companion.audio.resample import resample

    x, rate = read_all(path)
    return x if rate == 16000 else resample(x, rate, 16000).astype(np.float32)
