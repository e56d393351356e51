"""The Whisper engine's accept/reject rules (hearing.whisper_rules.verdict), on decodes built
by hand: each rule, and where it stops. No model needed; tests/test_hearing_*.py hear real
recordings through the same rules."""

from __future__ import annotations

from dataclasses import replace

import pytest

from companion.hearing.whisper_rules import Decoded, WhisperOptions, verdict

O = WhisperOptions()
# "stop", heard clearly: one token, free transcript "Stop" (log-probabilities, end included).
CLEAR = Decoded(free_text="Stop", free_score=-0.5, no_speech=0.1, best="stop", best_score=-0.6,
                seconds=0.8, tokens=1)


def accepted(d: Decoded, safety: bool = False, **slack: float) -> bool:
    return verdict(d, O, safety, **slack)[0]


def test_a_clear_command_is_accepted_with_high_confidence():
    ok, conf = verdict(CLEAR, O, False)
    assert ok and conf > 0.9


def test_no_phrase_found_is_rejected():
    assert not accepted(replace(CLEAR, best=""))


def test_the_model_sure_nobody_spoke_rejects():
    assert accepted(replace(CLEAR, no_speech=O.max_no_speech - 0.01))
    assert not accepted(replace(CLEAR, no_speech=O.max_no_speech + 0.01))


def test_an_improbable_phrase_is_rejected_per_token():
    # two positions scored (the token and the end): the floor is per position
    floor = O.min_mean * 2
    assert accepted(replace(CLEAR, best_score=floor + 0.1, free_score=floor + 0.1))
    assert not accepted(replace(CLEAR, best_score=floor - 0.1, free_score=floor - 0.1))


def test_an_answer_asked_for_gets_a_lower_floor():
    floor = O.min_mean * 2
    low = replace(CLEAR, best="six", best_score=floor - 0.5, free_score=floor - 0.5)
    assert not accepted(low)
    assert accepted(replace(low, prior=O.answer_prior))


def test_a_yes_or_no_has_a_floor_of_its_own_lift_or_not():
    """The room's "us" lifted into a yes at -5 (two positions) would carry on after a safety
    stop: a yes or no must average yes_no_min_mean without the lift; a number need not."""
    room = replace(CLEAR, free_text="us", free_score=-5.0, best="yes", best_score=-5.0,
                   prior=O.answer_prior)
    assert accepted(room) and accepted(replace(room, best="six"))
    assert not verdict(room, O, False, yes_no=True)[0]
    said = replace(room, best_score=O.yes_no_min_mean * 2 + 0.1)
    assert verdict(said, O, False, yes_no=True)[0]
    # The second look's slack loosens it as it loosens the floor above.
    assert verdict(room, O, False, mean_slack=O.look_mean, yes_no=True)[0]


def test_a_phrase_trailing_the_free_transcript_by_more_than_the_margin_is_rejected():
    near = replace(CLEAR, free_text="step", best_score=CLEAR.free_score - O.margin + 0.1)
    far = replace(near, best_score=CLEAR.free_score - O.margin - 0.1)
    assert accepted(near) and not accepted(far)


def test_a_safety_word_gets_the_wider_margin():
    d = replace(CLEAR, best="sharp", free_text="shop",
                best_score=CLEAR.free_score - (O.margin + O.safety_margin) / 2)
    assert not accepted(d, safety=False)
    assert accepted(d, safety=True)


def test_an_answer_asked_for_may_trail_by_its_prior_more():
    d = replace(CLEAR, best="six", free_text="sex", best_score=CLEAR.free_score - O.margin - 1)
    assert not accepted(d)
    assert accepted(replace(d, prior=O.answer_prior))


LONG = Decoded(free_text="Star connect routine", free_score=-4.5, no_speech=0.3,
               best="start neck routine", best_score=-4.5 - O.margin - 2.0, seconds=1.6,
               tokens=3)


def test_a_longer_phrase_gets_more_margin_when_the_free_text_shares_a_word():
    assert accepted(LONG)  # margin + 2 tokens past the first x margin_per_token
    widest = O.margin + O.margin_per_token * (LONG.tokens - 1)
    likely = replace(LONG, free_score=-2.0)  # the phrase then clears the floor either way
    assert accepted(replace(likely, best_score=-2.0 - widest + 0.1))
    assert not accepted(replace(likely, best_score=-2.0 - widest - 0.1))
    assert not accepted(replace(LONG, free_text="I'm gonna go"))  # shares no word


def test_shared_words_must_be_real_words_not_fragments():
    # "a", "I", "of": under 3 letters, they say nothing of the phrase being said
    d = replace(LONG, best="what can I say", free_text="I", tokens=4)
    assert not accepted(d)


def test_a_long_phrase_needs_a_likely_free_transcript():
    # over noise the free text is improbable, and a long phrase's average clears the floor
    # (the phrase itself just above the per-token floor, and as likely as the free text)
    best = O.min_mean * (LONG.tokens + 1) + 0.05
    assert accepted(replace(LONG, free_score=O.min_free_multi + 0.1, best_score=best))
    assert not accepted(replace(LONG, free_score=O.min_free_multi - 0.1, best_score=best))


def test_confidence_is_against_the_plain_margin():
    # let through by the per-token widening: heard, but not surely (it trails by 4.5, and
    # confidence reaches 0 at twice the plain margin, not twice the widened one)
    ok, conf = verdict(LONG, O, False)
    assert ok and conf == pytest.approx(1 - (O.margin + 2.0) / (2 * O.margin)) and conf < 0.5
    ok, conf = verdict(replace(LONG, best_score=LONG.free_score - O.margin / 2), O, False)
    assert ok and conf == pytest.approx(0.75)


def test_slack_loosens_each_rule_for_the_second_look():
    floor = O.min_mean * 2
    low = replace(CLEAR, best_score=floor - 0.5, free_score=floor - 0.5)
    assert not accepted(low) and accepted(low, mean_slack=O.look_mean)
    far = replace(CLEAR, free_text="step", best_score=CLEAR.free_score - O.margin - 0.5)
    assert not accepted(far) and accepted(far, gap_slack=O.look_margin)


# "start neck routine" as espeak-ng says it: "neck" is "that" to the model (dev). Four tokens
# and the end; -3.5 per position, under the floor, and trailing the free transcript.
UNNAMED = Decoded(free_text="Start that routine.", free_score=-2.3, no_speech=0.05,
                  best="start neck routine", best_score=-3.5 * 5, seconds=1.6, tokens=4)


def test_a_start_whose_routine_name_was_not_made_out_takes_the_ranked_name():
    from companion.hearing.whisper_rules import name_unheard
    assert not accepted(UNNAMED)  # the rules alone reject it
    assert name_unheard(UNNAMED, O)
    assert name_unheard(replace(UNNAMED, free_text="Star to that routine"), O)
    assert name_unheard(replace(UNNAMED, best="start the neck routine", tokens=5,
                                best_score=-3.0 * 6, free_text="start to that routine"), O)
    # Not when the transcript is framed otherwise: talk that starts so, or ends elsewhere.
    for said in ("Start from the beginning.", "Start my candle for me", "Taught that routine",
                 "I like this routine", "routine"):
        assert not name_unheard(replace(UNNAMED, free_text=said), O), said
    # Nor when the phrase fits too badly, nobody spoke, or it names nothing between.
    assert not name_unheard(replace(UNNAMED, best_score=(O.start_min_mean - 0.1) * 5), O)
    assert not name_unheard(replace(UNNAMED, no_speech=O.max_no_speech + 0.01), O)
    assert not name_unheard(replace(UNNAMED, best="start neck", free_text="Start that"), O)
