"""Phrases of several words (WhisperOptions.length_penalty, margin_per_token, min_free_multi),
on recordings in tests/audio/long_phrases/:

- ranked by log-probability per token, as Whisper's own ranker does, a longer phrase that
  fits but for one word beats a short one that fits badly ("Hold on to my 30" was "hold on",
  a pause, and is now "hold longer by thirty seconds");
- a phrase of several words may trail the free transcript by more, one margin step per
  token, when the transcript shares a word with it ("Star connect routine");
- but over noise, whose free transcript is improbable, no phrase of several words is taken
  (an 8-hour soak heard "what can I say" in this very stretch of noise).

The espeak-ng phrases (10-20 dB Speech Commands noise) are from the benchmark's dev half,
where these settings were chosen: this shows the mechanism, not accuracy (the README has
that). Each was chosen far from the edge: heard the same at 0.999x and 1.001x the level
and with one bit of dither, old settings and new (int8 inference turns last-bit changes of
the input into score changes of up to 0.5; a file at the edge flips between machines). The noise is 3 s of `companion bench soak`'s seed-0 stream (Speech Commands
background noise, CC BY 4.0). Names as in tests/audio/."""

from __future__ import annotations

from pathlib import Path

import pytest

from companion.bench import recognition as bench
from companion.core.vocabulary import WAITING_INTENTS
from companion.hearing.files import recognize_file
from fixture_names import label, options_set
# The Whisper package skip and the recognizer fixture, as the fixture tests have them.
from test_hearing_recognition import expected, packaged, pytestmark, rec  # noqa: F401

HERE = Path(__file__).parent / "audio" / "long_phrases"
HEARD_NOW = ["start_routine-neck__espeak-en-us-m3-175-10dB.wav",   # freely "Start at routine"
             "how_am_i_doing__espeak-en-us-m3-130-10dB.wav",       # freely "my doing"
             "pain-3__espeak-en-gb-m1-130-20dB.wav",               # freely "10 level 3"
             "safety-sharp__espeak-en-gb-m1-130-10dB.wav",         # freely "It's not free"
             "hold_longer-30__espeak-en-gb-m1-175-20dB.wav"]       # freely "Hold on to my 30"
NOISE = "none__soak-varied-noise-seed0-4676s.wav"                  # freely "I'm gonna go"

def hear(rec, vocab, name: str, **options) -> str:
    """The label heard for one recording, in the context the loop would hear it in (the
    noise as the soak heard it: waiting for a start), with some options changed."""
    context = (vocab.phrases_for(WAITING_INTENTS) if name == NOISE
               else bench.context(vocab, expected(name)))
    with options_set(rec, **options):
        return label(recognize_file(rec, vocab, HERE / name, context).intent)


def test_the_folder_holds_what_the_tests_name():
    assert sorted(p.name for p in HERE.glob("*.wav")) == sorted(HEARD_NOW + [NOISE])


@pytest.mark.parametrize("name", HEARD_NOW)
def test_a_phrase_of_several_words_is_heard(rec, packaged, vocab, name):
    assert hear(rec, vocab, name) == name.split("__")[0]
    assert hear(packaged, vocab, name) == name.split("__")[0]


def test_without_the_mechanism_most_were_missed(packaged, vocab):
    """The mechanism at work where it was found, on the package as published (the tuned
    default hears some of these without it): ranked by the sum of log-probabilities with
    the plain margin, as before, they were missed or (the hold) taken for another command.
    (Nor taken for sounding like the transcript: that rule came later, and "pain three"
    ranked by the sum is rescued by it.) All five on the machine they were chosen on; one
    is a close call on another CPU's int8 kernels (an AMD EPYC hears the neck routine's
    start without it), so most, not each."""
    missed = [n for n in HEARD_NOW if hear(packaged, vocab, n, length_penalty=0.0,
                                           margin_per_token=0.0, alike_max=-1.0)
              != n.split("__")[0]]
    assert len(missed) >= len(HEARD_NOW) - 1, missed


def test_noise_gives_no_phrase_of_several_words(rec, vocab):
    assert hear(rec, vocab, NOISE) == "none"
    # Without the floor on the free transcript a long phrase clears the per-token floor.
    assert hear(rec, vocab, NOISE, min_free_multi=-1e9) != "none"
