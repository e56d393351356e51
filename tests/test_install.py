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
    scripts = [INSTALL, ROOT / "scripts/setup.sh", ROOT / "scripts/test.sh", ROOT / ".ci/run"]
    r = subprocess.run(["shellcheck", *map(str, scripts)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout


def test_dry_run_prints_every_step_and_changes_nothing(tmp_path):
    prefix = tmp_path / "opt"
    r = sh("--dry-run", "--with-vosk", "--prefix", str(prefix), "--user", "massage")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    for expected in ("apt-get install", "espeak-ng", "libportaudio2", "useradd",
                     f"{prefix}/venv/bin/pip install", "model download",
                     "/etc/systemd/system/companion.service", "systemctl enable --now"):
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
