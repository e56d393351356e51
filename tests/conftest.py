"""Shared fixtures. `virtual_audio` (session-scoped) starts the test sound card: see
tests/audio_env.py. Request it before anything imports sounddevice."""

from audio_env import virtual_audio  # noqa: F401
