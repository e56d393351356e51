#!/usr/bin/env bash
# Run every test on this machine, installing what the tests need first (idempotent).
# Audio tests start their own virtual sound card (tests/audio_env.py).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
# Types first (a few seconds with its cache, .mypy_cache): strict on companion/core, the
# default checks everywhere else; settings in pyproject.toml.
.venv/bin/python -m mypy
# Two processes (pytest-xdist): while one waits on audio played in real time, the other has
# the second core. worksteal hands a test to whichever is free, as the long ones (a minute
# or more) leave one behind. COMPANION_TEST_WORKERS=0 runs them in one process.
exec .venv/bin/python -m pytest -q -n "${COMPANION_TEST_WORKERS:-2}" --dist worksteal "$@"
