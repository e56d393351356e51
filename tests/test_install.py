"""The Pi installer and its systemd unit: checked by the real tools where they exist."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
INSTALL = ROOT / "scripts" / "install-pi.sh"


def sh(*args, **kw):
    return subprocess.run([str(INSTALL), *args], capture_output=True, text=True, timeout=60, **kw)


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck not installed "
                    "(scripts/setup.sh --test installs it)")
def test_scripts_pass_shellcheck():
    scripts = [INSTALL, ROOT / ".ci/run"] + [ROOT / "scripts" / n for n in (
        "setup.sh", "test.sh", "start.sh", "link-command.sh")]
    r = subprocess.run(["shellcheck", *map(str, scripts)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout


def test_dry_run_prints_every_step_and_changes_nothing(tmp_path):
    prefix = tmp_path / "opt"
    r = sh("--dry-run", "--with-vosk", "--prefix", str(prefix), "--user", "massage")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    for expected in ("apt-get install", "espeak-ng", "libportaudio2", "useradd",
                     f"{prefix}/venv/bin/pip install", "model download",
                     "/etc/systemd/system/companion.service", "systemctl enable --now",
                     "\\[piper\\]", "voice prepare"):
        assert expected in out, expected
    assert not prefix.exists()
    un = sh("--dry-run", "--uninstall", "--prefix", str(prefix))
    assert un.returncode == 0 and "systemctl disable --now companion.service" in un.stdout
    assert f"rm -rf {prefix}" in un.stdout


def test_unknown_option_is_refused():
    r = sh("--frobnicate")
    assert r.returncode == 2 and "unknown option --frobnicate" in r.stderr


def test_unit_is_unprivileged_restarts_and_has_no_network(tmp_path):
    unit = sh("--print-unit", "--prefix", str(tmp_path), "--user", "massage").stdout
    assert "User=massage" in unit and "SupplementaryGroups=audio" in unit
    assert "Restart=on-failure" in unit and "IPAddressDeny=any" in unit
    assert f"ExecStart={tmp_path}/venv/bin/companion run" in unit
    assert "@" not in unit.replace("Description=", "")


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not here")
def test_unit_passes_systemd_analyze_verify(tmp_path):
    # verify wants ExecStart to exist: point the prefix at this interpreter's companion.
    (tmp_path / "venv" / "bin").mkdir(parents=True)
    exe = Path(sys.executable).parent / "companion"
    os.symlink(exe if exe.exists() else sys.executable, tmp_path / "venv" / "bin" / "companion")
    unit_file = tmp_path / "companion.service"
    unit_file.write_text(sh("--print-unit", "--prefix", str(tmp_path), "--user", "root").stdout)
    r = subprocess.run(["systemd-analyze", "verify", str(unit_file)], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "companion.service" not in r.stderr  # no warnings about our unit


LINK = ROOT / "scripts" / "link-command.sh"


def link(bindir: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, COMPANION_BINDIR=str(bindir), PATH="/usr/bin:/bin")
    return subprocess.run([str(LINK), *args], capture_output=True, text=True, timeout=60,
                          env=env)


def test_command_link_is_made_and_says_when_not_on_path(tmp_path):
    r = link(tmp_path / "bin")
    assert r.returncode == 0, r.stderr
    assert os.readlink(tmp_path / "bin" / "companion") == str(ROOT / ".venv/bin/companion")
    assert "not on PATH in this shell" in r.stdout and str(ROOT / ".venv/bin/companion") in r.stdout


def test_second_checkout_does_not_take_over_the_first_ones_command(tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    first_exe = tmp_path / "someone" / "companion" / ".venv" / "bin" / "companion"
    first_exe.parent.mkdir(parents=True)
    first_exe.write_text("#!/bin/sh\n")
    first = str(first_exe)
    os.symlink(first, bindir / "companion")
    r = link(bindir)
    assert r.returncode == 0, r.stderr
    assert os.readlink(bindir / "companion") == first  # untouched
    assert f"already runs {first}" in r.stdout and "--force" in r.stdout
    r = link(bindir, "--force")
    assert r.returncode == 0 and os.readlink(bindir / "companion") == str(
        ROOT / ".venv/bin/companion")


def test_a_link_to_a_checkout_that_is_gone_is_taken_over(tmp_path):
    """A removed clone leaves a link that runs nothing: the next setup's first command
    would fail in the same shell. Taking it over takes no one's command."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    gone = str(tmp_path / "removed-clone" / ".venv" / "bin" / "companion")
    os.symlink(gone, bindir / "companion")
    r = link(bindir)
    assert r.returncode == 0, r.stderr
    assert os.readlink(bindir / "companion") == str(ROOT / ".venv/bin/companion")
    assert f"pointed to {gone}, which is gone" in r.stdout


@pytest.mark.skipif(not (ROOT / ".venv/bin/python").exists(),
                    reason="no .venv in this checkout (scripts/setup.sh makes it)")
def test_first_command_sets_up_and_runs_in_one_shell_without_path(tmp_path):
    """The README's first command, as a normal user's shell has it: no ~/.local/bin on
    PATH. It sets up (idempotent) and runs this checkout's companion all the same. The
    user's config asks for the espeak-ng voice: setup's `voice prepare` renders every line
    into this new home's cache, 9 s with espeak-ng and 100-170 s with Piper on a 2-core
    machine (test_speech_voices prepares the same list; the live tests speak with Piper)."""
    config = tmp_path / "home" / ".config" / "companion"
    config.mkdir(parents=True)
    (config / "config.toml").write_text('voice_engine = "pyttsx3"\n')
    env = dict(os.environ, COMPANION_BINDIR=str(tmp_path / "bin"), PATH="/usr/bin:/bin",
               COMPANION_DATA_DIR=str(tmp_path / "data"), HOME=str(tmp_path / "home"),
               XDG_CONFIG_HOME=str(tmp_path / "home" / ".config"))
    env.pop("VIRTUAL_ENV", None)
    env.pop("COMPANION_CONFIG_DIR", None)
    r = subprocess.run([str(ROOT / "scripts/start.sh"), "neck", "--text", "--speed", "200"],
                       input="pain six\nstop\n", capture_output=True, text=True, timeout=600,
                       env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "setup: done" in r.stdout
    assert "lines ready for espeak-ng" in r.stdout, r.stdout
    assert "Six, noted." in r.stdout, r.stdout
    h = subprocess.run([str(ROOT / ".venv/bin/companion"), "history"], capture_output=True,
                       text=True, timeout=60, env=env)
    assert h.returncode == 0 and "neck" in h.stdout and "6" in h.stdout, h.stdout + h.stderr
