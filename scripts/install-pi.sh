#!/usr/bin/env bash
# Install the companion as a service on a headless Raspberry Pi (Raspberry Pi OS / Debian).
#   sudo scripts/install-pi.sh [--with-vosk] [--user NAME] [--prefix DIR] [--dry-run]
#   sudo scripts/install-pi.sh --uninstall [--dry-run]
#   scripts/install-pi.sh --print-unit [--user NAME] [--prefix DIR]   (the unit it would install)
# It installs the apt packages, a virtual environment with the package in PREFIX (default
# /opt/companion), optionally the Vosk model, and a systemd service running as an unprivileged
# user in the audio group, restarted on failure, logging to the journal.
#
# Audio: the service uses plain ALSA (the default device, or the one in
# /etc/companion/config.toml), which works on Raspberry Pi OS Lite with no desktop session.
# A system service has no XDG_RUNTIME_DIR, so it cannot reach a user's PulseAudio/PipeWire
# server; on a Pi with a desktop session that owns the sound card, either set input_device /
# output_device to the ALSA "pulse" or "pipewire" device and run it as that user with
# `--user YOURNAME` plus `loginctl enable-linger YOURNAME` and
# Environment=XDG_RUNTIME_DIR=/run/user/<uid> in the unit, or stop the desktop sound server.
set -euo pipefail

prefix=/opt/companion
user=companion
dry=0
uninstall=0
vosk=0
print_unit=0
while [ $# -gt 0 ]; do
    case "$1" in
        --dry-run) dry=1 ;;
        --uninstall) uninstall=1 ;;
        --with-vosk) vosk=1 ;;
        --print-unit) print_unit=1 ;;
        --user) user="$2"; shift ;;
        --prefix) prefix="$2"; shift ;;
        -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
        *) echo "install-pi: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

src=$(cd "$(dirname "$0")/.." && pwd)
unit=/etc/systemd/system/companion.service

render_unit() {
    sed -e "s|@PREFIX@|$prefix|g" -e "s|@USER@|$user|g" "$src/scripts/companion.service"
}
if [ $print_unit = 1 ]; then render_unit; exit 0; fi

run() {
    if [ $dry = 1 ]; then printf '+'; printf ' %q' "$@"; printf '\n'; else "$@"; fi
}

if [ $dry = 0 ] && [ "$(id -u)" -ne 0 ]; then
    echo "install-pi: run as root (sudo), or add --dry-run to see what it would do" >&2
    exit 1
fi

if [ $uninstall = 1 ]; then
    run systemctl disable --now companion.service || true
    run rm -f "$unit"
    run systemctl daemon-reload
    run rm -rf "$prefix"
    echo "install-pi: removed the service and $prefix; the pain log in /var/lib/companion is kept"
    echo "install-pi: delete it with: sudo rm -rf /var/lib/companion"
    exit 0
fi

run apt-get update -qq
run env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    python3 python3-venv espeak-ng libportaudio2 alsa-utils
if ! id "$user" >/dev/null 2>&1; then
    run useradd --system --no-create-home --shell /usr/sbin/nologin --groups audio "$user"
else
    run usermod -a -G audio "$user"
fi
run mkdir -p "$prefix/models"
run python3 -m venv "$prefix/venv"
run "$prefix/venv/bin/pip" install -q "${src}[piper]"
run cp "$src/README.md" "$prefix/README.md"
# Every line of every routine in the service's cue cache now (10-15 min once on a Pi 4),
# not while someone lies on a ball waiting for the first cue.
run mkdir -p /var/cache/companion
run env COMPANION_CACHE_DIR=/var/cache/companion COMPANION_CONFIG_DIR=/etc/companion \
    "$prefix/venv/bin/companion" voice prepare --quiet
run chown -R "$user:" /var/cache/companion
if [ $vosk = 1 ]; then
    run env COMPANION_MODELS_DIR="$prefix/models" "$prefix/venv/bin/companion" model download
fi
tmp_unit=$(mktemp)
render_unit >"$tmp_unit"
run install -m 0644 "$tmp_unit" "$unit"
rm -f "$tmp_unit"
run systemctl daemon-reload
run systemctl enable --now companion.service
echo "install-pi: done. Follow it with: journalctl -u companion -f"
echo "install-pi: check it with: sudo -u $user $prefix/venv/bin/companion doctor"
