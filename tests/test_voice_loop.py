"""The voice loop's decisions (waiting, starting, gating our own voice, barge-in) with a
real pain log and the real NullSpeaker; utterances are given as the recognizer would."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass

import pytest

from companion.core import cues
from companion.core.clock import ManualClock
from companion.core.engine import PAUSE_END_S, UNDO_STOP_S
from companion.core.vocabulary import IntentKind
from companion.hearing.sources import FRAME_SAMPLES, RATE
from companion.storage.library import Library
from companion.speech import NullSpeaker
from companion.speech.base import GATE_TAIL_S
from companion.bench.sessionwav import speech_spans
from companion.storage.store import PainLog
from companion.core.rehearsal import instruction_seconds
from companion.loop.voice_loop import VoiceLoop


@dataclass
class Utt:
    text: str
    start: float
    end: float
    confidence: float = 1.0
    best: str = ""   # what a rejected utterance (text "") was nearest to
    unsure: bool = False  # a rating the recognizer took only because one was asked for


@dataclass
class Fr:
    start: float
    end: float


def frames(until: float, step: float = 0.03):
    t = 0.0
    while t < until:
        yield Fr(t, t + step)
        t += step


def scripted(utterances):
    """A recognizer that hears each of `utterances` once the frames pass its end."""
    def recognize(fs, expect=None):
        pending = sorted(utterances, key=lambda u: u.end)
        for f in fs:
            while pending and pending[0].end <= f.end:
                yield pending.pop(0)
    return recognize


def make(tmp_path, utterances):
    clock = ManualClock()
    speaker = NullSpeaker(clock=clock)
    log = PainLog.open(tmp_path)
    out = io.StringIO()
    loop = VoiceLoop(Library(), log, speaker, scripted(utterances), events_out=out, clock=clock,
                     summary=lambda: "Neck: from seven to four over ten days.")
    return loop, log, out


def test_start_rate_and_stop_from_waiting(tmp_path):
    loop, log, out = make(tmp_path, [
        Utt("how am i doing", 10, 11),
        Utt("start neck routine", 20, 21.5),
        Utt("pain six", 120, 121),
        Utt("stop", 130, 130.5),
    ])
    loop.run(frames(150))
    records = [json.loads(x) for x in out.getvalue().splitlines()]
    said = [r["text"] for r in records if r["type"] == "cue"]
    assert "Neck: from seven to four over ten days." in said
    assert "Six, noted." in said
    (session,) = log.sessions()
    assert session["routine"] == "neck" and session["end_reason"] == "stopped"
    assert [r["value"] for r in log.ratings()] == [6]
    heard = [r for r in records if r["type"] == "heard"]
    assert [h["intent"] for h in heard] == ["how_am_i_doing", "start_routine", "pain", "stop"]
    # The rating is logged (PainLogged) before it is confirmed aloud.
    kinds = [(r["type"], r.get("text")) for r in records]
    assert kinds.index(("PainLogged", None)) < kinds.index(("cue", "Six, noted."))


def test_the_summary_is_offered_for_rendering_ahead_once_a_session_changed_it(tmp_path):
    """"How am I doing" is asked between sessions; its answer changes when one ends, and
    is handed on then to be rendered before it is asked (voice_run: a warm-up child)."""
    loop, log, out = make(tmp_path, [Utt("start neck routine", 20, 21.5), Utt("stop", 130, 130.5)])
    offered: list[list[str]] = []
    loop.ahead = offered.append
    loop.run(frames(180))
    assert offered == [["Neck: from seven to four over ten days."]]
    assert log.sessions()[0]["end_reason"] == "stopped"


def _told(tmp_path, utts: list[Utt], until: float):
    """A story run through the loop: (the loop, its log, the cues said, the utterances the
    recognizer was told were acted on and misheard, the log's one correction)."""
    loop, log, out = make(tmp_path, utts)
    acted: list[Utt] = []
    misheard: list[Utt] = []
    loop.acted_on, loop.misheard = acted.append, misheard.append
    loop.run(frames(until))
    (fix,) = [e["detail"] for e in log.events() if e["kind"] == "corrected"]
    return loop, log, [c["text"] for c in _cues(out)], acted, misheard, fix


def test_a_misheard_rating_put_right_is_replaced_and_unlearned(tmp_path):
    """"Pain four" heard where the user said six: "Four, noted." - "pain six": the log holds
    six for that hold (one rating, corrected), and the recognizer is told the utterance that
    gave four was misheard, so it does not keep learning from it."""
    loop, log, said, acted, misheard, fix = _told(tmp_path, [
        Utt("start neck routine", 20, 21.5),
        Utt("pain four", 120, 121),
        Utt("pain six", 124, 124.5),
        Utt("stop", 140, 140.5),
    ], 150)
    assert "Four, noted." in said and "Changed to six." in said
    assert [r["value"] for r in log.ratings()] == [6]
    assert [(u.text, u.start) for u in misheard] == [("pain four", 120)]
    assert [u.text for u in acted] == ["start neck routine", "pain four", "pain six", "stop"]
    assert fix == "pain 4 -> 6"


def test_a_yes_taken_back_is_asked_again_and_unlearned(tmp_path):
    """After a safety stop, the user's "no" heard as "yep" carries on; their "no" said again
    at once takes it back: the question is asked again, the log says so, and the recognizer
    is told the utterance that gave the yes was misheard. The next "no" ends the session."""
    loop, log, said, _, misheard, fix = _told(tmp_path, [
        Utt("start neck routine", 20, 21.5),
        Utt("sharp", 60, 60.5),
        Utt("yep", 90, 90.4),
        Utt("no", 102, 102.3),
        Utt("no", 115, 115.3),
    ], 130)
    at = said.index(cues.CONTINUE_AFTER_SAFETY)
    assert said[at + 1:].count(cues.YES_TAKEN_BACK) == 1 and said[-1] == cues.STOPPED
    (session,) = log.sessions()
    assert session["end_reason"] == "safety"
    assert [(u.text, u.start) for u in misheard] == [("yep", 90)]
    assert fix == "yes -> no"


def test_a_stop_taken_back_goes_on_in_the_same_session_and_is_unlearned(tmp_path):
    """Talk in the room heard as "stop" ends the session; "carry on" said just after takes
    it back: the step begins again, the log has one session (open again, then ended by the
    real stop) with the correction, and the recognizer is told the stop was misheard. While
    the stop can be taken back, the recognizer listens for a resume; later it does not."""
    loop, log, said, _, misheard, fix = _told(tmp_path, [
        Utt("start neck routine", 20, 21.5),
        Utt("stop", 60, 60.4),
        Utt("carry on", 72, 72.6),
        Utt("stop", 140, 140.4),
    ], 150)
    assert said.count(cues.STOPPED_UNDOABLE) == 2 and said.count(cues.STOP_TAKEN_BACK) == 1
    (session,) = log.sessions()
    assert session["end_reason"] == "stopped" and session["ended_at"] > session["started_at"] + 100
    assert fix == "stop -> resume"
    assert [(u.text, u.start) for u in misheard] == [("stop", 60)]
    assert loop.sessions == 1 and "carry on" in loop.expected_phrases()  # 10 s after the stop
    loop.clock.set(140.4 + UNDO_STOP_S + 1)
    assert "carry on" not in loop.expected_phrases()
    assert "start neck routine" in loop.expected_phrases()


def test_a_session_left_paused_ends_and_a_start_is_heard_again(tmp_path):
    """Paused and left (or paused by a word from the room with nobody there): reminded
    once, ended after half an hour, and the companion listens for a start again."""
    later = 60 + PAUSE_END_S + 30
    loop, log, out = make(tmp_path, [Utt("start neck routine", 10, 11.5),
                                     Utt("pause", 60, 60.5),
                                     Utt("start neck routine", later, later + 1.5)])
    loop.run(frames(later + 30))
    records = [json.loads(x) for x in out.getvalue().splitlines()]
    said = [r["text"] for r in records if r["type"] == "cue"]
    assert said.count(cues.PAUSE_REMINDER) == 1 and said.count(cues.LEFT_PAUSED) == 1
    first, second = log.sessions()
    assert first["end_reason"] == "left_paused"
    assert second["end_reason"] == "end_of_input" and loop.sessions == 2


def test_a_resume_long_after_a_stop_does_nothing(tmp_path):
    loop, log, out = make(tmp_path, [
        Utt("start neck routine", 20, 21.5),
        Utt("stop", 60, 60.4),
        Utt("carry on", 60.4 + UNDO_STOP_S + 2, 60.4 + UNDO_STOP_S + 3),
    ])
    loop.run(frames(120))
    (session,) = log.sessions()
    assert session["end_reason"] == "stopped" and session["ended_at"] < session["started_at"] + 40
    assert not [e for e in log.events() if e["kind"] == "corrected"]
    assert cues.STOP_TAKEN_BACK not in [c["text"] for c in _cues(out)]


def test_own_voice_is_gated_but_barge_in_words_act(tmp_path):
    loop, log, out = make(tmp_path, [])
    loop.start_session(Library().find("neck"))
    # Right after the intro, the companion is still talking: "next" is not trusted...
    assert loop.hear(Utt("next", 0.5, 0.9)) is None
    assert loop.heard[-1].gated
    # ...but "pause" (a barge-in word) still acts and cuts the speech short.
    assert loop.hear(Utt("pause", 1.0, 1.4)).name == "pause"
    assert loop.runner.session.paused
    # The intro was cut: only the short "Paused..." line now gates, then words work again.
    assert loop.hear(Utt("resume", 6.0, 6.4)).name == "resume"
    # A later cue gates again for as long as it takes to say.
    loop.hear(Utt("repeat", 10.0, 10.3))
    assert loop.hear(Utt("next", 10.6, 10.9)) is None


def test_the_recognizer_learns_only_from_what_was_acted_on(tmp_path):
    """Recognizer.acted_on (Whisper learns the voice in use from it) hears of the commands
    the loop acted on: not of words gated over our voice, nor of speech not made out."""
    loop, log, out = make(tmp_path, [])
    acted: list[Utt] = []
    loop.acted_on = acted.append
    loop.start_session(Library().find("neck"))
    loop.hear(Utt("next", 0.5, 0.9))                # over our own voice: gated
    loop.hear(Utt("", 0.95, 0.99, 0.2, "next"))     # not made out
    loop.hear(Utt("pause", 1.0, 1.4))               # a barge-in word: acted on
    loop.hear(Utt("banana", 3.0, 3.5))              # not a command
    loop.hear(Utt("resume", 6.0, 6.4))
    assert [(u.text, u.start) for u in acted] == [("pause", 1.0), ("resume", 6.0)]


def test_help_while_waiting_names_every_routine_as_it_is_started(tmp_path):
    """A headless device shows nothing: "help" before a session says which routines there
    are, each by the name that starts it, and how to ask how it is going."""
    loop, _, out = make(tmp_path, [Utt("help", 5, 5.4)])
    loop.run(frames(10))
    (text,) = [c["text"] for c in _cues(out) if c["text"] != cues.LISTENING]
    assert text.startswith("To begin, say let's do and a routine: ")
    assert text.endswith("how am I doing?")
    named = text.split(": ")[1].split(".")[0].replace(" or ", ", ").split(", ")
    routines = loop.library.routines
    assert len(named) == len(routines) == len({loop.vocab.parse(f"let's do {n}").value
                                               for n in named})
    waiting = loop.expected_phrases()
    assert all(f"let's do {n}" in waiting for n in named)
    assert cues.waiting_help(["neck", "calves"]) == \
        "To begin, say let's do and a routine: neck or calves. Or ask: how am I doing?"
    assert cues.waiting_help(["neck"], lesson=True).endswith(  # where a lesson can be given
        "how am I doing? Or say: teach me my voice.")
    assert cues.waiting_help([]) == cues.LISTENING


def test_a_lesson_asked_for_without_a_whisper_engine_says_why(tmp_path):
    """The voice lesson teaches the Whisper recognizer only (the taught voice is its encoder
    frames): with another engine, "teach me my voice" is answered, not ignored."""
    loop, _, out = make(tmp_path, [Utt("teach me my voice", 5, 6)])
    loop.run(frames(10))
    assert [c["text"] for c in _cues(out)][-1] == cues.CANNOT_TEACH


def test_numbers_missed_twice_in_a_session_suggest_the_numbers_lesson_once(tmp_path):
    """Two ratings asked for again in one session (answers not made out): at its end the
    companion says how to fix it ("teach me the numbers"), once per run, and only where a
    lesson can be given. One rating missed is not enough."""
    def run(until: float, teach=True, sessions: int = 1):
        utts: list[Utt] = []
        for k in range(sessions):  # each session: start, talk not made out, stop
            t0 = k * 400
            utts += [Utt("start neck routine", t0 + 5, t0 + 6.5), Utt("stop", t0 + 380, t0 + 380.4)]
            utts += [Utt("", t, t + 0.5) for t in range(t0 + 20, t0 + until, 9)]
        loop, _, out = make(tmp_path / f"{until}-{teach}-{sessions}", utts)
        if teach:  # a lesson can be given (the Whisper engine); never called here
            loop.lessons.teach = lambda *args: pytest.fail("no lesson was asked for")
        loop.run(frames(400 * sessions))
        said = [c["text"] for c in _cues(out)]
        return said.count(cues.RATE_AGAIN), said

    missed, said = run(350)
    assert missed == 2 and said[-1] == cues.SUGGEST_LESSON
    assert said[-2] == cues.STOPPED_UNDOABLE  # after the session's own closing words
    missed, said = run(200)
    assert missed == 1 and cues.SUGGEST_LESSON not in said
    assert cues.SUGGEST_LESSON not in run(350, teach=False)[1]
    missed, said = run(350, sessions=2)
    assert missed == 4 and said.count(cues.SUGGEST_LESSON) == 1


def test_unknown_speech_does_nothing(tmp_path):
    loop, log, out = make(tmp_path, [Utt("", 5, 6, 0.1, "next"), Utt("banana", 8, 9)])
    loop.run(frames(15))
    assert log.sessions() == []
    assert all(h.intent is None for h in loop.heard)
    # While waiting, speech not made out leaves no record: the journal of an always-on
    # service would fill with the room's talk.
    records = [json.loads(x) for x in out.getvalue().splitlines()]
    assert [r["text"] for r in records if r["type"] == "heard"] == ["banana"]


def test_a_rating_not_understood_is_asked_for_again_once(tmp_path):
    """Speech after "how is the pain now?" that the recognizer rejects: the companion asks
    once more, then takes the number; rejected speech while nothing is asked, or over its
    own voice, asks nothing."""
    from companion.core import cues
    from companion.core.vocabulary import IntentKind
    clock = ManualClock()
    log = PainLog.open(tmp_path)
    out = io.StringIO()
    loop: VoiceLoop

    def quiet_from() -> float:
        """When the cues queued so far have been said (back to back) and the gate is open."""
        spans = speech_spans([json.loads(x) for x in out.getvalue().splitlines()])
        return (spans[-1][1] if spans else 0.0) + GATE_TAIL_S + 0.5

    def recognize(fs, expect=None):
        script, asked = [Utt("", 40, 41, 0.0, "next")], False   # nothing asked yet
        for f in fs:
            if not asked and IntentKind.NUMBER in loop.runner.listening_for():
                asked, quiet = True, quiet_from()  # just asked: speech over it, then after
                script += [Utt("", f.end + 0.5, f.end + 1.0, 0.0, "two"),
                           Utt("", quiet, quiet + 0.5, 0.0, "two"),
                           Utt("", quiet + 15, quiet + 15.5, 0.0, "two"),
                           Utt("six", quiet + 30, quiet + 30.5)]
            while script and script[0].end <= f.end:
                yield script.pop(0)

    loop = VoiceLoop(Library(), log, NullSpeaker(clock=clock), recognize, events_out=out,
                     clock=clock)
    loop.run(frames(400), Library().find("neck"))
    records = [json.loads(x) for x in out.getvalue().splitlines()]
    said = [r["text"] for r in records if r["type"] == "cue"]
    assert said.count(cues.RATE_AGAIN) == 1, said
    assert said.index(cues.RATE) < said.index(cues.RATE_AGAIN) < said.index("Six, noted.")
    assert [r["value"] for r in log.ratings()] == [6]
    rejected = [r for r in records if r["type"] == "heard" and not r["text"]]
    # The last one may fall over a later step's cue; either way it is not asked about.
    assert [(r["nearest"], r["gated"]) for r in rejected[:3]] == [
        ("next", False), ("two", True), ("two", False)]
    assert [r["nearest"] for r in rejected[3:]] == ["two"]
    (again,) = [r for r in records if r["type"] == "cue" and r["text"] == cues.RATE_AGAIN]
    assert again["at"] == rejected[2]["end"]   # asked after the first one not over our voice


def test_a_rating_heard_only_because_one_was_asked_is_asked_back_and_logged_on_a_yes(tmp_path):
    """The recognizer took "one" for the question only (Utterance.unsure: its model wrote
    "on"): the loop asks it back, logs nothing and learns nothing from it; the user's yes
    logs it and makes it the user's voice (learned, and unlearned when put right at once).
    A second one, answered no, is never logged nor learned."""
    from companion.core import cues
    from companion.core.vocabulary import IntentKind
    clock = ManualClock()
    log = PainLog.open(tmp_path)
    out = io.StringIO()
    learned: list[str] = []
    unlearned: list[str] = []
    loop: VoiceLoop

    def quiet_from() -> float:
        spans = speech_spans([json.loads(x) for x in out.getvalue().splitlines()])
        return (spans[-1][1] if spans else 0.0) + GATE_TAIL_S + 0.5

    def recognize(fs, expect=None):
        script, asked, put_right = [], 0, False
        for f in fs:
            if asked == 1 and not put_right and not script and log.ratings():
                put_right, quiet = True, quiet_from()  # "One, noted.": then "pain two"
                script.append(Utt("pain two", quiet, quiet + 0.5))
            if asked < 2 and IntentKind.NUMBER in loop.runner.listening_for() and not script:
                asked, quiet = asked + 1, quiet_from()
                answer = "yes" if asked == 1 else "no"
                script += [Utt("one", quiet, quiet + 0.5, unsure=True),
                           Utt(answer, quiet + 6, quiet + 6.5)]
            while script and script[0].end <= f.end:
                yield script.pop(0)

    loop = VoiceLoop(Library(), log, NullSpeaker(clock=clock), recognize, events_out=out,
                     clock=clock, acted_on=lambda utt: learned.append(utt.text),
                     misheard=lambda utt: unlearned.append(utt.text))
    loop.run(frames(600), Library().find("neck"))
    records = [json.loads(x) for x in out.getvalue().splitlines()]
    said = [r["text"] for r in records if r["type"] == "cue"]
    assert said.count(cues.ask_back(1)) == 2, said
    assert said.index(cues.ask_back(1)) < said.index("One, noted.")
    assert cues.ASKED_BACK_NO in said
    assert [r["value"] for r in log.ratings()] == [2]          # the yes, put right; not the no
    assert "Changed to two." in said and unlearned == ["one"]  # the one the yes confirmed
    assert [r["unsure"] for r in records if r["type"] == "heard" and r["text"] == "one"] == [
        True, True]
    assert learned.count("one") == 1 and "yes" in learned


def test_end_of_file_ends_the_session_cleanly(tmp_path):
    loop, log, out = make(tmp_path, [Utt("start neck", 6, 7)])
    loop.run(frames(30))
    (session,) = log.sessions()
    assert session["end_reason"] == "end_of_input" and session["ended_at"] is not None


def test_timers_run_on_audio_time(tmp_path):
    calves = Library().find("calves")
    loop, log, out = make(tmp_path, [Utt("start calves", 6, 7)])
    step = FRAME_SAMPLES / RATE   # as often as a real source's frames move the clock
    loop.run(frames(7 + calves.duration_s + instruction_seconds(calves) + 30, step))
    (session,) = log.sessions()
    assert session["end_reason"] == "completed"
    records = [json.loads(x) for x in out.getvalue().splitlines()]
    starts = [r for r in records if r["type"] == "StepStarted"]
    # Every step is acted on within one frame of when it was due...
    assert max(r["acted"] - r["due"] for r in starts) <= step + 1e-6
    # ...and those lags do not add up: each step is due its planned seconds after the last.
    plan = calves.plan()
    gaps = [(b["due"] - a["due"]) - plan[a["index"]].seconds for a, b in zip(starts, starts[1:])]
    assert len(gaps) == len(plan) - 1 and max(abs(g) for g in gaps) <= 0.002


def test_a_step_counts_from_the_end_of_its_instructions(tmp_path):
    """The intro and safety notes take many seconds to say; the first step's own time must
    start once its cue has been said, not run out while the user is still listening."""
    loop, log, out = make(tmp_path, [Utt("start neck", 6, 7)])
    loop.run(frames(120))
    records = [json.loads(x) for x in out.getvalue().splitlines()]
    # Everything said on "start" is queued back to back: intro, safety notes, first cue.
    said_by = 7 + sum(r["seconds"] for r in records if r["type"] == "cue" and r["at"] == 7)
    assert said_by > 7 + 12, "the neck intro should outlast the 12 s position step"
    (second,) = [r for r in records if r["type"] == "StepStarted" and r["index"] == 1]
    planned = Library().find("neck").plan()[0].seconds
    # Audio time of the next step = end of the instructions + the step's own seconds.
    assert abs(second["at"] - (said_by + planned)) <= 0.031
    assert second["acted"] - second["due"] <= 0.031


def test_barge_in_stops_the_wait_for_instructions(tmp_path):
    """"pause" over the intro cuts it short; "resume" then runs the step's clock at once."""
    loop, log, out = make(tmp_path, [Utt("start neck", 6, 7), Utt("pause", 8, 8.5),
                                     Utt("resume", 15, 15.5)])
    loop.run(frames(40))
    records = [json.loads(x) for x in out.getvalue().splitlines()]
    (second,) = [r for r in records if r["type"] == "StepStarted" and r["index"] == 1]
    # Stood still 7 -> 8.5 (speech, cut short) and 8.5 -> 15.5 (paused), then 12 s of step:
    # the resume cue is "info", not an instruction, so the clock runs while it is said.
    assert abs(second["at"] - (15.5 + Library().find("neck").plan()[0].seconds)) <= 0.031


def test_stop_and_safety_words_cut_in_over_a_cue_and_waiting_resumes(tmp_path):
    """Over the intro (our own voice), "sharp" and "stop" still act; the loop then waits
    for the next "start", and a second session runs on the same log."""
    loop, log, out = make(tmp_path, [Utt("start neck", 5, 6), Utt("next", 6.2, 6.4),
                                     Utt("sharp", 6.5, 7.0), Utt("stop", 8, 8.4),
                                     Utt("start calves", 40, 41), Utt("stop", 41.5, 41.9)])
    loop.run(frames(60))
    records = [json.loads(x) for x in out.getvalue().splitlines()]
    heard = [(r["text"], r["gated"]) for r in records if r["type"] == "heard"]
    assert heard == [("start neck", False), ("next", True), ("sharp", False),
                     ("stop", False), ("start calves", False), ("stop", False)]
    assert any(r["type"] == "SafetyStop" and r["word"] == "sharp" for r in records)
    assert [(s["routine"], s["end_reason"]) for s in log.sessions()] == [
        ("neck", "stopped"), ("calves", "stopped")]


class VanishingSpeaker(NullSpeaker):
    """An injected fault: a speaker unplugged at `lost_at` and back from `back_at` (audio
    seconds); reopen() only works once it is back, as DeviceSpeaker's does."""

    def __init__(self, clock, lost_at: float, back_at: float) -> None:
        super().__init__(clock=clock)
        self.clock, self.lost_at, self.back_at = clock, lost_at, back_at
        self.reopened = False
        self.tries = 0

    @property
    def error(self):
        t = self.clock.now()
        return None if t < self.lost_at or self.reopened else RuntimeError("device gone")

    def reopen(self) -> None:
        self.tries += 1
        if self.clock.now() < self.back_at:
            raise RuntimeError("still gone")
        self.reopened = True


def test_a_speaker_that_vanishes_pauses_the_session_and_it_says_so_when_back(tmp_path):
    clock = ManualClock()
    speaker = VanishingSpeaker(clock, lost_at=60.0, back_at=75.0)
    log = PainLog.open(tmp_path)
    out = io.StringIO()
    utts = [Utt("start neck", 5, 6), Utt("resume", 90, 90.5)]

    def recognize(fs, expect=None):
        for f in fs:
            while utts and utts[0].end <= f.end:
                yield utts.pop(0)

    loop = VoiceLoop(Library(), log, speaker, recognize, events_out=out, clock=clock)
    loop.run(frames(100))
    records = [json.loads(x) for x in out.getvalue().splitlines()]
    kinds = [r["type"] for r in records]
    lost, back = kinds.index("speaker_lost"), kinds.index("speaker_back")
    assert 60 <= records[lost]["at"] <= 60.05
    assert "Paused" in kinds[lost - 2:lost + 1] or "Paused" in kinds[lost:back]
    assert 75 <= records[back]["at"] <= 77.1 and speaker.tries >= 7  # tried every 2 s
    said_back = records[back + 1]
    assert said_back["type"] == "cue" and said_back["text"].startswith("I can speak again")
    assert "Resumed" in kinds[back:]
    (session,) = log.sessions()
    assert session["end_reason"] == "end_of_input"  # paused and resumed, never lost


def _cues(out) -> list[dict]:
    return [r for r in map(json.loads, out.getvalue().splitlines()) if r["type"] == "cue"]


def test_a_barge_in_word_we_are_saying_ourselves_is_our_echo(tmp_path):
    """The safety note says "sharp ... numb or tingling ... we stop": heard at the moment we
    say it, that is our own voice through the microphone, not the user. The same words at
    another moment of our speech, and other barge-in words at that moment, still act."""
    loop, log, out = make(tmp_path, [])
    loop.start_session(Library().find("neck"))
    (note,) = [c for c in _cues(out) if "tingling" in c["text"]]
    start = sum(c["seconds"] for c in _cues(out)[:_cues(out).index(note)])
    at = start + note["seconds"] * note["text"].lower().index("tingling") / len(note["text"])
    acted: list[Utt] = []
    loop.acted_on = acted.append
    assert loop.hear(Utt("tingling", at - 0.35, at + 0.5)) is None
    assert loop.heard[-1].gated and loop.heard[-1].echo and not acted  # our echo: not learned
    assert not loop.runner.session.ended
    # "pause" is not in that note: the user, heard over us, and it cuts our speech.
    assert loop.hear(Utt("pause", at + 0.6, at + 1.0)).name == "pause"
    assert not loop.heard[-1].echo and loop.runner.session.paused


def test_the_same_word_far_from_where_we_say_it_still_barges_in(tmp_path):
    loop, log, out = make(tmp_path, [])
    loop.start_session(Library().find("neck"))
    # "sharp" in the first second, long before the safety note says it.
    assert loop.hear(Utt("sharp", 0.5, 1.0)).name == "safety"
    assert not loop.heard[-1].echo


def test_our_echo_reaching_back_a_pre_roll_is_still_gated(tmp_path):
    """An utterance starts a pre-roll (0.3 s) before its first voiced frame: the echo of a
    cue seems to begin just before the cue did. Seen in a replay of the companion's own
    voice: 'breathe in slowly' heard as 'previous' went back a step, again and again."""
    loop, log, out = make(tmp_path, [])
    loop.start_session(Library().find("neck"))
    loop.hear(Utt("pause", 0.5, 0.9))          # cut the intro; now quiet
    loop.clock.set(30.0)
    loop.hear(Utt("resume", 30.0, 30.4))       # "Resumed..." starts at 30.4
    resumed = _cues(out)[-1]
    assert resumed["at"] == 30.4
    assert loop.hear(Utt("previous", 30.15, 31.0)) is None and loop.heard[-1].gated
    # A user who began talking well before the cue is not our voice.
    loop.clock.set(60.0)
    loop.hear(Utt("repeat", 59.0, 59.5))
    assert loop.hear(Utt("next", 59.6, 62.0)) is not None


class LaggingSpeaker(NullSpeaker):
    """A device whose sound comes out `delay` seconds after the cue length says it ends
    (a sound server's buffering, a Bluetooth speaker): busy_for() is what it reports."""

    def __init__(self, clock, delay: float) -> None:
        super().__init__(clock=clock)
        self.clock, self.delay, self.until = clock, delay, 0.0

    def say(self, text, at=None):
        from companion.core.cues import speaking_seconds

        now = self.clock.now()
        seconds = speaking_seconds(text)
        self.until = max(self.until, now) + seconds
        super().say(text, at)
        return seconds

    def busy_for(self) -> float:
        return max(0.0, self.until + self.delay + 0.25 - self.clock.now())


def test_the_gate_lasts_until_the_device_has_really_finished(tmp_path):
    """Cue lengths say the speech ends at said_by; the device says 1.5 s later. A command
    heard in between is the tail of our own voice."""
    probe, _, _ = make(tmp_path / "probe", [])
    probe.clock.set(9.0)
    probe.start_session(Library().find("neck"))
    said_by = probe._speech_end                 # the end by the cues' lengths alone
    clock = ManualClock()
    utts = [Utt("start neck", 8, 9), Utt("how long left", said_by + 0.5, said_by + 1.0)]

    def recognize(fs, expect=None):
        for f in fs:
            while utts and utts[0].end <= f.end:
                yield utts.pop(0)

    loop = VoiceLoop(Library(), PainLog.open(tmp_path), LaggingSpeaker(clock, delay=1.5),
                     recognize, clock=clock)
    loop.run(frames(said_by + 5))
    assert [(h.text, h.gated) for h in loop.heard] == [("start neck", False),
                                                         ("how long left", True)]
    # With a speaker that only knows cue lengths, the same words are the user's.
    loop2, _, _ = make(tmp_path / "plain", [Utt("start neck", 8, 9),
                                           Utt("how long left", said_by + 0.5, said_by + 1.0)])
    loop2.run(frames(said_by + 5))
    assert not [h for h in loop2.heard if h.text == "how long left"][0].gated


def test_the_intro_counts_the_time_its_instructions_take_to_say(tmp_path):
    """Steps wait for their instructions, so a spoken session lasts longer than its steps:
    the "About N minutes" the user hears includes that time."""
    import re

    differ = 0
    for routine in Library().routines.values():
        loop, _, out = make(tmp_path / routine.name, [])
        loop.start_session(routine)
        intro = _cues(out)[0]["text"]
        said = int(re.search(r"About (\d+) minute", intro).group(1))
        total = routine.duration_s + instruction_seconds(routine)
        assert said == max(1, round(total / 60)), (routine.name, intro)
        differ += said != max(1, round(routine.duration_s / 60))
    assert differ, "no routine's instructions change its minutes: the test shows nothing"



def test_the_recognizer_is_asked_for_what_makes_sense_at_each_utterance(tmp_path):
    """Each utterance is decoded against expect() at that moment: starts while waiting,
    the session's commands once it runs, starts again after it ends (and, just after a
    stop, a resume other than a bare "go", which takes the stop back)."""
    asked = []
    utts = [Utt("start neck routine", 5, 6), Utt("pain six", 30, 31), Utt("stop", 40, 41),
            Utt("help", 50, 51), Utt("help", 41 + UNDO_STOP_S + 1, 41 + UNDO_STOP_S + 2)]

    def recognize(fs, expect):
        pending = list(utts)
        for f in fs:
            while pending and pending[0].end <= f.end:
                asked.append(expect())
                yield pending.pop(0)

    clock = ManualClock()
    loop = VoiceLoop(Library(), PainLog.open(tmp_path), NullSpeaker(clock=clock), recognize,
                     clock=clock)
    loop.run(frames(41 + UNDO_STOP_S + 5))
    waiting, in_session, _, just_after, later = asked
    assert "start neck routine" in waiting and "stop" not in waiting
    assert {"stop", "pain six", "next"} <= in_session and "start neck routine" not in in_session
    assert "six" not in in_session  # a bare number: only right after "rate your pain"
    assert just_after - waiting == loop.vocab.phrases_for(frozenset({IntentKind.RESUME})) - {"go"}
    assert waiting < just_after and later == waiting


def _when_the_note_says_tingling(tmp_path) -> float:
    """Audio time at which the neck routine's safety note says "tingling", the session
    having been started by "start neck" heard at 9 s."""
    probe, _, out = make(tmp_path / "probe", [])
    probe.clock.set(9.0)
    probe.start_session(Library().find("neck"))
    (note,) = [c for c in _cues(out) if "tingling" in c["text"]]
    start = 9.0 + sum(c["seconds"] for c in _cues(out)[:_cues(out).index(note)])  # queued at 9
    return start + note["seconds"] * note["text"].lower().index("tingling") / len(note["text"])


def _tingling_heard_at(folder, heard_at: float, speaker=None, **loop_kw) -> VoiceLoop:
    """A loop that hears "start neck" at 8-9 s, then "tingling" ending at heard_at + 0.5."""
    utts = [Utt("start neck", 8, 9), Utt("tingling", heard_at - 0.35, heard_at + 0.5)]

    def recognize(fs, expect=None):
        for f in fs:
            while utts and utts[0].end <= f.end:
                yield utts.pop(0)

    clock = ManualClock()
    loop = VoiceLoop(Library(), PainLog.open(folder), (speaker or NullSpeaker)(clock),
                     recognize, clock=clock, **loop_kw)
    loop.run(frames(heard_at + 5))
    return loop


def test_our_echo_is_recognised_when_the_device_plays_late(tmp_path):
    """On a busy machine the player falls behind: the safety note's own "tingling" reaches
    the microphone 1.5 s after the cue schedule says it was said, past the echo check's
    slack. The device's report of how long it is still busy moves the expected times, so it
    is still our echo and the hold goes on."""
    heard_at = _when_the_note_says_tingling(tmp_path) + 1.5
    loop = _tingling_heard_at(tmp_path, heard_at, lambda clock: LaggingSpeaker(clock, 1.5))
    assert [(h.text, h.gated, h.echo) for h in loop.heard] == [
        ("start neck", False, False), ("tingling", True, True)]
    assert loop.runner is not None and loop.runner.session.ended == "end_of_input"  # no safety stop
    # The same lag unreported (a speaker that only knows cue lengths): the word falls
    # outside the slack and would have been taken for the user.
    assert not loop.own_voice.is_echo("tingling", heard_at - 0.35 + 30, heard_at + 0.5 + 30)


def test_our_echo_is_expected_later_when_the_reader_is_behind_the_room(tmp_path):
    """While a command is decoded the microphone goes on capturing: the reader is that far
    behind the room (a few hundred ms on a Pi). A cue said then starts in the room at the
    clock plus that backlog, and its echo arrives that much later than the clock alone
    says. The safety note's own "tingling", heard 2 s late with a 2 s backlog, is still
    our echo, and the hold goes on."""
    backlog = 2.0
    heard_at = _when_the_note_says_tingling(tmp_path) + backlog
    asked = []

    def behind() -> float:
        asked.append(backlog)
        return backlog

    loop = _tingling_heard_at(tmp_path / "behind", heard_at, mic_backlog=behind)
    assert asked, "the loop never asked how far behind the reader is"
    assert [(h.text, h.gated, h.echo) for h in loop.heard] == [
        ("start neck", False, False), ("tingling", True, True)]
    assert loop.runner is not None and loop.runner.session.ended == "end_of_input"
    # Without the backlog the same word, as late, is taken for the user's safety word.
    plain = _tingling_heard_at(tmp_path / "plain", heard_at)
    assert [(h.text, h.gated, h.echo) for h in plain.heard] == [
        ("start neck", False, False), ("tingling", False, False)]
    assert plain.heard[-1].intent is not None and plain.heard[-1].intent.name == "safety"


def test_our_step_heard_back_as_stop_is_our_echo():
    """The recognizer takes "step" for "stop" (tiny.en writes some people's "stop" so), and
    the cues say "step" ("This is the last step."): heard back while we say it, it is our
    echo, not the user stopping the session. Said by the user later, it is the user."""
    from companion.loop.echo import OwnVoice
    voice = OwnVoice()
    voice.said("This is the last step.", 100.0, 1.6)
    assert not OwnVoice().is_echo("stop", 101.2, 101.6)  # (nothing said: the user)
    assert voice.is_echo("stop", 101.2, 101.6)
    assert not voice.is_echo("stop", 104.0, 104.4)
    assert not voice.is_echo("next", 101.2, 101.6)
