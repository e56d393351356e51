"""The command table: one source for grammar and parser."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from companion.core.vocabulary import (COMMANDS, INTENT_NAMES, Intent, IntentKind, Vocabulary,
                                      check_commands)

V = Vocabulary({"neck": "neck", "neck and shoulders": "neck", "lower back": "lower_back"})


@pytest.mark.parametrize("text,intent", [
    ("pain six", Intent("pain", 6)),
    ("Pain 6", Intent("pain", 6)),
    ("PAIN SIX.", Intent("pain", 6)),
    ("pain is ten", Intent("pain", 10)),
    ("six", Intent("number", 6)),
    ("0", Intent("number", 0)),
    ("hold longer", Intent("hold_longer")),
    ("hold it longer", Intent("hold_longer")),
    ("hold longer by thirty seconds", Intent("hold_longer", 30)),
    ("hold longer by 30 seconds", Intent("hold_longer", 30)),
    ("shorter", Intent("shorter")),
    ("short", Intent("shorter")),  # what tiny.en often writes for a clipped "shorter"
    ("next", Intent("next")),
    ("go", Intent("resume")),
    ("stop", Intent("stop")),
    ("yes", Intent("yes")),
    ("no", Intent("no")),
    ("how long left", Intent("how_long")),
    ("what's next", Intent("whats_next")),
    ("What’s next?", Intent("whats_next")),
    ("help", Intent("help")),
    ("sharp", Intent("safety", "sharp")),
    ("it's tingling", Intent("safety", "tingling")),
    ("pins and needles", Intent("safety", "tingling")),
    ("start neck routine", Intent("start_routine", "neck")),
    ("start neck and shoulders", Intent("start_routine", "neck")),
    ("begin lower back routine", Intent("start_routine", "lower_back")),
    ("Start the neck routine.", Intent("start_routine", "neck")),
    ("let's do the lower back routine", Intent("start_routine", "lower_back")),
    ("start my neck routine", Intent("start_routine", "neck")),
    ("how am I doing", Intent("how_am_i_doing")),
    ("next please", Intent("next")),
    ("Okay, next.", Intent("next")),        # words said around a command (LEADS, TRAILS)
    ("um, pain six", Intent("pain", 6)),
    ("So stop", Intent("stop")),
    ("The next", Intent("next")),           # how Whisper writes a breath before "next"
    ("okay companion, skip", Intent("skip")),
    ("okay", None),                         # a lead alone: not a yes (vocabulary.py says why)
    ("Okay, thanks.", None),
    ("Yes, thanks.", Intent("yes")),
    ("no thanks", Intent("no")),
    ("yep", Intent("yes")),
    ("about a six", Intent("number", 6)),   # a rating in the answerer's words
    ("maybe an eight", Intent("number", 8)),
    ("It's a 4.", Intent("number", 4)),
])
def test_phrases_parse_to_intents(text, intent):
    assert V.parse(text) == intent


@pytest.mark.parametrize("text", [
    "", "banana", "pain eleven", "pain 11", "eleven", "start cooking", "next next",
    "up", "down", "left", "right", "on", "off", "the pain was bad", "please",
    "um", "the", "so", "okay okay next", "um next please please", "okay then",
    "maybe a eight", "about", "maybe later", "thanks", "start the car", "let's do lunch",
])
def test_unknown_text_is_nothing(text):
    assert V.parse(text) is None


def test_grammar_and_parser_come_from_the_same_table():
    # Every grammar phrase parses back to an intent, and every intent has phrases.
    intents = {V.parse(p).name for p in V.grammar_phrases()}
    assert intents == INTENT_NAMES
    jsgf = V.jsgf()
    for p in V.grammar_phrases():
        assert p in jsgf
    assert all(w.replace("'", "").isalpha() for w in V.words())


@given(st.text(max_size=40))
def test_parser_never_crashes_and_only_returns_table_intents(text):
    got = V.parse(text)
    assert got is None or got.name in INTENT_NAMES


def test_the_table_and_the_intent_kinds_agree():
    check_commands(COMMANDS)  # as at import
    assert {row[0] for row in COMMANDS} == set(IntentKind)
    assert all(isinstance(row[0], IntentKind) for row in COMMANDS)
    with pytest.raises(ValueError, match=r"unknown kinds \['nxt'\]"):
        check_commands(COMMANDS + (("nxt", None, ("nxt",)),))
    with pytest.raises(ValueError, match=r"without phrases \['help'\]"):
        check_commands(tuple(r for r in COMMANDS if r[0] != IntentKind.HELP))


def test_intents_hold_kinds_that_still_read_as_plain_names():
    got = V.parse("pain six")
    assert got.name is IntentKind.PAIN and got == Intent("pain", 6)
    assert got.name == "pain" and json.dumps({"intent": got.name}) == '{"intent": "pain"}'
    assert repr(got) == "Intent(name='pain', value=6)"
    with pytest.raises(ValueError):
        Intent("nxt")  # a misspelt name fails where it is written


def test_each_kind_is_heard_in_the_first_moment_it_makes_sense_in():
    """The benchmark and the loop fixtures hear a command in this moment's phrases."""
    from companion.core.vocabulary import MOMENTS, IntentKind as K, moment_for
    assert {k: moment_for(k) for k in (K.START_ROUTINE, K.HELP, K.NEXT, K.SAFETY, K.PAIN,
                                       K.RESUME, K.NUMBER, K.YES, K.NO, None)} == {
        K.START_ROUTINE: "waiting", K.HELP: "waiting", K.NEXT: "session", K.SAFETY: "session",
        K.PAIN: "session", K.RESUME: "paused", K.NUMBER: "rating", K.YES: "question",
        K.NO: "question", None: "session"}
    assert all(k in MOMENTS[moment_for(k)] for k in K)   # every kind has a moment


def test_a_moment_may_leave_out_a_phrase_of_an_intent_it_listens_for():
    """Just after a stop a resume takes it back, but not a bare "go" (the room's "down" is
    heard as it); while paused "go" resumes as before. What is left out is a real phrase of
    an intent of that moment, so a misspelling in the table cannot pass unnoticed."""
    from companion.core.vocabulary import LEFT_OUT, MOMENTS
    stopped = V.phrases_at("stopped")
    assert "go" not in stopped and {"carry on", "continue", "resume", "keep going"} <= stopped
    assert "start neck" in stopped and "go" in V.phrases_at("paused")
    assert V.phrases_at("session") == V.phrases_for(MOMENTS["session"])
    for moment, phrases in LEFT_OUT.items():
        assert all(V.phrases[p].name in MOMENTS[moment] for p in phrases), moment


def test_the_readme_says_every_kind_of_command():
    """The README's "What you can say" names each row of the command table by its first
    phrase: "louder", "how am I doing" and the routine starts were missing from it while
    the companion listened for them."""
    from pathlib import Path
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    table = readme.split("## What you can say", 1)[1].split("\n## ", 1)[0].lower()
    slots = {"{n}": "six", "{secs}": "thirty", "{safety}": "sharp", "{routine}": "neck"}
    for kind, _value, phrases in COMMANDS:
        first = phrases[0]
        for slot, word in slots.items():
            first = first.replace(slot, word)
        assert first in table, (kind, first)
