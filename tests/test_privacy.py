"""Privacy, proved rather than promised (issue 7):

- no network: the companion creates no internet socket, connects or binds nothing but unix
  sockets, looks up no host name (audit hooks, tests/privacy_probe.py), and a waiting
  session owns no socket in /proc/net/{tcp,tcp6,udp,udp6};
- no shell command is built from what the user says or types;
- nothing is written outside the data folder and the files asked for, and no audio at all;
- data files are 0600 in a 0700 folder, even under umask 000.
"""

from __future__ import annotations

import json
import os
import re
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from companion.hearing import whisper_model

HERE = Path(__file__).resolve().parent
PROBE = HERE / "privacy_probe.py"
AUDIO_SUFFIXES = {".wav", ".wave", ".raw", ".pcm", ".flac", ".ogg", ".opus", ".mp3", ".m4a",
                  ".aiff", ".au"}
SHELLS = {"sh", "bash", "dash", "zsh", "ksh", "busybox"}


def hostile_lines(marker: Path) -> list[str]:
    """Typed lines that would do harm if they ever reached a shell."""
    m = str(marker)
    return [f"pain six; touch {m}", f"$(touch {m})", f"`touch {m}`", f"| touch {m}",
            f"&& touch {m}", f"pain 4 > {m}", f"'; touch {m}; '", f"\"$(touch {m})\"",
            "pain six\n$(reboot)", "pain six; rm -rf /", "`reboot`", "${IFS}reboot",
            "%s%s%s%n", "pain ６", "\x1b[2Jpain five"]


class Env:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.home = root / "home"
        self.home.mkdir()
        self.env = {**os.environ, "HOME": str(self.home),
                    "XDG_CONFIG_HOME": str(self.home / ".config"),
                    "XDG_DATA_HOME": str(self.home / ".local/share"),
                    "XDG_CACHE_HOME": str(self.home / ".cache"),
                    "COMPANION_CONFIG_DIR": str(root / "config"),
                    "COMPANION_CACHE_DIR": str(root / "cache"),
                    "PYTHONDONTWRITEBYTECODE": "1"}
        self.env.pop("COMPANION_DATA_DIR", None)

    def probe(self, *args: str, stdin: str = "", name: str = "report") -> dict:
        """Run `companion ARGS --data-dir DATA` under the audit hook, umask 000."""
        report = self.root / f"{name}.json"
        r = subprocess.run([sys.executable, str(PROBE), str(report), *args,
                            "--data-dir", str(self.data)],
                           input=stdin, capture_output=True, text=True, env=self.env,
                           timeout=120, preexec_fn=lambda: os.umask(0))
        assert report.exists(), f"the probe did not finish:\n{r.stderr}"
        out = json.loads(report.read_text())
        out["stdout"], out["stderr"], out["returncode"] = r.stdout, r.stderr, r.returncode
        assert "Traceback" not in r.stderr, r.stderr
        return out


def assert_offline(rep: dict) -> None:
    inet = [s for s in rep["sockets"] if s["family"] != socket.AF_UNIX]
    assert not inet, f"sockets other than AF_UNIX were created: {inet}"
    bad = [n for n in rep["network"] if n["family"] != socket.AF_UNIX]
    assert not bad, f"network use: {bad}"


def assert_no_shell_from_user_text(rep: dict, user_text: list[str]) -> None:
    for p in rep["processes"]:
        argv = p["args"]
        prog = os.path.basename(argv[0] if argv else p["executable"])
        assert not (prog in SHELLS and "-c" in argv[1:]) and p["event"] != "os.system", \
            f"a shell command was run: {p}"
        for arg in argv:
            for line in user_text:
                words = [w for w in re.split(r"\s+", line) if len(w) > 3]
                assert not any(w in arg for w in words), \
                    f"user text {line!r} reached a process's arguments: {p}"


def assert_writes_only(rep: dict, allowed: list[Path]) -> None:
    for w in rep["writes"]:
        path = Path(w["path"])
        # (an entry may be a pattern: a file written under a name of its own, then renamed)
        assert any(path == a or a in path.parents or path.match(str(a)) for a in allowed), \
            f"wrote outside the data folder and the files asked for: {path}"
        assert path.suffix.lower() not in AUDIO_SUFFIXES, f"audio written: {path}"


def assert_private_tree(folder: Path) -> None:
    """The folder 0700, every file in it 0600, nothing in it audio."""
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700, oct(folder.stat().st_mode)
    for p in folder.rglob("*"):
        mode = stat.S_IMODE(p.stat().st_mode)
        if p.is_dir():
            assert mode == 0o700, f"{p} is {oct(mode)}"
            continue
        assert mode == 0o600, f"{p} is {oct(mode)}, not 0600"
        assert p.suffix.lower() not in AUDIO_SUFFIXES, f"audio in the data folder: {p}"
        with open(p, "rb") as f:
            head = f.read(12)
        assert not (head[:4] == b"RIFF" and head[8:12] == b"WAVE"), f"audio in {p}"


def test_typed_session_and_log_commands_stay_offline_and_private(tmp_path):
    env = Env(tmp_path)
    marker = tmp_path / "pwned"
    lines = hostile_lines(marker)
    session = "\n".join(["pain six"] + lines + ["next", "pain 3", "stop"]) + "\n"

    run = env.probe("run", "neck", "--text", "--speed", "200", stdin=session, name="run")
    assert run["exit"] == 0, run["stderr"]
    assert "Six, noted." in run["stdout"] and "Three, noted." in run["stdout"]
    assert any(w.get("sqlite") for w in run["writes"]), "the audit hook saw nothing"
    export_file, report_file = tmp_path / "out" / "export.json", tmp_path / "out" / "r.html"
    export_file.parent.mkdir()
    reports = [run,
               env.probe("routines", "list", name="list"),
               env.probe("history", name="history"),
               env.probe("export", name="export_csv"),
               env.probe("export", "--format", "json", "-o", str(export_file), name="export"),
               env.probe("report", "--html", str(report_file), name="report")]
    for rep in reports:
        assert rep["exit"] == 0, rep["stderr"]
        assert_offline(rep)
        assert_no_shell_from_user_text(rep, lines)
        assert_writes_only(rep, [env.data, export_file, report_file])
    assert not marker.exists(), "a typed line ran a command"
    # Every line was either understood or ignored as text; none was executed.
    assert run["stderr"].count("not a command, ignored") >= len(lines) - 4

    assert_private_tree(env.data)
    assert {p.name for p in env.data.iterdir()} <= {"companion.sqlite3", "run.lock"}  # the lock is empty
    for f in (export_file, report_file):
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
    # The home folder, the config and cache folders: nothing written there.
    assert not any(env.home.rglob("*")), list(env.home.rglob("*"))
    assert not (tmp_path / "config").exists() and not (tmp_path / "cache").exists()


def test_existing_export_and_report_files_are_made_private(tmp_path):
    env = Env(tmp_path)
    env.probe("run", "neck", "--text", "--speed", "200", stdin="pain 5\nstop\n")
    for args, name in ((["export", "--format", "csv", "-o"], "old.csv"),
                       (["report", "--html"], "old.html")):
        f = tmp_path / name
        f.write_text("old")
        f.chmod(0o644)
        rep = env.probe(*args, str(f), name=name)
        assert rep["exit"] == 0, rep["stderr"]
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, name


def test_a_tightened_log_of_someone_elses_mode_is_made_private(tmp_path):
    env = Env(tmp_path)
    env.probe("run", "neck", "--text", "--speed", "200", stdin="pain 5\n")
    db = env.data / "companion.sqlite3"
    db.chmod(0o644)
    env.probe("history", name="again")
    assert stat.S_IMODE(db.stat().st_mode) == 0o600


def _socket_inodes(pid: int) -> set[str]:
    out = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        m = re.fullmatch(r"socket:\[(\d+)\]", target)
        if m:
            out.add(m.group(1))
    return out


def _inet_table() -> dict[str, tuple[str, str, str]]:
    """inode -> (table, local address, state) for every TCP/UDP socket on the host."""
    found = {}
    for table in ("tcp", "tcp6", "udp", "udp6", "raw", "raw6", "udplite", "udplite6"):
        path = Path("/proc/net") / table
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            cols = line.split()
            if len(cols) > 9:
                found[cols[9]] = (table, cols[1], cols[3])
    return found


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc")
def test_a_waiting_session_owns_no_network_socket(tmp_path):
    env = Env(tmp_path)
    p = subprocess.Popen([sys.executable, "-m", "companion", "run", "neck", "--text",
                          "--data-dir", str(env.data)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env.env)
    try:
        first = p.stdout.readline()  # the intro: the session is up and waiting on stdin
        assert "Starting" in first, first + p.stderr.read()
        p.stdin.write("pain six\n")
        p.stdin.flush()
        deadline = time.monotonic() + 30
        while "Six, noted." not in p.stdout.readline():
            assert time.monotonic() < deadline
        time.sleep(0.2)
        mine = _socket_inodes(p.pid)
        table = _inet_table()
        owned = {i: table[i] for i in mine if i in table}
        assert not owned, f"the companion holds network sockets: {owned}"
        listening = [v for i, v in owned.items() if v[2] == "0A" or v[0].startswith("udp")]
        assert not listening
    finally:
        p.kill()
        p.wait(timeout=30)


def test_event_files_are_private_even_when_they_exist(tmp_path):
    """`--events FILE` holds what the user said: 0600 whether new or overwritten."""
    from companion.loop.voice_run import _open_private

    old = os.umask(0)
    try:
        new = tmp_path / "new.jsonl"
        with _open_private(str(new)) as f:
            f.write("{}\n")
        assert stat.S_IMODE(new.stat().st_mode) == 0o600
        existing = tmp_path / "existing.jsonl"
        existing.write_text("old")
        existing.chmod(0o644)
        with _open_private(str(existing)) as f:
            f.write("{}\n")
        assert stat.S_IMODE(existing.stat().st_mode) == 0o600
        assert existing.read_text() == "{}\n"
    finally:
        os.umask(old)


def test_an_unwritable_event_file_is_a_clear_error(tmp_path):
    from companion.core.errors import CompanionError
    from companion.loop.voice_run import _open_private

    with pytest.raises(CompanionError, match="cannot write the events file .*missing/e.jsonl"):
        _open_private(str(tmp_path / "missing" / "e.jsonl"))


def test_the_probe_sees_sockets_shells_and_writes(tmp_path):
    """The audit hook itself works: a negative control for the tests above."""
    code = f"""
import json, socket, subprocess, sys
sys.path.insert(0, {str(HERE)!r})
import privacy_probe as p
sys.addaudithook(p.hook)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
try:
    socket.getaddrinfo("localhost", 80)
except OSError:
    pass
subprocess.run("true", shell=True)
open({str(tmp_path / "w.wav")!r}, "wb").close()
p.RECORDING = False
print(json.dumps({{"sockets": p.sockets, "network": p.network, "processes": p.processes,
                  "writes": p.writes}}))
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    rep = json.loads(r.stdout)
    with pytest.raises(AssertionError, match="other than AF_UNIX"):
        assert_offline(rep)
    assert any(n["event"] == "socket.getaddrinfo" for n in rep["network"])
    with pytest.raises(AssertionError, match="shell command"):
        assert_no_shell_from_user_text(rep, [])
    with pytest.raises(AssertionError, match="audio written|outside"):
        assert_writes_only(rep, [tmp_path])


def test_a_voice_replay_keeps_no_audio_unless_a_debug_recording_is_asked_for(tmp_path):
    """Hands-free runs write the log and the files asked for, never the user's voice; with
    --debug-record exactly the microphone audio is kept, in a private file."""
    import wave

    from companion.bench.sessionwav import build

    mic = tmp_path / "in" / "mic.wav"
    mic.parent.mkdir()
    build([(7.0, "start neck routine"), (50.0, "stop")], mic, total_s=60,
          cache_dir=tmp_path / "render-cache")
    env = Env(tmp_path)
    ev = tmp_path / "out" / "events.jsonl"
    ev.parent.mkdir()
    plain = env.probe("run", "--mic-file", str(mic), "--no-speaker", "--events", str(ev),
                      name="replay")
    assert plain["exit"] == 0, plain["stderr"]
    assert_offline(plain)
    # Besides the log and the events file asked for, only the note that the speech model's
    # checksum was verified and, on a first start, the model's int8 copy of its own
    # weights (hearing/int8_copy.py): no audio, nothing the user said.
    model_note = env.root / "cache" / "verified-models.json"
    int8 = env.root / "cache" / f"whisper-{whisper_model.DEFAULT}-int8"
    note_part = model_note.with_name("verified-models.*.tmp")
    assert_writes_only(plain, [env.data, ev, model_note, note_part, int8])
    assert {p.name for p in int8.iterdir()} == {"model.bin", "config.json", "tokenizer.json",
                                                "vocabulary.txt"}
    assert_private_tree(env.data)
    # It acted on "start neck routine" and "stop", and a live run would keep their frames
    # (learned.npz); a replay hears what was said then and keeps nothing it learned.
    assert '"reason": "stopped"' in ev.read_text() and not (env.data / "learned.npz").exists()

    rec = tmp_path / "out" / "heard.wav"
    debug = env.probe("run", "--mic-file", str(mic), "--no-speaker", "--debug-record",
                      str(rec), name="debug")
    assert debug["exit"] == 0, debug["stderr"]
    assert_offline(debug)
    audio = [w["path"] for w in debug["writes"]
             if Path(w["path"]).suffix.lower() in AUDIO_SUFFIXES]
    assert set(audio) == {str(rec)}, audio
    assert stat.S_IMODE(rec.stat().st_mode) == 0o600
    with wave.open(str(rec)) as got, wave.open(str(mic)) as want:
        assert (got.getframerate(), got.getnchannels(), got.getsampwidth()) == (16000, 1, 2)
        assert got.readframes(got.getnframes()) == want.readframes(want.getnframes())


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc")
def test_a_live_hands_free_run_owns_no_network_socket(tmp_path, virtual_audio):
    """Microphone, recognizer, speaker and its playback process, listening for 'start':
    neither the companion nor any process it started holds an internet socket."""
    env = Env(tmp_path)
    ev = tmp_path / "events.jsonl"
    p = subprocess.Popen([sys.executable, "-m", "companion", "run", "--events", str(ev),
                          "--data-dir", str(env.data)], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, env={**env.env, **virtual_audio.env})
    try:
        deadline = time.monotonic() + 60
        while not (ev.exists() and '"cue"' in ev.read_text()):  # listening and greeting
            assert p.poll() is None, p.stderr.read().decode()
            assert time.monotonic() < deadline, "the companion never started listening"
            time.sleep(0.2)
        time.sleep(1.0)
        pids = [p.pid] + [int(c) for c in
                          Path(f"/proc/{p.pid}/task/{p.pid}/children").read_text().split()]
        assert len(pids) >= 2, "the playback process should be running"
        table = _inet_table()
        owned = {pid: [table[i] for i in _socket_inodes(pid) if i in table] for pid in pids}
        assert not any(owned.values()), f"network sockets held: {owned}"
    finally:
        p.kill()
        p.wait(timeout=30)
