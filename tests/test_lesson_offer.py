"""A voice lesson asked for by voice is offered first ("To begin, say yes"): the lesson keeps what it hears as the user's voice, so one begun by talk in the room would learn
that talk. The voice loop with a real pain log and the NullSpeaker; the lesson itself is
recorded, not given (tests/test_voice_lesson.py gives one through the real recognizer)."""

from __future__ import annotations

import io
import json

from companion.core import cues
from companion.core.clock import ManualClock
from companion.core.cues import speaking_seconds
from companion.loop.enroll import Lesson
from companion.loop.lessons import OFFER_S
from companion.loop.voice_loop import VoiceLoop
from companion.speech import NullSpeaker
from companion.speech.base import GATE_TAIL_S
from companion.storage.library import Library
from companion.storage.store import PainLog
from test_voice_loop import Utt, frames

ASKED_AT = 6.0  # "teach me the numbers" heard at 5-6 s: the question begins
ANSWER_AT = ASKED_AT + speaking_seconds(cues.LESSON_OFFERS["numbers"]) + GATE_TAIL_S + 1.0


class Story:
    """"teach me the numbers", then `later`: what was listened for at each utterance, the
    lessons given and the cues said."""

    def __init__(self, tmp_path, later: list[Utt], until: float = 90.0) -> None:
        utts = [Utt("teach me the numbers", 5, ASKED_AT)] + later
        self.asked: list[frozenset[str]] = []
        self.given: list[str] = []
        out = io.StringIO()

        def recognize(fs, expect):
            pending = list(utts)
            for f in fs:
                while pending and pending[0].end <= f.end:
                    self.asked.append(expect())
                    yield pending.pop(0)

        def teach(what, mic, say, starts_at):
            self.given.append(what)
            say("Say: zero.")
            return Lesson(taught={"zero": 2}, unlike=[], finished=True)

        clock = ManualClock()
        self.loop = VoiceLoop(Library(), PainLog.open(tmp_path), NullSpeaker(clock=clock),
                              recognize, events_out=out, clock=clock, teach=teach)
        self.loop.run(frames(until))
        self.said = [r["text"] for r in map(json.loads, out.getvalue().splitlines())
                     if r["type"] == "cue"]
        self.acted = [h.intent.name for h in self.loop.heard
                      if h.intent is not None and not h.gated]


def test_asked_for_a_lesson_the_companion_says_what_it_is_and_waits_for_a_yes(tmp_path):
    s = Story(tmp_path, [Utt("yes", ANSWER_AT, ANSWER_AT + 0.4)])
    assert s.said[-3:] == [cues.LESSON_OFFERS["numbers"], cues.LESSON_START, "Say: zero."]
    assert s.given == ["numbers"]
    waiting, offered = s.asked
    assert offered - waiting == {"yes", "yep", "sure"}  # not "no": the room says it
    assert {"start neck routine", "help"} <= offered and "stop" not in offered


def test_an_offer_left_unanswered_lapses_and_a_later_yes_begins_nothing(tmp_path):
    late = ANSWER_AT - 1.0 + OFFER_S + 2.0
    s = Story(tmp_path, [Utt("yes", late, late + 0.4)])
    assert s.said[-1] == cues.LESSON_OFFERS["numbers"] and s.given == []
    assert "yes" not in s.asked[-1]


def test_speech_not_made_out_while_the_offer_waits_asks_once_more(tmp_path):
    """Once, so the room's noise cannot keep it asking; asking again also waits again."""
    noise = [Utt("", ANSWER_AT + k * 3, ANSWER_AT + k * 3 + 0.5) for k in range(3)]
    # Past the first question's wait, within the second's (asked at ANSWER_AT + 0.5).
    yes_at = ANSWER_AT + 0.5 + speaking_seconds(cues.LESSON_ASK_AGAIN) + OFFER_S - 2.0
    assert yes_at > ANSWER_AT + OFFER_S
    s = Story(tmp_path, noise + [Utt("yes", yes_at, yes_at + 0.4)])
    assert s.said.count(cues.LESSON_ASK_AGAIN) == 1
    assert s.given == ["numbers"]


def test_another_command_closes_the_offer_and_is_acted_on(tmp_path):
    s = Story(tmp_path, [Utt("help", ANSWER_AT, ANSWER_AT + 0.4),
                         Utt("yes", ANSWER_AT + 12, ANSWER_AT + 12.4)], until=60.0)
    assert s.said[-1].startswith("To begin, say let's do and a routine") and s.given == []
    assert "yes" not in s.asked[-1]
    assert s.acted == ["teach", "help"]
