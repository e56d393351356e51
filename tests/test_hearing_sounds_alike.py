"""Commands whose free transcript spells their sound as other words, word for word, each word
a sound from the phrase's (tests/audio/sounds_alike/): two Speech Commands "five"s written
"file", espeak-ng's "that's numb" written "That's um..." (two renders), "stop session"
written "Top Session" (three of the benchmark's dev speakers and voices, where the rule was
chosen, two of its test ones). The ranking put the phrase said first each time, but it
trailed the transcript: the rules alone rejected all five. Spelled as sounds (espeak-ng's
phonemes, hearing/sounds.py) they are taken (whisper_rules.sounds_alike).

And talk that only rhymes with a phrase is not it: "it's going well" (three sounds from
"it's going numb" in its last word), "maybe not" after the rating question (two from "maybe
eight"), "hold it" (two from "hold on"). Each of those five renders was acted on when the
limit was on the whole phrase alone (0.3 edits per sound); with one sound a word, nothing.
"on" said after the rating question is one sound from "one" but a third of it: not a
rating. Routine starts are never taken by sound ("start the car", "start the calf")."""

from __future__ import annotations

from pathlib import Path

import pytest

from companion.bench import recognition as bench
from companion.core.vocabulary import normalize
from companion.hearing import sounds
from companion.hearing.files import recognize_file
from companion.hearing.sounds import APART, alike, word_sounds
from companion.hearing.whisper_rules import (Decoded, WhisperOptions, near_enough,
                                             sounds_alike, spelled_as_command)
from test_hearing_recognition import expected, packaged, pytestmark, rec  # noqa: F401
from fixture_names import options_set

HERE = Path(__file__).parent / "audio"
FOLDER = HERE / "sounds_alike"
COMMANDS = sorted(p for p in FOLDER.glob("*.wav") if not p.name.startswith("none__"))
RHYMES = sorted(FOLDER.glob("none__*.wav"))
NEGATIVES = sorted(HERE.glob("none__*.wav"))
O = WhisperOptions()

needs_espeak = pytest.mark.skipif(not sounds._espeak(),
                                   reason="espeak-ng is not installed (scripts/setup.sh "
                                          "installs it)")


def within(said: str, phrase: str) -> bool:
    return near_enough(*alike(said, phrase), O)


@needs_espeak
def test_each_word_has_its_own_sounds_and_spelling_is_not_a_sound():
    assert word_sounds("four") == word_sounds("for") != ()
    assert word_sounds("Gold longer!") == word_sounds("gold longer")
    assert len(word_sounds("seven out of ten")) == 4  # in a sentence espeak-ng joins "out of"
    assert word_sounds("hold longer by 30 seconds") == word_sounds(
        "hold longer by thirty seconds")


@needs_espeak
@pytest.mark.parametrize("said, phrase", [("That's um...", "that's numb"),
                                          ("Top Session", "stop session"), ("file", "five"),
                                          ("Gold longer", "hold longer")])
def test_a_command_spelled_as_other_words_is_within_the_limits(said, phrase):
    assert within(said, phrase)


@needs_espeak
@pytest.mark.parametrize("said, phrase", [
    ("on", "one"),                            # one sound, but a third of them
    ("it's going well", "it's going numb"),   # every sound of its last word
    ("maybe not", "maybe eight"), ("hold it", "hold on"), ("about time", "about nine"),
    ("Please", "three"), ("repeat now", "repeat that"),
    ("Let's take a quick break", "let's do quick break")])  # not as many words
def test_talk_that_rhymes_with_a_phrase_is_beyond_them(said, phrase):
    assert not within(said, phrase)


def test_without_espeak_nothing_sounds_alike(monkeypatch):
    """The fault: espeak-ng missing. Then no transcript is alike any phrase (the rule is
    off), rather than an error in the middle of a session."""
    monkeypatch.setattr(sounds, "_espeak", lambda: "")
    sounds.forget()
    assert word_sounds("five") == ()
    assert alike("five", "five") == APART


@needs_espeak
def test_a_word_is_spelled_once_however_often_it_is_heard(monkeypatch):
    sounds.forget()
    runs: list[int] = []
    spell = sounds._spell
    monkeypatch.setattr(sounds, "_spell", lambda words: runs.append(len(words)) or spell(words))
    first = word_sounds("Top Session")
    assert word_sounds("stop session")[1] == first[1] and word_sounds("top") == first[:1]
    assert runs == [2, 1]  # "top", "session"; then "stop" alone


def _decoded(free: str, best: str, mean: float, tokens: int = 2, no_speech: float = 0.05,
             prior: float = 0.0) -> Decoded:
    return Decoded(free_text=free, free_score=-1.0, no_speech=no_speech, best=best,
                   best_score=mean * (tokens + 1), seconds=1.0, tokens=tokens, prior=prior)


def test_the_rule_asks_for_sounds_only_of_a_phrase_that_fits_word_for_word():
    asked: list[tuple[str, str]] = []

    def near(said: str, phrase: str) -> tuple[float, int]:
        asked.append((said, phrase))
        return 0.1, 1

    assert sounds_alike(_decoded("Top Session", "stop session", -3.0), near, O)
    assert not sounds_alike(_decoded("Top Session", "stop session", -3.6), near, O)
    assert not sounds_alike(_decoded("Top Session", "stop session", -3.0, no_speech=0.95),
                            near, O)
    assert not sounds_alike(_decoded("", "stop session", -3.0), near, O)
    assert not sounds_alike(_decoded("Top", "", -3.0), near, O)
    assert not sounds_alike(_decoded("Let's take a quick break.", "let's do quick break",
                                     -3.0, tokens=5), near, O)  # talk around a phrase
    assert len(asked) == 1  # espeak-ng runs only for the one that could be taken
    # An answer asked for gets its floor's lift here too.
    assert sounds_alike(_decoded("file", "five", -3.8, tokens=1, prior=O.answer_prior),
                        near, O)
    assert not sounds_alike(_decoded("file", "five", -3.8, tokens=1), near, O)
    # Both limits: over all the sounds, and in every word.
    assert not sounds_alike(_decoded("on", "one", -2.0, tokens=1), lambda a, b: (0.33, 1), O)
    assert not sounds_alike(_decoded("it's going well", "it's going numb", -2.0),
                            lambda a, b: (0.27, 3), O)


def test_a_routine_start_is_never_taken_by_its_sound(rec):
    """While waiting the companion hears talk all day; a start is taken only as the rules
    (or a start whose name alone was missed) allow."""
    car = Decoded(free_text="Start the car.", free_score=-2.0, no_speech=0.05,
                  best="start the calf", best_score=-3.0 * 5, seconds=1.5, tokens=4)
    assert within(car.free_text, car.best)  # a sound apart...
    assert rec.judge(car).text == ""        # ... and still nothing


def test_the_folder_holds_five_commands_and_five_rhymes():
    assert len(COMMANDS) == 5 and len(RHYMES) == 5


@needs_espeak
@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: p.stem)
def test_a_command_spelled_as_other_words_is_acted_on(rec, packaged, vocab, path):
    want = expected(path.name)
    assert recognize_file(rec, vocab, path, bench.context(vocab, want)).intent == want
    got = recognize_file(packaged, vocab, path, bench.context(vocab, want))
    assert got.intent == want, got
    assert normalize(got.heard) != normalize(got.text), got  # the transcript spelled it so


@needs_espeak
def test_without_the_rule_most_were_rejected(packaged, vocab):
    """The rule at work where it was found, on the package as published (the tuned default
    takes some of these by the rules alone): without it all five were rejected there; on
    an AMD EPYC's int8 kernels one "five" is taken by the rules too (and asked back)."""
    with options_set(packaged, alike_max=-1.0):
        taken = [p.name for p in COMMANDS if recognize_file(
            packaged, vocab, p, bench.context(vocab, expected(p.name))).intent is not None]
    assert len(taken) <= 1, taken


@needs_espeak
@pytest.mark.parametrize("path", RHYMES, ids=lambda p: p.stem)
def test_talk_that_rhymes_with_a_phrase_is_nothing(rec, packaged, vocab, path):
    """Heard where the phrase it rhymes with would be said: "maybe not" right after the
    rating question, the rest in a session. The tuned default may take "maybe not" for a
    rating by the rules alone, never surely: it asks "eight?" back and logs only on a yes."""
    moment = expected("number-5__x.wav") if "maybe-not" in path.name else None
    context = bench.context(vocab, moment)
    got = recognize_file(rec, vocab, path, context)
    assert got.intent is None or (moment is not None and got.unsure), got
    assert recognize_file(packaged, vocab, path, context).intent is None
    with options_set(packaged, alike_word_edits=99):  # a limit on the whole phrase alone
        assert recognize_file(packaged, vocab, path, context).intent is not None  # took each


@needs_espeak
def test_no_negative_recording_is_acted_on_in_a_session(rec, vocab):
    heard = {p.name: recognize_file(rec, vocab, p, bench.context(vocab, None)).intent
             for p in NEGATIVES}
    assert len(heard) >= 20 and all(i is None for i in heard.values()), heard


@needs_espeak
def test_after_the_rating_question_the_rule_makes_no_word_a_rating(rec, vocab):
    """Right after "how is the pain now?" the project's negatives come out as they do
    without the rule. (Its two "on"s are taken for "one" there by the rules themselves, as
    17 % of dev's negatives are: the hearing README's "Noticed"; a rating confirmed aloud
    and put right by saying it.)"""
    rating = bench.context(vocab, expected("number-5__x.wav"))
    assert sum("-on-" in p.name for p in NEGATIVES) >= 2
    with_rule = [recognize_file(rec, vocab, p, rating).intent for p in NEGATIVES]
    with options_set(rec, alike_max=-1.0):
        without = [recognize_file(rec, vocab, p, rating).intent for p in NEGATIVES]
    assert with_rule == without


@needs_espeak
def test_an_answer_whose_transcript_is_the_sound_of_a_command_is_that_command(vocab):
    """Right after the pain question a number is lifted; the model's own "2 loud" is still
    "too loud", and "Volume Town" "volume down" (whisper_rules.spelled_as_command, with the
    real espeak-ng sounds). A transcript of one word stays the number it was ranked: "Wait"
    for eight is no pause."""
    commands = vocab.phrases_at("rating") - vocab.phrases_for({"number", "pain", "yes", "no"})
    lifted = dict(tokens=1, prior=O.answer_prior)
    assert spelled_as_command(_decoded("2 loud", "two", -1.0, **lifted), commands, alike,
                              O) == "too loud"
    assert spelled_as_command(_decoded("Volume Town", "one", -3.8, **lifted), commands,
                              alike, O) == "volume down"
    assert spelled_as_command(_decoded("Wait", "eight", -1.0, **lifted), commands, alike,
                              O) == ""
    assert spelled_as_command(_decoded("So, two...", "two", -1.0, **lifted), commands,
                              alike, O) == ""   # "so two" is no command's sound
