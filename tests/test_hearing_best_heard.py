"""The phrases the companion teaches (vocabulary.TAUGHT: "wait", "continue", "more time",
"let's do neck"...), on recordings in tests/audio/best_heard/: espeak-ng over Speech Commands
noise, two voices each, heard through the real recognizer at the moment each is said. The
cues tell the user to say these, so each must be heard as what the cue says it does
(`companion bench phrases` measures how often: 520 of 540 renders)."""

from __future__ import annotations

from pathlib import Path

import pytest

from companion.bench import recognition as bench
from companion.core.vocabulary import TAUGHT, normalize
from companion.hearing.files import recognize_file
from fixture_names import label
from test_hearing_recognition import expected, pytestmark, rec  # noqa: F401

HERE = Path(__file__).parent / "audio" / "best_heard"
FILES = sorted(p.name for p in HERE.glob("*.wav"))


def test_every_phrase_taught_in_place_of_a_plain_word_has_two_voices_here():
    said = [n.split("__espeak-")[1].rsplit("-en-", 1)[0].replace("-", " ") for n in FILES]
    plain = {"next", "back", "repeat", "stop", "whats next", "help", "yes", "no",
             "how am i doing", "speak up", "too loud"}  # heard in other folders' tests
    taught = {normalize(p.format(routine="neck", n="six")).replace("'", "")
              for p in TAUGHT.values()}
    assert set(said) >= taught - plain
    assert all(said.count(p) == 2 for p in set(said))


@pytest.mark.parametrize("name", FILES)
def test_a_taught_phrase_is_heard_as_the_cue_says(rec, vocab, name):
    got = recognize_file(rec, vocab, HERE / name, bench.context(vocab, expected(name)))
    assert label(got.intent) == name.split("__")[0], got
