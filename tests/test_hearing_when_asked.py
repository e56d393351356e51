"""Commands said just as "how is the pain now?" is asked (tests/audio/when_asked/, espeak-ng
renders through the real recognizer). A bare number is listened for then and lifted above
the rest, since it is the likelier thing said, and the lift made numbers of commands the
model heard as well as any ("stop" written "It's time" became "it's ten", "help" written
"Tell" became "ten") or ranked a rejected number over a command that would have passed:
each of these was a rating or nothing. An answer ranked first by its lift now gives way to
the best command ranked below it that passes the rules on its own."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from companion.core.vocabulary import RATING_INTENTS
from companion.hearing.files import recognize_file
from companion.hearing.whisper_engine import WhisperRecognizer
from companion.hearing.whisper_rules import WhisperOptions
# The Whisper package skip and the recognizer fixture, as the fixture tests have them.
from test_hearing_recognition import expected, pytestmark, rec  # noqa: F401

HERE = Path(__file__).parent / "audio" / "when_asked"
FILES = sorted(HERE.glob("*.wav"))


def test_the_folder_holds_seven_commands():
    assert len(FILES) == 7 and all(expected(p.name) is not None for p in FILES)


@pytest.fixture(scope="module")
def heard(rec, vocab) -> dict[str, object]:
    asked = vocab.phrases_at("rating")
    return {p.name: recognize_file(rec, vocab, p, asked).intent for p in FILES}


def test_a_command_said_as_a_rating_is_asked_is_that_command(heard):
    rated = {n: got for n, got in heard.items()
             if got is not None and got.name in RATING_INTENTS}
    assert not rated, rated
    right = [n for n, got in heard.items() if got == expected(n)]
    assert len(right) >= len(FILES) - 1, heard  # one may differ on another CPU's kernels


def test_without_giving_way_the_lift_rated_or_lost_them(vocab):
    """The same files with the answer's lift as it was: what the test above guards against
    (on the package as published, where it was found; the tuned default loses fewer)."""
    old = WhisperRecognizer(vocab, WhisperOptions(model="tiny.en", answers_yield=False))
    asked = vocab.phrases_at("rating")
    got = {p.name: recognize_file(old, vocab, p, asked).intent for p in FILES}
    assert sum(g == expected(n) for n, g in got.items()) <= 2, got
    assert any(g is not None and g.name in RATING_INTENTS for g in got.values()), got


def test_a_number_the_model_did_not_write_is_marked_to_be_asked_back(rec, vocab):
    """Speech Commands' "on" is written "on" by tiny.en (or "or", on other CPUs' kernels),
    and right after the question the lift makes it "one": taken, but marked unsure, so the
    loop asks it back. Numbers the model wrote ("1", "9") are sure."""
    audio = HERE.parent
    asked = vocab.phrases_at("rating")
    taken = 0
    for name in ("none__sc-on-0.wav", "none__sc-on-1.wav"):
        got = recognize_file(rec, vocab, audio / name, asked)
        assert got.heard and vocab.parse(got.heard) is None, got  # the model wrote no number
        if got.intent is not None:  # (one of them is a close call: kernels decide)
            assert (got.intent, got.unsure) == (expected("number-1__x"), True), got
            taken += 1
    assert taken >= 1
    # (FSDD's Belgian "six" is written "six" here, "two" under MKL's kernels: not used)
    for name in ("number-1__fsdd-jackson.wav", "number-9__fsdd-jackson.wav"):
        got = recognize_file(rec, vocab, audio / name, asked, 0.5)
        assert got.intent == expected(name) and not got.unsure, got
