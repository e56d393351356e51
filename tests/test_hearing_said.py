"""Commands as people say them, on recordings in tests/audio/said/:

- with a word around them ("okay, next", "um, pain six", "next, please"): the decoder's
  grammar spells every phrase with the words of vocabulary.LEADS and TRAILS too, so the
  model's own transcript "Okay, next" is a spelling of "next" rather than a phrase that
  trails it;
- a rating in the answerer's words ("about two", "maybe five", "it's a four", "a seven"),
  listened for right after "how is the pain now?" as the bare number is;
- a safety word in a sentence ("it feels sharp", "it's getting numb"), which stops a hold;
- a routine started in a sentence ("start the neck routine", "let's do the neck routine");
- talk that starts so and says no command ("okay then", "maybe later", "it feels good")
  gives nothing, while waiting, in a session and right after the rating question.

espeak-ng phrases over Speech Commands noise (tests/audio/README.md), each chosen far from
the edge (heard the same at 0.999x and 1.001x the level and with one bit of dither). Before
the grammar had these spellings (2026-12-04), 19 of the 22 commands were not heard; "next
please", "it's a four" and "a seven" were (checked at 578ca75)."""

from __future__ import annotations

from pathlib import Path

import pytest

from companion.bench import recognition as bench
from companion.core.vocabulary import normalize
from companion.hearing.files import recognize_file
from companion.hearing.grammar import WRITTEN_AS, TokenGrammar, framed
from fixture_names import label
# The Whisper package skip and the recognizer fixture, as the fixture tests have them.
from test_hearing_recognition import expected, pytestmark, rec  # noqa: F401

HERE = Path(__file__).parent / "audio" / "said"
FILES = sorted(p.name for p in HERE.glob("*.wav"))
COMMANDS = [n for n in FILES if not n.startswith("none__")]
TALK = [n for n in FILES if n.startswith("none__")]


def test_the_folder_has_commands_ratings_and_talk():
    ratings = [n for n in COMMANDS if n.startswith("number-")]
    assert (len(COMMANDS), len(ratings), len(TALK)) == (22, 6, 12)


@pytest.mark.parametrize("name", COMMANDS)
def test_a_command_is_heard_as_said(rec, vocab, name):
    got = recognize_file(rec, vocab, HERE / name, bench.context(vocab, expected(name)))
    assert label(got.intent) == name.split("__")[0]


@pytest.mark.parametrize("moment", ["waiting", "session"])
@pytest.mark.parametrize("name", TALK)
def test_talk_that_starts_like_a_command_is_nothing(rec, vocab, name, moment):
    got = recognize_file(rec, vocab, HERE / name, vocab.phrases_at(moment))
    assert got.intent is None, got


def test_talk_right_after_the_pain_question_is_never_a_rating_logged_unasked(rec, vocab):
    """There a number is lifted, so talk may come out as one; never surely (the loop asks
    "ten?" back and logs it only on a yes), and seldom: the tuned default takes "about the
    time" and "okay then" for ten (the package as published none of the twelve)."""
    heard = {n: recognize_file(rec, vocab, HERE / n, vocab.phrases_at("rating")) for n in TALK}
    taken = {n: got for n, got in heard.items() if got.intent is not None}
    assert all(got.unsure and got.intent.name == "number" for got in taken.values()), taken
    assert len(taken) <= 2, taken



def test_talk_while_the_safety_question_waits_seldom_carries_on(rec, vocab):
    """While the safety question waits, talk taken for a yes would carry on after the pain,
    which is why "okay" and "yeah" are no yes (vocabulary.py). Of the twelve pieces of talk
    at most one is a yes ("the end"; while "okay" and "yeah" were yes words, four were:
    "okay then", "so anyway" and "and then what" too); a "no" ends the session: the safe
    side."""
    allowed = vocab.phrases_at("question")
    heard = {n: recognize_file(rec, vocab, HERE / n, allowed).intent for n in TALK}
    carried_on = [n for n, intent in heard.items() if intent is not None and intent.name == "yes"]
    assert len(carried_on) <= 1, heard


RECORDED_NONE = sorted(p.name for p in (HERE.parent).glob("none__*.wav"))


@pytest.mark.parametrize("name", RECORDED_NONE)
def test_recorded_words_and_talk_never_carry_on_after_a_safety_stop(rec, vocab, name):
    """Real recordings that answer nothing (Speech Commands' "up", "down", "off", noise,
    other words; people's talk), heard while the safety question waits: none is a yes, and
    since yes and no have a floor of their own (WhisperOptions.yes_no_min_mean) none is a
    no either. (While "okay" and "yeah" were yes words, both "up"s and an "off" were one.)"""
    got = recognize_file(rec, vocab, HERE.parent / name, vocab.phrases_at("question"))
    assert got.intent is None, got

def test_every_framed_spelling_means_what_its_phrase_means(vocab):
    # (Not the words as tiny.en writes them, "Step" for "stop": no user says them, and the
    # text parser, which other engines' text goes through, must not take "step" for stop.
    # The trie maps them to their phrase: the next test.)
    written = {w for forms in WRITTEN_AS.values() for w in forms}
    for phrase in vocab.grammar_phrases():
        for spelled in framed(phrase):
            if not written & set(normalize(spelled).split()):
                assert vocab.parse(spelled) == vocab.parse(phrase), spelled
    assert vocab.parse("Step") is None and vocab.parse("next step") == vocab.parse("next")


def test_the_trie_walks_the_frame_around_a_spelling():
    # A stand-in tokenizer (one token per word or mark): the trie's shape, not Whisper's.
    ids: dict[str, int] = {}

    def encode(text: str) -> list[int]:
        words = text.replace(",", " ,").split()
        return [ids.setdefault(w, len(ids)) for w in words]

    g = TokenGrammar(["next", "pain six", "okay"], encode)
    trie = g.trie(["next", "pain six", "okay"])
    at = lambda text: trie.phrase_at(tuple(encode(text)))  # noqa: E731
    assert at(" Okay, next") == "next" and at(" Um pain 6") == "pain six"
    assert at(" Pain six, please") == "pain six" and at(" So next thank you") == "next"
    assert at(" Okay") == "okay" and at(" Okay, okay") == "okay"
    assert at(" Okay,") is None and at(" Next,") is None and at(" Next thank") is None
    assert at(" The") is None and at(" Okay, pain") is None
    # After a lead: a spelling's first tokens and more leads' continuations; after a
    # spelling: the end or a trail.
    assert set(encode(" next")) <= trie.next_tokens(tuple(encode(" Okay,")))
    assert set(encode(",")) <= trie.next_tokens(tuple(encode(" Okay")))
    assert set(encode(" thank")) <= trie.next_tokens(tuple(encode(" Next")))
    assert trie.sequence("next") == tuple(encode(" Next"))  # the plain spelling first
    assert trie.depth == 2  # "pain six": the free pass is not lengthened by the frames


def test_every_framed_spelling_is_its_phrase_in_the_trie(rec, vocab):
    # Whisper's own tokens: a framed spelling's tokens are the frame's and the spelling's,
    # so the trie, which joins them, finds each phrase the model can write so.
    trie = rec.grammar.trie(vocab.grammar_phrases())
    encode = rec.runtime.tokens
    for phrase in vocab.grammar_phrases():
        for spelled in framed(phrase):
            got = trie.phrase_at(tuple(encode(spelled)))
            assert got is not None and vocab.parse(got) == vocab.parse(phrase), spelled
