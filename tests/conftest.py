"""Shared fixtures. `virtual_audio` starts the test sound card once a session (and again
for a test module if it lost its sinks): see tests/audio_env.py. Request it before anything
imports sounddevice."""

from __future__ import annotations

import time
from typing import Iterator

import pytest

from audio_env import _session_card, virtual_audio  # noqa: F401
from companion.core.vocabulary import Vocabulary
from companion.storage.library import Library


@pytest.fixture(scope="session")
def vocab() -> Vocabulary:
    """The command vocabulary with the shipped routines' names, as `companion run` has it."""
    return Vocabulary(Library().aliases())


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """"Today", "yesterday" and week starts are local calendar days: pin the zone."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()
