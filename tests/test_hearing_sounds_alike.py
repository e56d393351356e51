"""Commands whose free transcript spells their sound as other words, word for word
(tests/audio/sounds_alike/): two Speech Commands "five"s written "file", espeak-ng's "that's
numb" written "That's um...", "stop session" written "Top Session", "repeat that" written
"repeat now", "hold longer by thirty seconds" written "Oh longer my 30 seconds" (four of the
benchmark's dev speakers and voices, where the rule was chosen, two of its test ones). The
ranking put the phrase said first each time, but it trailed the transcript: the rules alone
rejected all six. Spelled as sounds (espeak-ng's phonemes, hearing/sounds.py) the two lie a
sound or two apart, and the phrase is taken (whisper_rules.sounds_alike). "on" said after
the rating question is not a rating: it is a third of its sounds from "one". Talk around a
phrase is not the phrase: "Let's take a quick break" is not "let's do quick break"."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from companion.bench import recognition as bench
from companion.core.vocabulary import normalize
from companion.hearing import sounds
from companion.hearing.files import recognize_file
from companion.hearing.sounds import phonemes, sound_distance
from companion.hearing.whisper_rules import Decoded, WhisperOptions, sounds_alike
from test_hearing_recognition import expected, pytestmark, rec  # noqa: F401

HERE = Path(__file__).parent / "audio"
ALIKE = sorted((HERE / "sounds_alike").glob("*.wav"))
NEGATIVES = sorted(HERE.glob("none__*.wav"))
O = WhisperOptions()

needs_espeak = pytest.mark.skipif(not sounds._espeak(),
                                   reason="espeak-ng is not installed (scripts/setup.sh "
                                          "installs it)")


@needs_espeak
def test_words_spelled_apart_that_sound_the_same_have_the_same_sounds():
    assert phonemes("four") == phonemes("for") != ()
    assert phonemes("Gold longer!") == phonemes("gold longer")  # marks and case are not sounds


@needs_espeak
@pytest.mark.parametrize("said, phrase", [("Gold longer", "hold longer"),
                                          ("That's um...", "that's numb"),
                                          ("Top Session", "stop session"),
                                          ("file", "five")])
def test_misspelled_commands_lie_within_the_limit(said, phrase):
    assert sound_distance(said, phrase) <= O.alike_max


@needs_espeak
@pytest.mark.parametrize("said, phrase", [("on", "one"), ("Please", "three"), ("up", "stop"),
                                          ("time", "more time"), ("Next sum", "next step")])
def test_other_words_lie_beyond_it(said, phrase):
    assert sound_distance(said, phrase) > O.alike_max


def test_without_espeak_nothing_sounds_alike(monkeypatch):
    """The fault: espeak-ng missing. Then no transcript is alike any phrase (the rule is
    off), rather than an error in the middle of a session."""
    monkeypatch.setattr(sounds, "_espeak", lambda: "")
    sounds.phonemes.cache_clear()
    try:
        assert phonemes("five") == ()
        assert sound_distance("five", "five") == 1.0
    finally:
        sounds.phonemes.cache_clear()


def _decoded(free: str, best: str, mean: float, tokens: int = 2, no_speech: float = 0.05,
             prior: float = 0.0) -> Decoded:
    return Decoded(free_text=free, free_score=-1.0, no_speech=no_speech, best=best,
                   best_score=mean * (tokens + 1), seconds=1.0, tokens=tokens, prior=prior)


def test_the_rule_asks_for_sounds_only_of_a_phrase_that_fits():
    asked: list[tuple[str, str]] = []

    def distance(said: str, phrase: str) -> float:
        asked.append((said, phrase))
        return 0.1

    assert sounds_alike(_decoded("Gold longer", "hold longer", -3.0), distance, O)
    assert not sounds_alike(_decoded("Gold longer", "hold longer", -3.6), distance, O)
    assert not sounds_alike(_decoded("Gold longer", "hold longer", -3.0, no_speech=0.95),
                            distance, O)
    assert not sounds_alike(_decoded("", "hold longer", -3.0), distance, O)
    assert not sounds_alike(_decoded("Gold longer", "", -3.0), distance, O)
    assert len(asked) == 1  # espeak-ng runs only for the one that could be taken
    # An answer asked for gets its floor's lift here too.
    assert sounds_alike(_decoded("file", "five", -3.8, tokens=1, prior=O.answer_prior),
                        distance, O)
    assert not sounds_alike(_decoded("file", "five", -3.8, tokens=1), distance, O)
    assert not sounds_alike(_decoded("on", "one", -2.0, tokens=1), lambda a, b: 0.33, O)


def test_talk_around_a_phrase_is_not_the_phrase():
    """Word for word only: talk over tea that starts the desk break if a few sounds apart
    were enough (the soak's "Let's take a quick break", 0.28 from "let's do quick break"),
    and "Oh longer" is two words, not "longer"."""
    near = lambda a, b: 0.1  # noqa: E731
    assert not sounds_alike(_decoded("Let's take a quick break.", "let's do quick break",
                                     -3.0, tokens=5), near, O)
    assert not sounds_alike(_decoded("Oh longer", "longer", -3.0, tokens=1), near, O)
    assert sounds_alike(_decoded("Oh longer my 30 seconds.", "hold longer by thirty seconds",
                                 -2.3, tokens=6), near, O)  # "30" is one word, "thirty"


def test_the_folder_holds_six_commands():
    assert len(ALIKE) == 6


@needs_espeak
@pytest.mark.parametrize("path", ALIKE, ids=lambda p: p.stem)
def test_a_command_spelled_as_other_words_is_acted_on(rec, vocab, path):
    want = expected(path.name)
    got = recognize_file(rec, vocab, path, bench.context(vocab, want))
    assert got.intent == want, got
    assert normalize(got.heard) != normalize(got.text), got  # the transcript spelled it so
    # ... and without the rule the same recording is rejected.
    keep = rec.options
    rec.options = replace(keep, alike_max=-1.0)
    try:
        assert recognize_file(rec, vocab, path, bench.context(vocab, want)).intent is None
    finally:
        rec.options = keep


@needs_espeak
def test_no_negative_recording_is_acted_on_in_a_session(rec, vocab):
    heard = {p.name: recognize_file(rec, vocab, p, bench.context(vocab, None)).intent
             for p in NEGATIVES}
    assert len(heard) >= 20 and all(i is None for i in heard.values()), heard


@needs_espeak
def test_after_the_rating_question_the_rule_makes_no_word_a_rating(rec, vocab):
    """Right after "how is the pain now?" the project's negatives come out as they do
    without the rule: "on" is a third of its sounds from "one", beyond the limit. (Its two
    "on"s are taken for "one" there by the rules themselves, as 17 % of dev's negatives are:
    the hearing README's "Noticed"; a rating confirmed aloud and put right by saying it.)"""
    rating = bench.context(vocab, expected("number-5__x.wav"))
    assert sum("-on-" in p.name for p in NEGATIVES) >= 2
    with_rule = [recognize_file(rec, vocab, p, rating).intent for p in NEGATIVES]
    keep = rec.options
    rec.options = replace(keep, alike_max=-1.0)
    try:
        without = [recognize_file(rec, vocab, p, rating).intent for p in NEGATIVES]
    finally:
        rec.options = keep
    assert with_rule == without
