"""The session engine on a manual clock: whole routines in milliseconds."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from companion.core import cues
from companion.core.clock import ManualClock
from companion.core.engine import PAUSE_END_S, PAUSE_REMIND_S, UNDO_STOP_S, Session
from companion.core.events import (Cue, HoldChanged, PainLogged, RatingAsked, Resumed,
                                   SafetyStop, SessionEnded, StepEnded, StepStarted, TakenBack)
from companion.core.rating import CORRECT_WITHIN_S, RATE_OPEN_S
from companion.storage.library import Library, parse_routine
from companion.core.vocabulary import (ANSWER_INTENTS, INTENT_NAMES, LOUDNESS_INTENTS,
                                      SESSION_INTENTS, WAITING_INTENTS, Intent, IntentKind)
K = IntentKind

LIB = Library()

SMALL = parse_routine("""
name: tiny
title: Tiny test routine
aliases: [tiny]
areas: [neck]
tool: tennis_ball
steps:
  - kind: position
    cue: Place the ball.
    duration_s: 10
  - kind: repeat
    label: knot
    times: 2
    rest_s: 60
    steps:
      - kind: hold
        label: knot
        cue: Hold and breathe.
        hold_s: 40
        breaths: 4
        max_hold_s: 90
      - kind: release
        cue: Let go.
  - kind: stretch
    stretch_s: 30
    cue: Stretch gently.
""", "tiny.yaml")


def run_until(session: Session, clock: ManualClock, t: float, step: float = 0.5) -> list:
    out = []
    while clock.now() < t and not session.ended:
        clock.advance(step)
        out += session.tick()
    return out


def of(events, kind):
    return [e for e in events if isinstance(e, kind)]


def test_whole_routine_runs_to_completion_on_its_own():
    clock = ManualClock()
    s = Session(SMALL, clock)
    events = s.start() + run_until(s, clock, 10_000)
    assert s.ended == "completed"
    assert of(events, SessionEnded)[0].at == SMALL.duration_s
    kinds = [e.kind for e in of(events, StepStarted)]
    assert kinds == ["position", "hold", "release", "rest", "hold", "release", "stretch"]
    texts = [c.text for c in of(events, Cue)]
    assert "Halfway." in texts and "Ten seconds left." in texts
    assert texts.count("How is the pain now, from zero to ten?") == 2
    assert sum(1 for c in of(events, Cue) if c.kind == "breath") >= 2


def test_every_shipped_routine_completes_and_timers_are_exact():
    for routine in LIB.routines.values():
        clock = ManualClock()
        s = Session(routine, clock)
        events = s.start()
        # One big jump: every step still starts exactly when the previous one was due.
        clock.advance(routine.duration_s + 1)
        events += s.tick()
        assert s.ended == "completed", routine.name
        starts = of(events, StepStarted)
        for a, b in zip(starts, starts[1:]):
            assert abs((b.at - a.at) - a.seconds) < 1e-9


def test_hold_longer_and_shorter_change_the_hold_within_bounds():
    clock = ManualClock()
    s = Session(SMALL, clock)
    s.start()
    run_until(s, clock, 12)
    assert s.step.kind == "hold"
    ev = s.handle(Intent("hold_longer"))
    assert of(ev, HoldChanged)[0].delta_s == 15 and of(ev, Cue)[0].text == cues.longer(15)
    ev = s.handle(Intent("hold_longer", 30))
    assert of(ev, HoldChanged)[0].length_s == 85
    ev = s.handle(Intent("hold_longer", 30))  # capped at max_hold_s 90: no odd number said
    assert of(ev, HoldChanged)[0].length_s == 90 and of(ev, Cue)[0].text == cues.LONGER_TO_LIMIT
    assert s.handle(Intent("hold_longer"))[0].text == cues.AT_LONGEST
    ev = s.handle(Intent("shorter"))
    assert of(ev, HoldChanged)[0].length_s == 75 and of(ev, Cue)[0].text == "15 seconds shorter."
    ended = [e for e in run_until(s, clock, 200) if isinstance(e, StepEnded)]
    assert ended[0].step.startswith("knot") and ended[0].ran_s == 75


def test_a_longer_hold_says_no_breath_late():
    """A breath kept clear of the old end (too near "ten seconds left") falls in the past of
    the longer hold: it is passed over, not said the moment "hold longer" is answered."""
    clock = ManualClock()
    s = Session(SMALL, clock)
    s.start()
    run_until(s, clock, 31)  # 21 s into the 40 s hold: its breath at 20 s was left out
    assert s.step.kind == "hold"
    s.handle(Intent("hold_longer", 30))  # 70 s: breaths now fit at 20 s and 30 s in
    later = run_until(s, clock, 90)
    assert [e.at for e in of(later, Cue) if e.kind == "breath"] == [40.0]  # not the one at 30
    assert all(e.at > 31 for e in later)
    assert [e.text for e in of(later, Cue)].count(cues.TEN_LEFT) == 1


def test_bare_number_is_a_rating_only_after_asking():
    clock = ManualClock()
    s = Session(SMALL, clock)
    s.start()
    assert s.handle(Intent("number", 6)) == []  # nobody asked: ignored, not guessed
    events = run_until(s, clock, 51)
    asked = of(events, RatingAsked)
    assert len(asked) == 1
    ev = s.handle(Intent("number", 6))
    logged = of(ev, PainLogged)[0]
    assert (logged.value, logged.step, logged.area) == (6, asked[0].step, "neck")
    # The confirmation comes after the rating in the same batch.
    assert isinstance(ev[1], Cue) and ev[1].text == "Six, noted."
    assert s.handle(Intent("number", 4)) == []  # the question was answered


def test_a_rating_said_again_at_once_replaces_the_one_misheard():
    """"Four, noted." - "pain six": within CORRECT_WITHIN_S of a rating, a rating replaces it
    instead of adding one (the hold it rated has ended: it is that hold's); nothing else is
    listened for meanwhile. Later, or asked for anew, a rating is a new one."""
    clock = ManualClock()
    s = Session(SMALL, clock)
    s.start()
    run_until(s, clock, 51)
    before = s.listening_for()
    first = of(s.handle(Intent("number", 4)), PainLogged)[0]
    assert first.corrects is None and s.ratings.count == 1
    clock.advance(3)
    assert "number" not in s.listening_for() and s.listening_for() <= before
    ev = s.handle(Intent("pain", 6))
    fixed = of(ev, PainLogged)[0]
    assert (fixed.value, fixed.corrects, fixed.step) == (6, 4, first.step)
    assert [e.text for e in of(ev, Cue)] == [cues.corrected(6)] == ["Changed to six."]
    assert s.ratings.count == 1  # still one rating of that hold
    clock.advance(CORRECT_WITHIN_S - 1)  # each correction opens the window again
    again = of(s.handle(Intent("pain", 5)), PainLogged)[0]
    assert (again.value, again.corrects) == (5, 6)
    clock.advance(CORRECT_WITHIN_S + 0.5)
    new = of(s.handle(Intent("pain", 3)), PainLogged)[0]
    assert new.corrects is None and s.ratings.count == 2
    s.handle(Intent("next"))  # moved on: a rating at once is of the new step
    moved = of(s.handle(Intent("pain", 2)), PainLogged)[0]
    assert moved.corrects is None and s.ratings.count == 3 and moved.step != new.step


def test_an_answer_not_understood_is_asked_for_once_more():
    clock = ManualClock()
    s = Session(SMALL, clock)
    assert s.not_understood() == []            # before the start: nothing to ask
    s.start()
    assert s.not_understood() == []            # no question open: nothing is guessed at
    run_until(s, clock, 51)                    # the first hold ends: "how is the pain now?"
    again = s.not_understood()
    assert [(c.kind, c.text) for c in of(again, Cue)] == [("rating", cues.RATE_AGAIN)]
    assert s.not_understood() == []            # once per question: chatter is not answered
    assert of(s.handle(Intent("number", 3)), PainLogged)[0].value == 3  # still open
    assert s.not_understood() == []            # answered: nothing open any more
    while not of(run_until(s, clock, clock.now() + 1), RatingAsked):
        assert not s.ended                     # the second hold ends: asked anew ...
    assert of(s.not_understood(), Cue)[0].text == cues.RATE_AGAIN   # ... and again once
    s = Session(SMALL, ManualClock())
    s.start()
    s.handle(Intent("safety", "sharp"))        # the yes/no question
    assert [c.text for c in of(s.not_understood(), Cue)] == [cues.QUESTION_AGAIN]
    assert s.not_understood() == []
    s.handle(Intent("no"))
    assert s.ended and s.not_understood() == []


def test_pain_any_time_and_high_pain_advice():
    clock = ManualClock()
    s = Session(SMALL, clock)
    s.start()
    ev = s.handle(Intent("pain", 9))
    assert of(ev, PainLogged)[0].value == 9
    assert any(c.kind == "advice" for c in of(ev, Cue))


def test_safety_word_ends_the_hold_at_once_and_waits_for_an_answer():
    clock = ManualClock()
    s = Session(SMALL, clock)
    s.start()
    run_until(s, clock, 20)
    ev = s.handle(Intent("safety", "numb"))
    assert of(ev, SafetyStop)[0].word == "numb"
    assert of(ev, StepEnded)[0].reason == "safety"
    assert any("nerve" in c.text for c in of(ev, Cue))
    assert s.next_deadline() == clock.now() + PAUSE_REMIND_S  # only a reminder is due
    clock.advance(600)
    # Nothing moves until the user answers, but for one reminder of the question.
    assert [(c.text, c.kind) for c in s.tick()] == [(cues.QUESTION_REMINDER, "question")]
    ev = s.handle(Intent("yes"))
    assert of(ev, StepStarted)[0].kind == "release"
    s2 = Session(SMALL, ManualClock())
    s2.start()
    s2.handle(Intent("safety", "sharp"))
    assert of(s2.handle(Intent("no")), SessionEnded)[0].reason == "safety"



def test_a_no_said_soon_after_carrying_on_takes_the_yes_back():
    """A "no" heard as a yes carries on after a safety stop; the user's "no" said again
    within CORRECT_WITHIN_S takes that yes back: the step begun ends, the clock stops and the
    question is asked again (a "no" from the room then costs a question, not the session).
    Later, or once the user moved on, "no" means nothing."""
    def after_yes():
        clock = ManualClock()
        s = Session(SMALL, clock)
        s.start()
        run_until(s, clock, 20)
        hurt = s.idx
        s.handle(Intent("safety", "sharp"))
        clock.advance(4)
        begun = of(s.handle(Intent("yes")), StepStarted)[0]
        return clock, s, hurt, begun

    clock, s, hurt, begun = after_yes()
    assert "no" in s.listening_for() and "yes" not in s.listening_for()
    clock.advance(1)
    ev = s.handle(Intent("no"))
    assert [(e.index, e.reason) for e in of(ev, StepEnded)] == [(begun.index, "safety")]
    assert [e.answer for e in of(ev, TakenBack)] == ["yes"]
    assert [c.text for c in of(ev, Cue)] == [cues.YES_TAKEN_BACK] and not s.ended
    assert {"yes", "no"} <= s.listening_for() and s.idx == hurt
    clock.advance(600)
    assert [c.text for c in s.tick()] == [cues.QUESTION_REMINDER]  # and nothing else moves
    assert of(s.handle(Intent("no")), SessionEnded)[0].reason == "safety"

    clock, s, hurt, begun = after_yes()  # the take-back was the room: yes again carries on
    s.handle(Intent("no"))
    again = of(s.handle(Intent("yes")), StepStarted)[0]
    assert again.index == begun.index and not s.ended

    clock, s, hurt, begun = after_yes()  # the step begun ends on its own: the window stays
    clock.advance(CORRECT_WITHIN_S - 1)
    ev = s.handle(Intent("no"))
    assert s.idx == hurt and of(ev, StepEnded)[-1].reason == "safety" and of(ev, TakenBack)

    clock, s, _, _ = after_yes()
    clock.advance(CORRECT_WITHIN_S + 0.5)
    assert "no" not in s.listening_for()
    assert of(s.handle(Intent("no")), Cue)[-1].text == cues.NO_QUESTION and not s.ended

    clock, s, _, _ = after_yes()
    s.handle(Intent("next"))  # moved on: the yes stands
    assert "no" not in s.listening_for()
    assert of(s.handle(Intent("no")), TakenBack) == [] and not s.ended


def test_pause_freezes_time_and_resume_continues():
    clock = ManualClock()
    s = Session(SMALL, clock)
    s.start()
    run_until(s, clock, 20)
    s.handle(Intent("pause"))
    left = s.remaining()
    clock.advance(PAUSE_REMIND_S - 1)
    assert s.tick() == [] and s.remaining() == left
    s.handle(Intent("resume"))
    assert s.remaining() == left


def test_a_pause_left_is_reminded_of_once_then_ends_the_session_keeping_its_ratings():
    clock = ManualClock()
    s = Session(SMALL, clock)
    s.start()
    run_until(s, clock, 51)                 # the first hold's rating is asked for
    assert of(s.handle(Intent("number", 6)), PainLogged)
    s.handle(Intent("pause"))
    paused_at, left, step = clock.now(), s.remaining(), s.step
    clock.advance(PAUSE_REMIND_S)
    assert [(c.text, c.kind) for c in s.tick()] == [(cues.PAUSE_REMINDER, "info")]
    clock.advance(PAUSE_END_S - PAUSE_REMIND_S - 1)
    assert s.tick() == [] and not s.ended and s.remaining() == left
    clock.advance(1)
    ev = s.tick()
    (ended,) = of(ev, StepEnded)
    assert (ended.step, ended.reason, ended.at) == (step.name, "left_paused",
                                                    paused_at + PAUSE_END_S)
    assert ended.ran_s == step.seconds - left     # the time before the pause, no more
    assert [c.text for c in of(ev, Cue)] == [cues.LEFT_PAUSED]
    (end,) = of(ev, SessionEnded)
    assert (end.reason, end.ratings, s.ended) == ("left_paused", 1, "left_paused")
    assert PAUSE_END_S == 30 * 60 and "half an hour" in cues.LEFT_PAUSED


def test_each_pause_gets_its_own_reminder_and_a_resume_clears_it():
    clock = ManualClock()
    s = Session(SMALL, clock)
    s.start()
    run_until(s, clock, 20)
    s.handle(Intent("pause"))
    clock.advance(PAUSE_REMIND_S + 10)
    assert [c.text for c in s.tick()] == [cues.PAUSE_REMINDER]
    s.handle(Intent("resume"))
    clock.advance(PAUSE_END_S)              # running: the routine goes on to its end
    assert of(s.tick(), SessionEnded)[0].reason == "completed"
    s2 = Session(SMALL, ManualClock())
    s2.start()
    s2.handle(Intent("pause"))
    s2.clock.advance(PAUSE_REMIND_S)
    assert [c.text for c in s2.tick()] == [cues.PAUSE_REMINDER]
    s2.handle(Intent("resume"))
    s2.handle(Intent("pause"))               # a new pause: reminded again, in its own time
    s2.clock.advance(PAUSE_REMIND_S - 1)
    assert s2.tick() == []
    s2.clock.advance(1)
    assert [c.text for c in s2.tick()] == [cues.PAUSE_REMINDER]


def test_a_safety_question_left_unanswered_ends_the_session():
    clock = ManualClock()
    s = Session(SMALL, clock)
    s.start()
    run_until(s, clock, 20)
    s.handle(Intent("safety", "sharp"))
    clock.advance(PAUSE_END_S)               # reminder and end, each at its own time
    ev = s.tick()
    assert [(c.text, c.at) for c in of(ev, Cue)] == [
        (cues.QUESTION_REMINDER, 20 + PAUSE_REMIND_S), (cues.LEFT_PAUSED, 20 + PAUSE_END_S)]
    assert of(ev, StepEnded) == []           # the hold already ended, for safety
    assert of(ev, SessionEnded)[0].reason == "left_paused"


def test_navigation_next_back_skip_stop():
    clock = ManualClock()
    s = Session(SMALL, clock)
    s.start()
    s.handle(Intent("next"))
    assert s.step.kind == "hold"
    s.handle(Intent("back"))
    assert s.idx == 0
    s.handle(Intent("next"))
    s.handle(Intent("skip"))  # leaves the whole repeat block
    assert s.step.kind == "stretch"
    ev = s.handle(Intent("stop"))
    assert of(ev, SessionEnded)[0].reason == "stopped"
    assert s.handle(Intent("next")) == []


def test_a_stop_taken_back_by_resume_goes_on_from_the_step_it_ended():
    """Talk in the room heard as "stop" ends the session; "carry on" said soon after takes
    the stop back: the step it ended begins again from its start, and the session goes on
    to its own end. Later than UNDO_STOP_S, or once another session could have begun, the
    stop stands."""
    def stopped_in_hold():
        clock = ManualClock()
        s = Session(SMALL, clock)
        s.start()
        s.handle(Intent("next"))
        run_until(s, clock, clock.now() + 25)  # 25 s into the first 40 s hold
        ev = s.handle(Intent("stop"))
        assert [c.text for c in of(ev, Cue)] == [cues.STOPPED_UNDOABLE]
        assert of(ev, SessionEnded)[0].reason == "stopped" and s.stop_undoable
        return clock, s

    clock, s = stopped_in_hold()
    clock.advance(UNDO_STOP_S - 1)
    assert s.tick() == [] and s.handle(Intent("resume")) == []  # ended: a session ignores it
    ev = s.undo_stop()
    assert [(e.answer, e.by) for e in of(ev, TakenBack)] == [("stop", "resume")]
    assert [c.text for c in of(ev, Cue)] == [cues.STOP_TAKEN_BACK, "Hold and breathe."]
    assert [(e.index, e.kind) for e in of(ev, StepStarted)] == [(1, "hold")]
    assert not s.ended and not s.stop_undoable and s.undo_stop() == []
    assert s.remaining() == 40  # the hold from its start, not the 15 s it had left
    ended = of(run_until(s, clock, clock.now() + 3600), SessionEnded)
    assert [e.reason for e in ended] == ["completed"]

    # Paused, then stopped, then taken back: the step begins again running, not paused with
    # a clock that stood still before the step began (its time went negative, and the next
    # resume moved its start by the whole pause).
    clock = ManualClock()
    s = Session(SMALL, clock)
    s.start()
    s.handle(Intent("next"))
    clock.advance(12)
    s.handle(Intent("pause"))
    clock.advance(30)
    s.handle(Intent("stop"))
    clock.advance(5)
    s.undo_stop()
    assert not s.paused and s.remaining() == 40
    clock.advance(10)
    assert s.remaining() == 30 and of(s.handle(Intent("resume")), Resumed) == []
    ended = of(run_until(s, clock, clock.now() + 3600), StepEnded)
    assert ended[0].index == 1 and ended[0].reason == "done" and ended[0].ran_s == 40

    clock, s = stopped_in_hold()
    clock.advance(UNDO_STOP_S + 0.5)
    assert not s.stop_undoable and s.undo_stop() == [] and s.ended == "stopped"

    clock, s = stopped_in_hold()  # a stop said again after the take-back can be taken back
    s.undo_stop()
    clock.advance(10)
    s.handle(Intent("stop"))
    assert s.stop_undoable and of(s.undo_stop(), StepStarted)[0].index == 1

    # "stop" as the answer to the safety question is the user's answer, not talk: it stands.
    clock = ManualClock()
    s = Session(SMALL, clock)
    s.start()
    s.handle(Intent("safety", "sharp"))
    ev = s.handle(Intent("stop"))
    assert [c.text for c in of(ev, Cue)] == [cues.STOPPED]
    assert not s.stop_undoable and s.undo_stop() == []

    # Typed, a stop is meant: it ends as it always did.
    clock = ManualClock()
    s = Session(SMALL, clock, undo_stop_s=0.0)
    s.start()
    assert [c.text for c in of(s.handle(Intent("stop")), Cue)] == [cues.STOPPED]
    assert not s.stop_undoable and s.undo_stop() == []

    # A session that ran to its end has nothing to take back.
    clock = ManualClock()
    s = Session(SMALL, clock)
    s.start()
    run_until(s, clock, 3600)
    assert s.ended == "completed" and not s.stop_undoable and s.undo_stop() == []


def test_how_long_whats_next_help_repeat_speak():
    clock = ManualClock()
    s = Session(SMALL, clock)
    s.start()
    clock.advance(4)
    assert "6 seconds left" in s.handle(Intent("how_long"))[0].text
    assert s.handle(Intent("whats_next"))[0].text == "Next, a hold, knot, 40 seconds."
    assert "more time" in s.handle(Intent("help"))[0].text
    assert s.handle(Intent("repeat"))[0].text == "Place the ball."


def test_whats_next_says_what_each_step_is_once_and_its_side():
    """Every step of every shipped routine, as "what's next" names it: a step with no label
    of its own once said its kind twice ("Next: press, press for 6 seconds.")."""
    neck = LIB.routines["neck"].plan()
    press = next(n for n in neck if n.kind == "press")
    assert cues.whats_next(press) == \
        f"Next, pressing in, {press.side} side, {press.seconds} seconds."
    for routine in LIB.routines.values():
        for n in routine.plan():
            text = cues.whats_next(n)
            words = re.findall(r"[a-z']+", text.lower())
            assert all(a != b for a, b in zip(words, words[1:])), text
            assert words.count(n.kind) <= 1 and n.kind in cues.KIND_WORDS, text
            assert (f"{n.side} side" in text) == bool(n.side), text


def test_help_says_first_what_the_moment_waits_for():
    """The list of commands is not what can be said while the safety question waits (a step
    move is refused then), nor all that matters while paused or asked for a rating."""
    helps = {cues.HELP, cues.HELP_PAUSED, cues.HELP_RATING, cues.HELP_QUESTION}

    def helped(s):  # (the steps that came due meanwhile say their own cues first)
        return [c.text for c in of(s.handle(Intent("help")), Cue) if c.text in helps]

    clock = ManualClock()
    s = Session(SMALL, clock)
    s.start()
    assert helped(s) == [cues.HELP]
    s.handle(Intent("pause"))
    assert helped(s) == [cues.HELP_PAUSED] and "say continue" in cues.HELP_PAUSED.lower()
    s.handle(Intent("resume"))
    s.handle(Intent("next"))
    clock.advance(45)  # past the 40 s hold: "how is the pain now?"
    assert of(s.tick(), RatingAsked)
    assert helped(s) == [cues.HELP_RATING] and "zero to ten" in cues.HELP_RATING
    clock.advance(RATE_OPEN_S)  # the question has closed: the plain list again
    assert helped(s) == [cues.HELP]
    s.handle(Intent("safety", "numb"))
    (said,) = helped(s)
    assert said == cues.HELP_QUESTION and "yes" in said and "no to end" in said
    # ... and how long is left counts nothing of the step that ended for safety.
    later = sum(p.seconds for p in s.plan[s.idx + 1:])
    assert s.handle(Intent("how_long"))[0].text == cues.how_long_after_safety(later)
    assert cues.how_long_after_safety(150) == \
        "Nothing is left of this step, and about 2 minutes in the session."
    assert not of(s.handle(Intent("yes")), SessionEnded) and helped(s) == [cues.HELP]


def test_every_phrase_a_cue_teaches_is_understood_where_it_is_said():
    """What the help and the cues tell the user to say is listened for at that moment, and
    means what they say it does (vocabulary.TAUGHT: each command's best-heard phrase)."""
    from companion.core.vocabulary import MOMENTS, TAUGHT, Vocabulary, taught_lead

    vocab = Vocabulary({"neck": "neck"})
    for kind, phrase in TAUGHT.items():
        if "{n}" in phrase:
            assert vocab.parse(phrase.format(n="six")) == Intent(kind, 6)
            assert f"say {taught_lead(kind)} and a number" in (
                cues.NOT_ASKED + cues.HELP).lower()
        elif "{routine}" in phrase:
            assert vocab.parse(phrase.format(routine="neck")) == Intent(kind, "neck")
            assert f"say {taught_lead(kind)} and a routine" in (
                cues.LISTENING + cues.LEFT_PAUSED + cues.waiting_help(["neck"])).lower()
        else:
            assert vocab.parse(phrase) == Intent(kind), phrase

    def named(text: str, intro: str) -> list[str]:
        listed = text.split(intro, 1)[1].rstrip(".")
        return [p.strip().removeprefix("or ") for p in listed.split(",")]

    said = named(cues.HELP, "You can say: ")
    assert said[-1] == "pain level and a number"
    for p in said[:-1]:
        assert vocab.parse(p) is not None and vocab.parse(p).name in MOMENTS["session"], p
    assert {vocab.parse(p).name for p in said[:-1]} == (
        MOMENTS["session"] - {IntentKind.SAFETY, IntentKind.PAIN, IntentKind.HELP,
                              IntentKind.START_ROUTINE, IntentKind.HOW_AM_I_DOING,
                              IntentKind.TEACH})
    for text, moment in ((cues.PAUSED, "paused"), (cues.PAUSE_REMINDER, "paused"),
                         (cues.HELP_PAUSED, "paused"), (cues.MIC_BACK, "paused"),
                         (cues.SPEAKER_BACK, "paused"), (cues.STOPPED_UNDOABLE, "stopped")):
        phrase = text.lower().split("say ", 1)[1].split(" when")[0].split(" to ")[0].rstrip(".")
        assert vocab.parse(phrase) == Intent("resume"), text
        assert phrase in vocab.phrases_at(moment), text


def test_how_long_left_while_paused_says_it_is_paused_and_the_time_stands_still():
    clock = ManualClock()
    s = Session(SMALL, clock)
    s.start()
    clock.advance(4)
    running = s.handle(Intent("how_long"))[0].text
    s.handle(Intent("pause"))
    clock.advance(30)
    paused = s.handle(Intent("how_long"))[0].text
    assert paused == f"{cues.STILL_PAUSED} {running}" and "6 seconds left" in paused
    s.handle(Intent("resume"))
    assert s.handle(Intent("how_long"))[0].text == running


def test_every_answer_a_session_gives_is_rendered_ahead():
    """What a session says when asked ("how long left" at any moment, paused or at the
    safety question too, "what's next", "hold longer" by a named number, "shorter") is among
    the lines `voice prepare` renders, whole or as clauses each rendered: none is rendered
    while the user waits."""
    from companion.core.vocabulary import SECONDS_WORDS
    from companion.loop.warmup import all_lines
    from companion.speech.render import CLAUSE_BREAK

    ready = set(all_lines())
    asked = [Intent("how_long"), Intent("whats_next"), Intent("hold_longer"), Intent("shorter"),
             *(Intent("hold_longer", n) for n in SECONDS_WORDS.values())]
    said = set()
    for routine in Library().routines.values():
        for k, intent in enumerate(asked):
            clock = ManualClock()
            s = Session(routine, clock)
            s.start()
            while not s.ended:
                if int(clock.now()) % 7 == k % 7:   # asked at every point of the plan
                    said |= {e.text for e in s.handle(intent) if isinstance(e, Cue)}
                if int(clock.now()) % 11 == k % 11:  # ... and while paused there
                    s.handle(Intent("pause"))
                    said |= {e.text for e in s.handle(intent) if isinstance(e, Cue)}
                    s.handle(Intent("resume"))
                if int(clock.now()) % 97 == k % 97:  # ... and at the safety question
                    s.handle(Intent("safety", "sharp"))
                    said |= {e.text for e in s.handle(intent) if isinstance(e, Cue)}
                    s.handle(Intent("yes"))
                clock.advance(1.0)
                s.tick()
    missing = [t for t in said if t not in ready
               and not all(p in ready for p in CLAUSE_BREAK.split(t))]
    assert len(said) > 100 and missing == [], missing


LONG = parse_routine("""
name: long
title: Twenty-odd minutes
aliases: [long]
areas: [glutes]
tool: massage_ball
steps:
  - kind: sides
    steps:
      - kind: repeat
        times: 3
        steps:
          - {kind: position, cue: Find the spot.}
          - {kind: press, cue: Press in.}
          - {kind: hold, cue: Hold., hold_s: 90, max_hold_s: 120}
          - {kind: micro, cue: Small circles., duration_s: 15}
          - {kind: hold, cue: Hold again., hold_s: 60}
          - {kind: release, cue: Let go.}
""", "long.yaml")


def test_a_bare_number_answers_the_question_for_a_minute_and_pain_six_at_any_time():
    """Left unanswered, the question stops taking bare numbers after RATE_OPEN_S: the room's
    "on" is "one" to the model, and minutes of talk must not rate the hold."""
    clock = ManualClock()
    s = Session(SMALL, clock)
    s.start()
    run_until(s, clock, 51)                  # the first hold's rating is asked for
    asked = s.ratings.open(clock.now())
    clock.advance(RATE_OPEN_S - 1)
    s.tick()                                 # the next steps go on meanwhile
    assert "number" in s.listening_for()
    clock.advance(2)
    s.tick()
    assert "number" not in s.listening_for() and "pain" in s.listening_for()
    assert of(s.handle(Intent("number", 6)), PainLogged) == [] and s.not_understood() == []
    (logged,) = of(s.handle(Intent("pain", 6)), PainLogged)
    assert (logged.value, logged.step) == (6, asked.name)   # the hold that was asked about


def _asked_back(value: int):
    """A session whose first hold's rating was asked for, and a number then heard only
    because one was asked for (Session.check): it is asked back, not logged."""
    clock = ManualClock()
    s = Session(SMALL, clock)
    s.start()
    run_until(s, clock, 51)
    asked = s.ratings.open(clock.now())
    out = s.check(Intent("number", value))
    assert of(out, PainLogged) == [] and [c.text for c in of(out, Cue)] == [cues.ask_back(value)]
    assert {"yes", "no", "number"} <= s.listening_for()
    return s, clock, asked


def test_a_rating_asked_back_is_logged_on_a_yes_for_the_hold_asked_about():
    s, clock, asked = _asked_back(1)
    clock.advance(3)
    assert [c.text for c in of(s.handle(Intent("help")), Cue)] == [cues.ask_back(1)]
    out = s.handle(Intent("yes"))
    (logged,) = of(out, PainLogged)
    assert (logged.value, logged.step, logged.corrects) == (1, asked.name, None)
    assert cues.confirm(1) in [c.text for c in of(out, Cue)] and s.ratings.count == 1
    assert "yes" not in s.listening_for()       # answered: a yes now means nothing
    assert of(s.handle(Intent("yes")), PainLogged) == []


def test_a_rating_asked_back_and_said_again_is_logged_and_another_plainly_said_replaces_it():
    s, clock, _ = _asked_back(4)
    clock.advance(2)
    (logged,) = of(s.check(Intent("number", 4)), PainLogged)     # the same, heard again
    assert logged.value == 4
    s, clock, _ = _asked_back(4)
    out = s.check(Intent("number", 5))                          # another, also unsure
    assert [c.text for c in of(out, Cue)] == [cues.ask_back(5)] and of(out, PainLogged) == []
    (logged,) = of(s.handle(Intent("number", 6)), PainLogged)   # said plainly: as said
    assert logged.value == 6 and s.ratings.doubted(clock.now()) is None


def test_a_no_to_a_rating_asked_back_logs_nothing_and_asks_for_the_number_again():
    s, clock, asked = _asked_back(1)
    clock.advance(5)
    out = s.handle(Intent("no"))                 # (the routine's next step may begin first)
    assert of(out, PainLogged) == [] and [c.text for c in of(out, Cue)][-1] == cues.ASKED_BACK_NO
    assert not s.ended and "yes" not in s.listening_for()
    clock.advance(RATE_OPEN_S - 5)               # a bare number: a minute again from the no
    s.tick()
    (logged,) = of(s.handle(Intent("number", 3)), PainLogged)
    assert (logged.value, logged.step) == (3, asked.name)


def test_a_rating_asked_back_and_left_unanswered_is_never_logged():
    s, clock, _ = _asked_back(1)
    clock.advance(CORRECT_WITHIN_S + 1)
    s.tick()
    assert "yes" not in s.listening_for()
    out = s.handle(Intent("yes"))
    assert of(out, PainLogged) == [] and [c.text for c in of(out, Cue)] == [cues.NO_QUESTION]
    s, clock, _ = _asked_back(1)
    clock.advance(2)
    s.handle(Intent("next"))                    # the user moved on: nothing to answer
    assert of(s.handle(Intent("yes")), PainLogged) == []


def test_a_number_heard_unsure_when_none_was_asked_for_is_ignored_and_pain_six_is_asked_back():
    clock = ManualClock()
    s = Session(SMALL, clock)
    s.start()
    assert s.check(Intent("number", 2)) == []   # no question: a bare number means nothing
    out = s.check(Intent("pain", 2))             # "pain two", taken only by the lift
    assert [c.text for c in of(out, Cue)] == [cues.ask_back(2)]
    (logged,) = of(s.handle(Intent("yes")), PainLogged)
    assert logged.value == 2


def test_twenty_minute_routine_runs_in_a_test_ticking_every_tenth_of_a_second():
    assert LONG.duration_s >= 20 * 60
    clock = ManualClock()
    s = Session(LONG, clock)
    events = s.start()
    while not s.ended:
        clock.advance(0.1)
        events += s.tick()
    assert s.ended == "completed"
    assert len(of(events, RatingAsked)) == 12
    assert abs(of(events, SessionEnded)[0].at - LONG.duration_s) < 0.1


intents = st.one_of(
    st.sampled_from([Intent(n) for n in sorted(INTENT_NAMES)
                     if n not in ("pain", "number", "safety", "start_routine")]),
    st.builds(Intent, st.just("pain"), st.integers(0, 10)),
    st.builds(Intent, st.just("number"), st.integers(0, 10)),
    st.builds(Intent, st.just("hold_longer"), st.sampled_from([10, 15, 30, 60])),
    st.builds(Intent, st.just("safety"), st.sampled_from(["sharp", "numb", "tingling"])),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.floats(0, 120), intents), max_size=40),
       st.sampled_from(sorted(LIB.routines) + ["tiny", "long"]))
def test_random_intents_never_crash_overrun_or_lose_ratings(script, name):
    routine = {"tiny": SMALL, "long": LONG}.get(name) or LIB.routines[name]
    clock = ManualClock()
    s = Session(routine, clock)
    events = s.start()
    for gap, intent in script:
        said_at = clock.now()
        clock.advance(gap)
        ticked = s.tick()
        # What comes due later is said when it is due: nothing an intent did leaves a cue
        # (a breath, "ten seconds left") timed before it, to be said late.
        assert all(e.at >= said_at for e in ticked), (said_at, ticked)
        events += ticked
        live, asked = not s.ended, s.ratings.open(clock.now()) is not None
        if intent.name == "resume" and s.stop_undoable:  # as the loop takes a stop back
            out = s.undo_stop()
            live = False
        else:
            out = s.handle(intent)
        events += out
        rating = intent.name == "pain" or (intent.name == "number" and asked)
        # Every rating said while the session runs is logged exactly once, and only those.
        assert len(of(out, PainLogged)) == (1 if live and rating else 0)
        # A step's clock never runs backwards, whatever came before.
        assert s.ended or s.elapsed() >= 0
    clock.advance(10_000)
    events += s.tick()
    events += s.finish("end_of_input")
    assert s.ended
    # A rating put right replaces the one before it: it is not one more.
    assert s.ratings.count == len([e for e in of(events, PainLogged) if e.corrects is None])
    # No hold ever runs past its bound, nor any step for less than no time.
    plan = s.plan
    for e in of(events, StepEnded):
        assert e.ran_s >= 0
        if plan[e.index].kind == "hold":
            assert e.ran_s <= plan[e.index].max_s + 1e-6
    # Exactly one end that stands (each stop taken back was one more), and it is last.
    taken_back = [e for e in of(events, TakenBack) if e.answer == "stop"]
    assert len(of(events, SessionEnded)) == 1 + len(taken_back)
    assert isinstance(events[-1], SessionEnded)


def test_how_long_left_counts_the_instructions_still_to_be_said():
    """In a spoken loop the clock stands still while each later step's cue is said, so
    "how long left" adds that time; the intro's minutes count all of it."""
    clock = ManualClock()
    silent, spoken = Session(SMALL, clock), Session(SMALL, clock, speech_s=lambda t: 30.0)
    silent.start(), spoken.start()
    texts = sum(1 + bool(p.safety) for p in spoken.plan[1:])
    assert spoken.session_remaining() == silent.session_remaining() + 30.0 * texts
    assert spoken.spoken_s == 30.0 * (1 + len(SMALL.safety) + texts + 1)  # + intro, step 0
    clock.advance(10)
    silent.tick(), spoken.tick()
    assert spoken.idx == silent.idx == 1
    assert spoken.session_remaining() == silent.session_remaining() + 30.0 * (
        texts - 1 - bool(spoken.plan[1].safety))


def test_what_the_session_listens_for_follows_its_questions():
    """The recognizer is told what makes sense now: a bare number only while a rating is
    asked for, yes/no only while the safety question is open, resume only while paused (or
    as that question's yes), never a routine's start."""
    clock = ManualClock()
    s = Session(SMALL, clock)
    s.start()
    now = s.listening_for()
    assert {"next", "stop", "pain", "safety", "help", "pause"} <= now
    # "resume" would do nothing while the session runs: not listened for, so nothing said
    # can be taken for it.
    assert not now & {"number", "yes", "no", "start_routine", "how_am_i_doing", "resume"}
    s.handle(Intent("pause"))
    assert "resume" in s.listening_for()
    s.handle(Intent("resume"))
    assert "resume" not in s.listening_for()
    run_until(s, clock, 51)  # the hold ends and asks for a rating
    assert "number" in s.listening_for() and "resume" not in s.listening_for()
    s.handle(Intent("number", 6))
    assert "number" not in s.listening_for()  # answered
    s.handle(Intent("safety", "sharp"))
    assert {"yes", "no", "resume"} <= s.listening_for()   # "carry on" answers yes
    # ... and the step has ended: its moves would only be told to answer, and the answer
    # was taken for them ("sure" as "short").
    assert {"next", "stop", "help", "repeat", "how_long", "safety"} <= s.listening_for()
    assert not s.listening_for() & {"back", "skip", "pause", "hold_longer", "shorter"}
    s.handle(Intent("yes"))
    assert not s.listening_for() & {"yes", "number", "resume"}
    assert {"skip", "shorter"} <= s.listening_for()
    assert "no" in s.listening_for()  # for a while: it would take a misheard yes back
    clock.advance(CORRECT_WITHIN_S + 0.5)
    assert not s.listening_for() & {"yes", "no", "number", "resume"}


def test_every_intent_a_session_listens_for_has_a_handler():
    """The recognizer hears what listening_for() says; each of those must reach a handler
    (an intent without one would be heard, then silently do nothing), but louder and
    quieter, which the voice loop acts on at every moment (test_voice_loop)."""
    clock = ManualClock()
    s = Session(SMALL, clock)
    s.start()
    heard = set(s.listening_for())
    run_until(s, clock, 51)                 # a rating is asked for
    heard |= s.listening_for()
    s.handle(Intent("safety", "sharp"))     # the safety question is open
    heard |= s.listening_for()
    assert heard == SESSION_INTENTS | ANSWER_INTENTS  # every state above was reached
    assert sorted(k for k in heard if not s.handles(k)) == sorted(LOUDNESS_INTENTS)
    # Only what the loop answers has no handler here.
    assert {k for k in IntentKind if not s.handles(k)} == WAITING_INTENTS - {"help"}
