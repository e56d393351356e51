#!/usr/bin/env bash
# Set up the companion on a fresh Debian / Raspberry Pi OS machine: system packages, a
# virtual environment in .venv, the package itself, and a `companion` command on PATH.
#   scripts/setup.sh          what the companion needs to run
#   scripts/setup.sh --test   also the test tools and the virtual sound card used by tests
set -euo pipefail
cd "$(dirname "$0")/.."

with_tests=0
[ "${1:-}" = "--test" ] && with_tests=1

sudo_() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

apt_pkgs="espeak-ng libportaudio2 python3-venv python3-pip"
[ $with_tests = 1 ] && apt_pkgs="$apt_pkgs pipewire pipewire-pulse pipewire-alsa wireplumber pulseaudio-utils dbus-daemon shellcheck sox chromium"
missing=""
for p in $apt_pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "setup: installing$missing"
    sudo_ apt-get update -qq
    # shellcheck disable=SC2086  # word splitting is wanted: one package per word
    sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
if [ $with_tests = 1 ]; then
    .venv/bin/python -m pip install -q -e '.[test,piper]'
else
    .venv/bin/python -m pip install -q -e '.[piper]'
    # Every line of every routine rendered now, not while someone lies on a ball waiting
    # (about a minute here on 2 cores, a few on a Pi 4, once; later runs find them cached).
    .venv/bin/companion voice prepare
fi

# Put `companion` on PATH without activating the venv (never over another checkout's).
scripts/link-command.sh
echo "setup: done ($(.venv/bin/companion --version))"
