"""Talk that begins with a command (tests/audio/talk_after/): someone in the room saying "next
week we're visiting my sister", "next time bring the big one", "back in a minute with the
tea", "help yourself to more cake" while a routine runs. tiny.en writes them as said, and
"next", "back" or "help" was acted on: the phrase fits the start and the sentence's
probability is spread over more words. Now a command whose free transcript runs on into
two or more other words, as a likely sentence, is talk (whisper_rules.talk_after). A command
said alone that the model runs on writes repeats ("Yes, yes, yes") or unlikely words, and
stop, pause and safety words still act in a sentence, as does an answer just asked for."""

from __future__ import annotations

from pathlib import Path

import pytest

from companion.bench import recognition as bench
from companion.core.vocabulary import Intent
from companion.hearing.files import recognize_file
from companion.hearing.whisper_rules import Decoded, WhisperOptions, talk_after
from test_hearing_recognition import packaged, pytestmark, rec  # noqa: F401
from fixture_names import options_set

TALK = sorted((Path(__file__).parent / "audio" / "talk_after").glob("none__*.wav"))
O = WhisperOptions()


def _decoded(free: str, best: str, free_score: float = -1.5, prior: float = 0.0) -> Decoded:
    return Decoded(free_text=free, free_score=free_score, no_speech=0.05, best=best,
                   best_score=-2.0, seconds=1.5, tokens=1, prior=prior)


@pytest.mark.parametrize("free, best", [("Next week we're visiting.", "next"),
                                        ("Okay, next week we're visiting.", "next"),
                                        ("Back in a minute with", "back"),
                                        ("Help yourself to more cake.", "help")])
def test_a_likely_sentence_that_begins_with_a_command_is_talk(free, best):
    assert talk_after(_decoded(free, best), O)
    assert not talk_after(_decoded(free, best, free_score=-9.0), O)  # an unlikely run-on


@pytest.mark.parametrize("free, best", [("Yes, yes, yes", "yes"), ("Go go go go go", "go"),
                                        ("Next please.", "next"), ("next", "next"),
                                        ("Next, thank you.", "next"),
                                        ("Okay companion, back, thank you.", "back"),
                                        ("I think next", "next"),
                                        ("Am I doing am I doing", "how am i doing")])
def test_a_command_said_so_is_not(free, best):
    assert not talk_after(_decoded(free, best), O)


def test_stop_pause_safety_and_asked_answers_act_even_in_a_sentence(rec):
    for free, best in [("Stop, I need to get up.", "stop"),
                       ("Hold on, the phone is ringing.", "hold on"),
                       ("Sharp, it really hurts there.", "sharp")]:
        assert rec.judge(_decoded(free, best)).text == best
    six = _decoded("Six I would say.", "six", prior=O.answer_prior)
    assert rec.judge(six).text == "six"
    assert rec.judge(_decoded("Next week we're visiting.", "next")).text == ""


def test_the_folder_holds_five_pieces_of_talk():
    assert len(TALK) == 5


@pytest.mark.parametrize("path", TALK, ids=lambda p: p.stem)
def test_talk_that_begins_with_a_command_is_nothing_in_a_session(rec, packaged, vocab, path):
    session = bench.context(vocab, None)
    assert recognize_file(rec, vocab, path, session).intent is None
    assert recognize_file(packaged, vocab, path, session).intent is None


def test_without_the_rule_most_of_the_talk_was_a_command(packaged, vocab):
    """The rule at work where it was found, on the package as published (the tuned default
    rejects some of these by the other rules): all five were the command they begin with
    there; on an AMD EPYC's int8 kernels the two "next week..." are rejected without it."""
    session = bench.context(vocab, None)
    with options_set(packaged, talk_words=99):
        got = {p.name: recognize_file(packaged, vocab, p, session).intent for p in TALK}
    begun = [n for n, i in got.items()
             if i is not None and i.name.value in n.split("__")[1].split("-")[1]]
    assert len(begun) >= 3 and all(i is None or n in begun for n, i in got.items()), got


def test_a_command_said_alone_is_still_heard(rec, vocab):
    """The project's single commands in a session (the fixture test holds them all)."""
    audio = Path(__file__).parent / "audio"
    for name in ("stop__sc-stop-0.wav", "next__espeak-en-us-f2-130-10dB.wav",
                 "back__espeak-en-us-f3-130-20dB.wav"):
        want = Intent(name.split("__")[0])
        assert recognize_file(rec, vocab, audio / name, bench.context(vocab, want)).intent \
            == want, name
