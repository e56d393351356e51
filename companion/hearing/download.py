"""`companion model download`: the one place the companion touches the network.

Fetches the Vosk small English model into a .part file (resuming with an HTTP Range
request after an interruption), verifies size and SHA-256, unpacks into a temporary
folder beside the destination and renames it into place, so a half-finished download
never looks like an installed model.

The checksum is pinned, not fetched: alphacephei publishes no digest, so the value is
the SHA-256 of the 41,205,931-byte archive as recorded independently by several public
projects that pin this same file (e.g. packaging recipes and model catalogs); a download
that does not match it is refused."""

from __future__ import annotations

import hashlib
import shutil
import socket
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import Callable, Optional

from companion.core.errors import CompanionError
from companion.hearing.vosk_engine import VOSK_MODEL_NAME
from companion.hearing.vosk_engine import is_vosk_model

MODEL_URL = f"https://alphacephei.com/vosk/models/{VOSK_MODEL_NAME}.zip"
MODEL_SHA256 = "30f26242c4eb449f948e42cb302dd7a686cb29a3423a8367f99ff41780942498"
MODEL_SIZE = 41_205_931
_CHUNK = 1 << 16

Progress = Callable[[int, Optional[int]], None]


class DownloadError(CompanionError):
    pass


def sha256_of(path: Path) -> str:
    """The file's SHA-256, read a megabyte at a time (models are tens of MB)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _fetch(url: str, part: Path, size: Optional[int], timeout: float,
           progress: Optional[Progress]) -> None:
    """Download url into part, continuing from its current length when the server
    honours Range; start over when it does not."""
    have = part.stat().st_size if part.exists() else 0
    if size is not None and have >= size:
        return
    req = urllib.request.Request(url, headers={"User-Agent": "companion-model-download"})
    if have:
        req.add_header("Range", f"bytes={have}-")
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:  # asked past the end: what we have is all there is
            return
        raise DownloadError(f"cannot download {url}: the server answered {e.code} "
                            f"{e.reason}") from None
    except (urllib.error.URLError, socket.timeout, OSError) as e:
        reason = getattr(e, "reason", e)
        raise DownloadError(
            f"cannot download {url}: {reason}. Is this machine connected to the "
            "network? Nothing else in the companion needs it; PocketSphinx works "
            "offline meanwhile." + (f" The {have} bytes already fetched are kept in "
                                    f"{part} and the next try resumes." if have else "")
        ) from None
    with resp:
        mode = "ab" if have and resp.status == 206 else "wb"
        done = have if mode == "ab" else 0
        length = resp.headers.get("Content-Length")
        total = size or (done + int(length) if length and length.isdigit() else None)
        try:
            with open(part, mode) as out:
                while True:
                    block = resp.read(_CHUNK)
                    if not block:
                        break
                    out.write(block)
                    done += len(block)
                    if progress:
                        progress(done, total)
        except (socket.timeout, OSError) as e:
            raise DownloadError(f"the download of {url} broke off after {done} bytes "
                                f"({e}); run the command again to resume") from None


def _unpack(archive: Path, dest: Path, name: str) -> Path:
    """Extract to a temporary folder next to dest, then rename the model folder into
    place in one step."""
    dest.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".unpack-", dir=dest))
    try:
        try:
            with zipfile.ZipFile(archive) as z:
                for member in z.namelist():
                    target = (tmp / member).resolve()
                    if not str(target).startswith(str(tmp.resolve())):
                        raise DownloadError(f"{archive}: unsafe path in archive: {member}")
                z.extractall(tmp)
        except zipfile.BadZipFile as e:
            raise DownloadError(f"{archive}: not a valid zip archive ({e})") from None
        found = tmp / name if is_vosk_model(tmp / name) else next(
            (p for p in tmp.iterdir() if p.is_dir() and is_vosk_model(p)), None)
        if found is None:
            raise DownloadError(f"{archive}: the archive holds no Vosk model folder")
        final = dest / name
        if final.exists():
            shutil.rmtree(final)
        found.rename(final)  # same filesystem: atomic
        return final
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def download_model(dest: Path, url: str = MODEL_URL, sha256: str = MODEL_SHA256,
                   size: Optional[int] = MODEL_SIZE, name: str = VOSK_MODEL_NAME,
                   timeout: float = 30.0, progress: Optional[Progress] = None) -> Path:
    """Install the model into dest/name and return its path. Already installed: no
    network at all. Checksum mismatch: the bad file is deleted and an error raised."""
    final = dest / name
    if is_vosk_model(final):
        return final
    dest.mkdir(parents=True, exist_ok=True)
    part = dest / f"{name}.zip.part"
    _fetch(url, part, size, timeout, progress)
    got_size = part.stat().st_size if part.exists() else 0
    digest = sha256_of(part) if part.exists() else ""
    if (size is not None and got_size != size) or digest != sha256.lower():
        part.unlink(missing_ok=True)
        raise DownloadError(
            f"the downloaded file does not match the pinned checksum (got {got_size} "
            f"bytes, SHA-256 {digest[:16]}...; expected {size} bytes, {sha256[:16]}...). "
            "It was deleted; nothing was installed. Try again later, or check for a "
            "proxy that alters downloads.")
    path = _unpack(part, dest, name)
    part.unlink(missing_ok=True)
    return path
