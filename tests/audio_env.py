"""A real (virtual) sound card for tests: PipeWire with a null sink `vspeaker` (default
output; record `vspeaker.monitor` to hear what was played) and `vmic_in` (play into it and
the default input `vmic_in.monitor` hears it). See scripts/virtual-audio/README.md.

The fixture `virtual_audio` (a card per session, checked per module) sources
start-virtual-audio.sh in a bash subprocess,
copies the variables it exports (XDG_RUNTIME_DIR, DBUS_SESSION_BUS_ADDRESS, AUDIO_PIDS)
into os.environ, and stops it at the end of the session. PortAudio lists devices once, when
sounddevice is imported: the fixture must run before that, and rescans if it was already
imported. If CI already started a card (AUDIO_PIDS set and the server answering), that one
is used and left running, unless the tests run in several processes (pytest-xdist, as
scripts/test.sh runs them): then each process starts a card of its own. AUDIO_FORCE_RATE in
the environment is passed to the script.

Tests that need audio skip, saying what to install, only when the PipeWire programs are
missing; if they are there and the card does not start, the tests fail.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
import wave
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Optional

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT_DIRS = [REPO / "scripts" / "virtual-audio", REPO.parent / "shared" / "audio"]
PROGRAMS = ("pipewire", "wireplumber", "pipewire-pulse", "pactl", "dbus-daemon")
PACKAGES = "libportaudio2 pipewire pipewire-pulse pipewire-alsa wireplumber pulseaudio-utils " \
           "dbus-daemon"
EXPORTED = ("XDG_RUNTIME_DIR", "DBUS_SESSION_BUS_ADDRESS", "AUDIO_PIDS")


def missing_programs() -> list[str]:
    return [p for p in PROGRAMS if shutil.which(p) is None]


def start_script() -> Path:
    for d in SCRIPT_DIRS:
        if (d / "start-virtual-audio.sh").is_file():
            return d / "start-virtual-audio.sh"
    raise FileNotFoundError("start-virtual-audio.sh is in none of: "
                            + ", ".join(str(d) for d in SCRIPT_DIRS))


@dataclass
class VirtualAudio:
    env: dict                       # the variables the script exported
    pids: list[int] = field(default_factory=list)
    owned: bool = True              # started here, so stopped here
    saved: dict = field(default_factory=dict)   # os.environ values it replaced

    @property
    def runtime_dir(self) -> Path:
        return Path(self.env["XDG_RUNTIME_DIR"])


def _server_answers(env: Optional[dict] = None) -> bool:
    try:
        return subprocess.run(["pactl", "info"], env=env, capture_output=True,
                              timeout=5).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def start(force_rate: Optional[int] = None, runtime_dir: Optional[str] = None) -> VirtualAudio:
    """Start a fresh virtual sound card (its own runtime dir, or runtime_dir: a card plugged
    back in where clients look for it); do not touch os.environ.

    The script waits for each part to be really there (sockets, both sinks, WirePlumber's
    default metadata, both defaults applied), polling up to a deadline, not for a set time.
    A start that still fails is stopped and tried once more; both errors are shown if the
    second fails too."""
    try:
        return _start_once(force_rate, runtime_dir)
    except RuntimeError as first:
        try:
            return _start_once(force_rate, runtime_dir)
        except RuntimeError as second:
            raise RuntimeError(f"{second}\n(and a first try before it: {first})") from None


def _start_once(force_rate: Optional[int], runtime_dir: Optional[str]) -> VirtualAudio:
    env = {k: v for k, v in os.environ.items() if k not in EXPORTED}
    if force_rate:
        env["AUDIO_FORCE_RATE"] = str(force_rate)
    if runtime_dir:
        os.makedirs(runtime_dir, exist_ok=True)
        env["XDG_RUNTIME_DIR"] = runtime_dir
    # The variables are printed on failure too, so stop() can end what did start.
    cmd = ('. "$0" >&2; rc=$?; printf "%s=%s\\0" XDG_RUNTIME_DIR "$XDG_RUNTIME_DIR" '
           'DBUS_SESSION_BUS_ADDRESS "$DBUS_SESSION_BUS_ADDRESS" AUDIO_PIDS "$AUDIO_PIDS"; '
           'exit $rc')
    # The script gives up by itself (each wait: AUDIO_START_TIMEOUT, 60 s); this only
    # guards against a hang of its own.
    r = subprocess.run(["bash", "-c", cmd, str(start_script())], env=env, capture_output=True,
                       timeout=600, stdin=subprocess.DEVNULL)
    pairs = [p.split("=", 1) for p in r.stdout.decode().split("\0") if "=" in p]
    exported = {k: v for k, v in pairs}
    va = VirtualAudio(exported, [int(p) for p in exported.get("AUDIO_PIDS", "").split()])
    if r.returncode != 0 or set(exported) != set(EXPORTED):
        stop(va)
        raise RuntimeError("the virtual sound card did not start:\n"
                           + r.stderr.decode("utf-8", "replace")[-2000:])
    if not _microphone_flows({**env, **exported}):
        logs = _log_tails(va)
        stop(va)
        raise RuntimeError("the virtual sound card started, but its microphone "
                           f"(vmic_in.monitor) delivered no audio:\n{logs}")
    if not _speaker_flows({**env, **exported}):
        logs = _log_tails(va)
        stop(va)
        raise RuntimeError("the virtual sound card started, but a tone played to its "
                           f"default output never reached vspeaker.monitor:\n{logs}")
    return va


@contextmanager
def _recording(env: dict, out: Path, *target: str) -> Iterator[subprocess.Popen]:
    """pw-record of `target` into `out` (16 kHz mono s16) for as long as the block runs."""
    p = subprocess.Popen(["pw-record", *target, "--rate", "16000", "--channels", "1",
                          "--format", "s16", str(out)], env=env, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield p
    finally:
        p.kill()
        p.wait()


def _until(rec: subprocess.Popen, patience_s: float, done: Callable[[], bool],
           pause_s: float) -> bool:
    """done() became true while the recording ran; the patience only bounds a dead card."""
    deadline = time.monotonic() + patience_s
    while time.monotonic() < deadline and rec.poll() is None:
        if done():
            return True
        time.sleep(pause_s)
    return False


def _microphone_flows(env: dict, frames: int = 1600, patience_s: float = 20.0) -> bool:
    """The card's default input delivers frames (silence will do). Once in ~20 full runs a
    card came up whose input gave a live companion nothing at all, its reopening every 2 s
    included, for 120 s: that is a card that did not start, not a companion that cannot
    hear. Counts frames written by pw-record."""
    if shutil.which("pw-record") is None:
        return True   # nothing to probe with; the tests that need pw-play skip anyway
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "probe.wav"
        with _recording(env, out, "--target", "vmic_in.monitor") as rec:
            return _until(rec, patience_s, lambda: out.is_file()
                          and out.stat().st_size >= 44 + 2 * frames, 0.02)


def _speaker_flows(env: dict, patience_s: float = 20.0) -> bool:
    """A tone played to the card's default output is heard on vspeaker.monitor. Once, a
    card came up whose output node was never scheduled ("no node available" in its log):
    every test that played through it failed for the whole session, while a fresh card
    then worked. Plays a short tone again and again until pw-record, capturing the sink,
    hears it (at least a tenth of full scale)."""
    if shutil.which("pw-record") is None or shutil.which("pw-play") is None:
        return True   # nothing to probe with; the tests that need pw-play skip anyway
    with tempfile.TemporaryDirectory() as d:
        tone, out = Path(d) / "tone.wav", Path(d) / "heard.wav"
        with wave.open(str(tone), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(16000)
            t = np.arange(4800) / 16000
            w.writeframes((0.5 * 32767 * np.sin(2 * np.pi * 440 * t)).astype("<i2").tobytes())

        def heard() -> bool:
            try:
                subprocess.run(["pw-play", str(tone)], env=env, timeout=10,
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
            except subprocess.TimeoutExpired:
                return False
            x = np.frombuffer(out.read_bytes()[44:], dtype="<i2") if out.is_file() else []
            return len(x) > 0 and int(np.abs(np.asarray(x, dtype=np.int32)).max()) >= 3277

        # (the sink's own node, captured: "vspeaker.monitor" is no node to pw-record)
        with _recording(env, out, "--target", "vspeaker", "-P",
                        "{ stream.capture.sink=true }") as rec:
            return _until(rec, patience_s, heard, 0.05)


def _log_tails(va: VirtualAudio, lines: int = 15) -> str:
    """The last lines the card's servers logged (kept in its runtime dir until stop())."""
    logs = va.runtime_dir / "log" if "XDG_RUNTIME_DIR" in va.env else None
    if logs is None or not logs.is_dir():
        return "(no logs)"
    return "\n".join(f"--- {f.name}\n" + "\n".join(
        f.read_text(errors="replace").splitlines()[-lines:]) for f in sorted(logs.glob("*.log")))


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def stop(va: VirtualAudio, sig: int = signal.SIGTERM) -> None:
    """Stop what start() started (its own processes only) and remove its runtime dir."""
    for pid in va.pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 3
    while any(_alive(p) for p in va.pids) and time.monotonic() < deadline:
        time.sleep(0.02)
    for pid in va.pids:
        if _alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    rd = va.env.get("XDG_RUNTIME_DIR", "")
    if rd.startswith("/tmp/xdg-audio."):
        shutil.rmtree(rd, ignore_errors=True)


def activate(va: VirtualAudio) -> None:
    """Point this process (and its children) at va."""
    for k in EXPORTED:
        va.saved[k] = os.environ.get(k)
        os.environ[k] = va.env[k]
    if "sounddevice" in sys.modules:   # PortAudio listed devices at import: list again
        sd = sys.modules["sounddevice"]
        sd._terminate()
        sd._initialize()


def deactivate(va: VirtualAudio) -> None:
    for k, v in va.saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def _sinks_there(va: VirtualAudio) -> bool:
    """Both null sinks are still there. They live in pipewire-pulse (loaded with pactl): in
    two tester runs, late in the suite, they were gone ("no node available" for vmic_in,
    and the speaker's stream never asked for audio), while the card had started well."""
    try:
        r = subprocess.run(["pactl", "list", "short", "sinks"], env={**os.environ, **va.env},
                           capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    names = {line.split("\t")[1] for line in r.stdout.splitlines() if "\t" in line}
    return r.returncode == 0 and {"vspeaker", "vmic_in"} <= names


class CardRestarted(UserWarning):
    """The session's test sound card lost its sinks and was started again."""


@pytest.fixture(scope="session")
def _session_card():
    """The virtual sound card, running for the whole test session (in a list: a card that
    lost its sinks is replaced by virtual_audio)."""
    # A card already running is shared only by a run in one process: two test processes
    # (pytest-xdist) on one card would hear each other's audio, so each starts its own.
    alone = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) <= 1
    if (alone and os.environ.get("AUDIO_PIDS") and os.environ.get("XDG_RUNTIME_DIR")
            and _server_answers()):
        yield [VirtualAudio({k: os.environ[k] for k in EXPORTED if k in os.environ},
                            owned=False)]
        return
    missing = missing_programs()
    if missing:
        pytest.skip(f"no virtual sound card: {', '.join(missing)} not installed "
                    f"(sudo apt-get install {PACKAGES}, or scripts/setup.sh --test)")
    force = os.environ.get("AUDIO_FORCE_RATE")
    card = [start(int(force) if force else None)]
    activate(card[0])
    try:
        yield card
    finally:
        deactivate(card[0])
        stop(card[0])


@pytest.fixture(scope="module")
def virtual_audio(_session_card):
    """The session's sound card, checked as each test module that uses it begins: one
    whose sinks are gone is stopped and started again (said on stderr, with its logs), so a
    card that broke does not fail every test after it."""
    va = _session_card[0]
    if va.owned and not _sinks_there(va):
        # A warning, not stderr: the run passes once the card is back, and pytest shows a
        # passing fixture's stderr to no one; its warnings summary keeps the logs. (A lead:
        # pipewire-pulse's module-null-sink unloads itself when its own connection to
        # PipeWire breaks, EPIPE, and logs "error id:0 ..." as it does.)
        warnings.warn(f"the virtual sound card lost its sinks; started again. Its logs:\n"
                      f"{_log_tails(va)}", CardRestarted, stacklevel=1)
        deactivate(va)
        stop(va)
        force = os.environ.get("AUDIO_FORCE_RATE")
        va = start(int(force) if force else None)
        activate(va)
        _session_card[0] = va
    return va
