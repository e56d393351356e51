"""A data folder the user cannot write (someone else's, read-only, missing), run through the
real CLI as a user would meet it: one line that says what is in the way and a fix that can
work (issue 14). As root (CI) the other user is made with setpriv and the read-only folder
with a read-only tmpfs in a private mount namespace; as a normal user, with chmod."""

from __future__ import annotations

import errno
import logging
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Iterator, Optional

import pytest

from companion.host import config
from companion.cli.doctor import check_data_dir
from companion.storage.runlock import single_run
from companion.storage.logfile import in_the_way
from companion.storage.store import DB_NAME, PainLog

ROOT = os.geteuid() == 0
OTHER_UID = 65534  # 'nobody' on most systems: owns the folder
STRANGER_UID = 4242  # runs the command; no account, so it is named by number
DOCTOR = ["doctor", "--skip", "espeak", "--skip", "microphone", "--skip", "speaker",
          "--skip", "recognizer", "--skip", "service"]


def name_of(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


@pytest.fixture
def base() -> Iterator[Path]:
    """A folder every user may look into (pytest's tmp_path is private to its owner)."""
    folder = Path(tempfile.mkdtemp(prefix="companion-perm-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        for path in [folder, *folder.rglob("*")]:
            try:
                path.chmod(0o700)
            except OSError:
                pass
        shutil.rmtree(folder, ignore_errors=True)


def companion(base: Path, *args: str, prefix: tuple[str, ...] = (),
              shell: Optional[str] = None) -> subprocess.CompletedProcess[str]:
    """`python -m companion ARGS` with HOME, XDG and config in `base` (readable by any user);
    `shell` wraps it in `sh -c` (the command is "$@") for a mount namespace."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPANION_")}
    env.update(HOME=str(base), XDG_DATA_HOME=str(base / "xdg-data"),
               COMPANION_CONFIG_DIR=str(base / "config"), TZ="UTC")
    command = [sys.executable, "-m", "companion", *args]
    if shell:
        command = ["sh", "-c", shell + ' && exec "$@"', "sh", *command]
    return subprocess.run([*prefix, *command], env=env, capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)


def as_stranger() -> tuple[str, ...]:
    setpriv = shutil.which("setpriv")
    prefix = (setpriv or "setpriv", f"--reuid={STRANGER_UID}", f"--regid={STRANGER_UID}",
              "--clear-groups")
    if not setpriv or subprocess.run([*prefix, "true"], capture_output=True).returncode:
        pytest.skip("cannot run a command as another user here (setpriv)")
    # Python and the companion must be readable by that user (not so under a 0700 /root).
    probe = subprocess.run([*prefix, sys.executable, "-c", "import companion, pydantic"],
                           capture_output=True, text=True)
    if probe.returncode:
        pytest.skip(f"uid {STRANGER_UID} cannot run this Python and the companion: "
                    f"{probe.stderr.strip().splitlines()[-1:]}")
    return prefix


def someone_elses_folder(base: Path) -> tuple[Path, tuple[str, ...], str]:
    """(a folder this command's user cannot write and does not own, the prefix that runs the
    command as that user, the owner's name)."""
    if ROOT:
        folder = base / "data"
        folder.mkdir()
        os.chown(folder, OTHER_UID, OTHER_UID)
        folder.chmod(0o700)
        return folder, as_stranger(), name_of(OTHER_UID)
    for candidate in (Path("/root"), Path("/var/root")):
        try:
            owner = candidate.stat().st_uid
        except OSError:
            continue
        if owner != os.geteuid() and not os.access(candidate, os.W_OK):
            return candidate, (), name_of(owner)
    pytest.skip("not root, and no folder owned by someone else (such as /root) to point at")


def one_line(stderr: str, words: str) -> str:
    lines = [line for line in stderr.splitlines() if words in line]
    assert lines, stderr
    return lines[0]


# --- 1. someone else's folder: name the owner, never suggest chmod ----------------------------

@pytest.mark.parametrize("command", [["history"], ["run", "neck", "--text"]],
                         ids=["history", "run"])
def test_someone_elses_folder_names_the_owner(base: Path, command: list[str]) -> None:
    folder, prefix, owner = someone_elses_folder(base)
    result = companion(base, *command, "--data-dir", str(folder), prefix=prefix)
    assert "Traceback" not in result.stderr
    said = one_line(result.stderr, "cannot open the pain log")
    assert f"the folder {folder} belongs to {owner}" in said
    assert "not writable by this user" in said and "--data-dir" in said
    assert "chmod" not in result.stderr
    if owner != "root":
        assert f"Run the companion as {owner}" in said
    if command[0] == "history":
        assert result.returncode != 0 and result.stdout == ""
    else:  # the session is still guided (exit 1: its record was lost), and the run lock
        # says the same thing in one line
        assert result.returncode == 1 and "Starting Neck" in result.stdout, result.stderr
        assert "Guiding the session anyway" in said
        lock = one_line(result.stderr, "run lock")
        assert f"belongs to {owner}" in lock and "Permission denied" not in lock
    assert not ROOT or not (folder / DB_NAME).exists()


@pytest.mark.skipif(not ROOT, reason="needs root to give the log file to another user")
def test_someone_elses_log_file_names_its_owner(base: Path) -> None:
    folder = base / "data"
    with PainLog.open(folder) as log:
        log.log_rating(log.start_session("neck", 1.7e9), 1.7e9, 5, 0, "press", "neck")
    os.chown(folder, STRANGER_UID, STRANGER_UID)  # the folder is the user's, the file not
    os.chown(folder / DB_NAME, OTHER_UID, OTHER_UID)
    result = companion(base, "history", "--data-dir", str(folder), prefix=as_stranger())
    assert result.returncode != 0 and "Traceback" not in result.stderr
    said = one_line(result.stderr, "cannot open the pain log")
    assert f"the file {folder / DB_NAME} belongs to {name_of(OTHER_UID)}" in said
    assert "chmod" not in said


def test_own_folder_still_suggests_chmod(tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != folder)
    what, fix = in_the_way(folder / DB_NAME)
    assert what == f"the folder {folder} is not writable"
    assert f"chmod u+rwx {folder}" in fix and "--data-dir" in fix


def test_a_file_in_the_way_is_named(tmp_path: Path) -> None:
    (tmp_path / "notes").write_text("x")
    what, fix = in_the_way(tmp_path / "notes" / "data" / DB_NAME)
    assert what == (f"a file is in the way of the folder {tmp_path / 'notes' / 'data'}: "
                    f"{tmp_path / 'notes'}")
    assert fix.startswith("Move it")


# --- 2. the run lock in a folder that cannot be written ------------------------------------

def read_only_place(base: Path) -> tuple[Path, tuple[str, ...], Optional[str]]:
    """(a read-only folder, a prefix, a shell setup) to run a command against. As root: a
    read-only tmpfs mounted in a private mount namespace (nothing leaks out of the test)."""
    folder = base / "ro"
    folder.mkdir()
    if not ROOT:
        folder.chmod(0o500)
        return folder, (), None
    unshare = shutil.which("unshare")
    mount = f"mount -t tmpfs -o ro tmpfs {folder}"
    if not unshare or subprocess.run([unshare, "-m", "sh", "-c", mount],
                                      capture_output=True).returncode:
        pytest.skip("running as root and cannot mount a read-only tmpfs (unshare -m)")
    return folder, (unshare, "-m"), mount


@pytest.mark.parametrize("missing", [False, True], ids=["read-only", "missing-in-read-only"])
def test_run_lock_in_a_read_only_folder_says_why_in_one_line(base: Path, missing: bool) -> None:
    folder, prefix, shell = read_only_place(base)
    data = folder / "data" if missing else folder
    result = companion(base, "run", "neck", "--text", "--data-dir", str(data), prefix=prefix,
                       shell=shell)
    assert result.returncode == 1, result.stderr  # guided, but its record was lost
    assert "Traceback" not in result.stderr and "Starting Neck" in result.stdout
    lock = one_line(result.stderr, "run lock")
    log = one_line(result.stderr, "cannot open the pain log")
    assert "No such file or directory" not in lock
    assert lock.startswith(f"companion: cannot take the run lock {data / 'run.lock'}: ")
    reason = lock.split(": ", 2)[2].split(";")[0]
    assert reason in log  # the same words as the log's own message
    assert ("does not exist and cannot be created" in reason) == missing
    assert "not writable" in reason
    if ROOT:
        assert "read-only file system" in reason


def said_once(caplog: pytest.LogCaptureFixture) -> str:
    """The one warning the storage code logged (the CLI shows it as one stderr line)."""
    messages = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(messages) == 1 and "\n" not in messages[0], messages
    return messages[0]


def test_run_lock_survives_a_file_system_without_locks(tmp_path: Path, monkeypatch,
                                                       caplog) -> None:
    def no_locks(fd: int, how: int) -> None:
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr("fcntl.flock", no_locks)
    ran = False
    with single_run(tmp_path):
        ran = True
    assert ran
    assert "No locks available" in said_once(caplog)


@pytest.mark.parametrize("where, words", [
    ("notes/data", "a file is in the way of the folder"),
    ("notes", "is a file, not a folder"),
    ("bad\x00name", "cannot take the run lock"),  # no OS call takes it: still no crash
])
def test_run_lock_where_no_folder_can_be_says_so(tmp_path: Path, caplog, where: str,
                                                 words: str) -> None:
    (tmp_path / "notes").write_text("x")
    with single_run(tmp_path / where):
        pass
    assert words in said_once(caplog)


# --- 3. doctor does not create the folder ---------------------------------------------------

def test_doctor_leaves_a_missing_folder_alone(tmp_path: Path) -> None:
    folder = tmp_path / "not" / "yet"
    check = check_data_dir(config.Config(data_dir=folder))
    assert check.ok, check
    assert check.detail == (f"{folder} does not exist yet; `companion run` creates it with "
                            "the first session")
    assert not (tmp_path / "not").exists()


def test_doctor_cli_on_a_missing_folder_passes(base: Path) -> None:
    folder = base / "new"
    result = companion(base, *DOCTOR, "--data-dir", str(folder))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"ok  pain log    {folder} does not exist yet" in result.stdout
    assert not folder.exists()


def test_doctor_on_a_folder_that_cannot_be_created_fails_with_the_reason(base: Path) -> None:
    folder, prefix, shell = read_only_place(base)
    result = companion(base, *DOCTOR, "--data-dir", str(folder / "data"), prefix=prefix,
                       shell=shell)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"!!  pain log    the folder {folder / 'data'} does not exist and cannot be " \
           "created" in result.stdout
    assert "fix: " in result.stdout and "Traceback" not in result.stderr


def test_doctor_on_someone_elses_folder_names_the_owner(base: Path) -> None:
    folder, prefix, owner = someone_elses_folder(base)
    result = companion(base, *DOCTOR, "--data-dir", str(folder), prefix=prefix)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"!!  pain log    the folder {folder} belongs to {owner}" in result.stdout
    assert "chmod" not in result.stdout and "chown" not in result.stdout


# --- 4. the help names the order ------------------------------------------------------------

def test_data_dir_help_names_the_order(base: Path) -> None:
    text = " ".join(companion(base, "history", "--help").stdout.split())
    assert ("the first of: this flag, $COMPANION_DATA_DIR, data_dir in config.toml, the XDG "
            "data dir") in text


def test_a_data_folder_inside_one_that_cannot_be_entered_is_one_line(base: Path) -> None:
    """`history --data-dir /root/x/y` as a normal user: Path.exists() itself raises there."""
    folder, prefix, _ = someone_elses_folder(base)
    result = companion(base, "history", "--data-dir", str(folder / "x" / "y"), prefix=prefix)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    said = one_line(result.stderr, str(folder / "x" / "y"))
    assert "cannot look into the data folder" in said and "--data-dir" in said
