"""Just after "stop" the companion listens for a resume as well as a start: talk in the room
heard as "stop" ends a session now and then, and "carry on" (which the stop cue offers) takes
it back (engine.UNDO_STOP_S). The resume recordings of tests/audio (Speech Commands "go"s of
test speakers, espeak-ng's "keep going") and three espeak-ng "carry on"s in tests/audio/stopped/
are heard as a resume then, and as nothing while waiting, where a resume means nothing; every
recording that says no command (Speech Commands' other words and noise, talk, rhyming talk)
is nothing then too, so the room seldom takes back a stop the user meant (measured: `companion
bench soak --during stopped`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from companion.core.vocabulary import MOMENTS
from companion.hearing.files import recognize_file
from fixture_names import label
from test_hearing_recognition import pytestmark, rec  # noqa: F401

AUDIO = Path(__file__).parent / "audio"
RESUMES = sorted(AUDIO.glob("resume__*.wav")) + sorted((AUDIO / "stopped").glob("*.wav"))
NONE = sorted(AUDIO.glob("none__*.wav")) + sorted(AUDIO.glob("*/none__*.wav"))


def test_the_folders_hold_resumes_and_talk():
    assert len(RESUMES) == 8 and len(NONE) >= 40
    assert all(p.name.startswith("resume__") for p in RESUMES)


@pytest.mark.parametrize("path", RESUMES, ids=lambda p: p.name)
def test_a_resume_is_heard_just_after_a_stop_and_not_while_waiting(rec, vocab, path):
    got = recognize_file(rec, vocab, path, vocab.phrases_for(MOMENTS["stopped"]))
    assert label(got.intent) == "resume", got
    waiting = recognize_file(rec, vocab, path, vocab.phrases_for(MOMENTS["waiting"]))
    assert waiting.intent is None, waiting


@pytest.mark.parametrize("path", NONE, ids=lambda p: str(p.relative_to(AUDIO)))
def test_no_command_said_is_nothing_just_after_a_stop(rec, vocab, path):
    got = recognize_file(rec, vocab, path, vocab.phrases_for(MOMENTS["stopped"]))
    assert got.intent is None, got
