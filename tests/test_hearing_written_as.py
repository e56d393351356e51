"""Words as tiny.en writes them (tests/audio/written_as/): four Speech Commands "stop"s that
the model writes "step", "stuff" or "the staff" (two of the benchmark's dev speakers, where
the spellings were chosen, two of its test speakers). Said alone in a session they are
stops: the grammar spells "stop" those ways too (grammar.word_forms), so the phrase the
free transcript says is on offer. Before, each was rejected: "stop" trailed the transcript.
And the negatives of tests/audio (words, noise, talk) still give nothing: none of them is
written so."""

from __future__ import annotations

from pathlib import Path

import pytest

from companion.bench import recognition as bench
from companion.core.vocabulary import Intent
from companion.hearing.files import recognize_file
from companion.hearing.grammar import renderings
# The Whisper package skip and the recognizer fixture, as the fixture tests have them.
from test_hearing_recognition import pytestmark, rec  # noqa: F401

HERE = Path(__file__).parent / "audio" / "written_as"
STOPS = sorted(HERE.glob("stop__*.wav"))
NEGATIVES = sorted((HERE.parent).glob("none__*.wav"))


def test_the_folder_holds_four_stops():
    assert len(STOPS) == 4


def test_stop_is_spelled_as_the_model_writes_it_and_nothing_else_is():
    assert {" Step", " step", " Stuff", " Staff"} <= set(renderings("stop"))
    assert {" Stop session", " Step session"} <= set(renderings("stop session"))
    assert renderings("next step") == [" Next step", " next step"]  # the word, not "stop"


@pytest.mark.parametrize("path", STOPS, ids=lambda p: p.stem)
def test_a_stop_written_as_another_word_is_acted_on_as_stop(rec, vocab, path):
    got = recognize_file(rec, vocab, path, bench.context(vocab, Intent("stop")))
    assert got.intent == Intent("stop"), got
    words = got.heard.lower().replace(",", "").split()
    assert {"step", "stuff", "staff"} & set(words), got.heard  # why it needs the spellings


def test_no_negative_recording_is_heard_as_a_stop(rec, vocab):
    heard = [recognize_file(rec, vocab, p, bench.context(vocab, None)).intent
             for p in NEGATIVES]
    assert len(NEGATIVES) >= 20
    assert Intent("stop") not in heard
