"""The second look (WhisperOptions.second_look), on real recordings in tests/audio/second_look/:
a segment rejected by a little is heard again 10 % faster and 10 % slower (each view encoded
afresh, the first decode's best phrases scored on it), and accepted only when both views rank
the same phrase first, both come as close, and one clears the rules.

The recordings are from the benchmark's *dev* half (where the second look was tuned and
these were seen rescued): this shows the mechanism, not accuracy (the README has that).
Each is heard in the context the loop would hear it in, named as in tests/audio/."""

from __future__ import annotations

from pathlib import Path

import pytest

from companion.bench import recognition as bench
from companion.hearing.files import recognize_file
from fixture_names import label, encoder_passes, options_set
# The Whisper package skip and the recognizer fixture, as the fixture tests have them.
from test_hearing_recognition import expected, packaged, pytestmark, rec  # noqa: F401

HERE = Path(__file__).parent / "audio" / "second_look"
# Near misses of the command said. How near is the CPU's to say: CTranslate2's int8 kernels
# differ between CPUs (oneDNN on AMD, MKL on Intel, each by instruction set) and move a
# score by up to 1 (the "help" take: rejected by a little on one machine, accepted outright
# on an AMD EPYC, with either kernel). So each is checked for what holds on any CPU, and
# most of them (all four on the machines they were picked on; three on that EPYC, under
# both kernels) must show the rescue itself.
RESCUED = ["stop__sc-stop-fb7eb481-2.wav",       # freely "start"
           "number-2__fsdd-jackson-4.wav",       # freely "to you", after "rate your pain"
           "help__espeak-en-us-m3-130-20dB.wav",  # freely "killed"
           "number-5__fsdd-nicolas-26.wav"]      # freely "Bye"
MUST_RESCUE = 2  # of RESCUED, at least this many rejected alone and rescued by the look
# Near misses that are not commands: "up" close to "stop", "down" close to "stop" ("D-D-D").
STAY_REJECTED = ["none__sc-up-881583a6-0.wav", "none__sc-down-85d2ac4b-0.wav"]
# Talk from the waiting soak (seed 0, 4407 s: "let's take a quick break and have some tea"
# over its varied noise): tiny.en-tuned rejects "let's do quick break" by a little.
NO_START = "none__soak-talk-seed0-4407s.wav"

def hear(rec, vocab, name: str, second_look: bool) -> tuple[str, int]:
    """(label heard, encoder passes made) for one recording, with or without the look."""
    with encoder_passes(rec) as calls, options_set(
            rec, **({} if second_look else {"second_look": ()})):
        got = recognize_file(rec, vocab, HERE / name, bench.context(vocab, expected(name)))
    return label(got.intent), len(calls)


def test_the_folder_holds_what_the_tests_name():
    assert sorted(p.name for p in HERE.glob("*.wav")) == sorted(RESCUED + STAY_REJECTED
                                                                + [NO_START])


def test_second_look_is_on_by_default(rec):
    assert rec.options.second_look == (0.9, 1.1)


@pytest.mark.parametrize("name", RESCUED)
def test_the_look_hears_what_was_said(rec, vocab, name):
    """Heard as said with the look; when the first decode alone rejected it (a near miss on
    this CPU), it took exactly one more encoder pass per view."""
    want = name.split("__")[0]
    single, single_calls = hear(rec, vocab, name, second_look=False)
    assert single_calls == 1
    got, calls = hear(rec, vocab, name, second_look=True)
    assert got == want, (got, calls)
    if single == "none":
        assert calls == 3  # the segment, then one per view
    else:
        assert single == want and calls == 1  # accepted outright: no look


def test_near_misses_are_rescued_by_the_look(packaged, vocab):
    # Near misses of the package as published, where the look was found; the tuned default
    # takes most of these outright (the next test allows either).
    rescued = [name for name in RESCUED
               if hear(packaged, vocab, name, second_look=False)[0] == "none"
               and hear(packaged, vocab, name, second_look=True)[0] == name.split("__")[0]]
    assert len(rescued) >= MUST_RESCUE, rescued


@pytest.mark.parametrize("name", STAY_REJECTED)
def test_a_near_miss_that_is_no_command_stays_rejected(rec, vocab, name):
    """These come close to "stop" and so get the second look; they stay rejected (the
    views disagree, or agree without either clearing the rules)."""
    got, calls = hear(rec, vocab, name, second_look=True)
    assert got == "none"
    assert calls > 1  # it was looked at again, not rejected outright
    assert hear(rec, vocab, name, second_look=False)[0] == "none"


@pytest.mark.parametrize("name", RESCUED)
def test_a_near_miss_was_ranked_first_before_it_was_rejected(rec, vocab, name):
    """What the benchmark's "ranked first" counts: the model heard it, the rules said no
    (or, where this CPU accepts it outright, said yes)."""
    with options_set(rec, second_look=()):
        got = recognize_file(rec, vocab, HERE / name, bench.context(vocab, expected(name)))
    assert expected(name) in got.ranked, got
    assert got.intent in (None, expected(name)), got


@pytest.mark.parametrize("name, moment, kind", [
    (NO_START, "waiting", "start_routine"),
    ("../question/none__sc-off-a591c2ea-1.wav", "question", "yes")])
def test_the_look_starts_no_routine_and_says_no_yes(vocab, name, moment, kind):
    """A routine's start is not looked at again, as judge() rescues none by its sound: talk
    is what the companion hears all day while it waits, and a session started from it costs
    more than a start said twice. Nor a yes: at the safety question it carries on after the
    pain, where a yes missed is asked for again. With the look allowed to (look_never), the
    tuned model's views took the soak's talk for the desk break (2026-12-07, the waiting
    soak's one start), and both models' took Speech Commands "off" (written "us") for a yes
    to the safety question."""
    from companion.hearing.whisper_engine import WhisperRecognizer
    from companion.hearing.whisper_rules import WhisperOptions

    tuned = WhisperRecognizer(vocab, WhisperOptions(model="tiny.en-tuned"))
    allowed = vocab.phrases_at(moment)
    with encoder_passes(tuned) as calls:
        with options_set(tuned, second_look=()):
            recognize_file(tuned, vocab, HERE / name, allowed)
        segments, calls[:] = len(calls), []  # what is encoded with no look at all
        got = recognize_file(tuned, vocab, HERE / name, allowed)
        assert got.intent is None and any(i.name == kind for i in got.ranked), got
        assert len(calls) == segments  # rejected, and not looked at again
        calls.clear()
        with options_set(tuned, look_never=()):
            looked = recognize_file(tuned, vocab, HERE / name, allowed).intent
        assert len(calls) == segments + 2  # a near miss: one pass per view
    # (the views' verdict is a close call: taken here, on an AMD EPYC)
    assert looked is None or looked.name == kind, looked
