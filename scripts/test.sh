#!/usr/bin/env bash
# Run every test on this machine, installing what the tests need first (idempotent).
# Audio tests start their own virtual sound card (tests/audio_env.py).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
# Types first (a few seconds with its cache, .mypy_cache): strict on companion/core, the
# default checks everywhere else; settings in pyproject.toml.
.venv/bin/python -m mypy
exec .venv/bin/python -m pytest -q "$@"
