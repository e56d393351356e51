#!/usr/bin/env bash
# Set up (when needed) and start the companion, in one command that works in any shell,
# for root and for a normal user: it runs the companion from this checkout's .venv, so it
# does not depend on PATH. Arguments go to `companion run` (e.g. --text, --routine neck).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/companion run "$@"
