"""The live transcript's lines, from the records the loop emits (and the events file)."""

from __future__ import annotations

import io

from companion.core.events import StepEnded, StepStarted, TakenBack
from companion.core.vocabulary import Intent
from companion.loop.records import Acted, Heard, MicrophoneBack, SpeakerLost, VoiceUsed
from companion.loop.transcript import Transcript, line


def test_heard_lines_say_what_was_done_or_why_not():
    base = {"type": "heard", "at": 75.4, "text": "pain six", "confidence": 0.91,
            "intent": "pain", "value": 6, "gated": False, "echo": False}
    assert line(base) == '[01:15] heard "pain six" (0.91) -> pain 6'
    assert line({**base, "gated": True}).endswith(": over the companion's voice, ignored")
    assert line({**base, "gated": True, "echo": True}).endswith(": our own voice, ignored")
    assert line({**base, "intent": None, "value": None}).endswith(": not a command now, ignored")
    rejected = {**base, "text": "", "intent": None, "value": None, "confidence": 0.0}
    assert line({**rejected, "nearest": "two"}) == \
        '[01:15] heard speech, not understood (nearest: "two"), ignored'
    assert line({**rejected, "nearest": ""}) == "[01:15] heard speech, not understood, ignored"
    assert line({**rejected, "gated": True}) is None   # our own voice, most likely
    one = {**base, "text": "one", "intent": "number", "value": 1, "unsure": True}
    assert line(one) == '[01:15] heard "one" (0.91) -> number 1, asked back'


def test_cue_text_is_left_out_where_the_journal_would_repeat_it():
    cue = {"type": "cue", "at": 3.0, "text": "Listening.", "kind": "info", "seconds": 1.0}
    assert line(cue) == '[00:03] says "Listening."'
    assert line(cue, says=False) is None
    out = io.StringIO()
    Transcript(out, says=False)(cue)
    Transcript(out, says=False)({"type": "PainLogged", "at": 61, "value": 3, "index": 2,
                                 "step": "Upper trapezius", "area": "neck"})
    assert out.getvalue() == "[01:01] pain 3 logged (neck, Upper trapezius)\n"
    taken = TakenBack(at=95.0, answer="yes").to_dict()
    assert line(taken) == '[01:35] "yes" taken back: the user said no'


def test_records_carry_no_float_noise():
    e = StepEnded(at=10.000000001, index=0, step="s", area="neck", reason="done",
                  ran_s=10.0 - 10.000000000000004)
    d = e.to_dict()
    assert d["ran_s"] == 0.0 and str(d["ran_s"]) == "0.0" and d["at"] == 10.0


def test_loop_records_keep_the_events_file_format():
    """Tests, benchmarks and users read these keys, in this order, from the events file."""
    heard = Heard(75.4, "pain six", Intent("pain", 6), 0.912345, 74.00001, 75.0, False)
    d = heard.to_dict()
    assert d == {"type": "heard", "at": 75.4, "text": "pain six", "intent": "pain", "value": 6,
                 "confidence": 0.912, "start": 74.0, "end": 75.0, "gated": False,
                 "echo": False, "nearest": "", "unsure": False}
    assert list(d) == ["type", "at", "text", "intent", "value", "confidence", "start", "end",
                       "gated", "echo", "nearest", "unsure"]
    assert type(d["intent"]) is str
    assert line(d) == '[01:15] heard "pain six" (0.91) -> pain 6'
    assert Heard(1.0, "banana", None, 0.5, 0.2, 1.0, True).to_dict()["intent"] is None
    acted = Acted(80.0001, StepStarted(12.5, 1, "Hold", "hold", "neck", 40), 12.5310001)
    assert list(acted.to_dict().items()) == [
        ("type", "StepStarted"), ("at", 80.0), ("index", 1), ("step", "Hold"),
        ("kind", "hold"), ("area", "neck"), ("seconds", 40), ("due", 12.5), ("acted", 12.531)]
    assert SpeakerLost(3.0, "gone").to_dict() == {"type": "speaker_lost", "at": 3.0,
                                                  "reason": "gone"}
    assert MicrophoneBack(4.0).to_dict() == {"type": "microphone_back", "at": 4.0}
    assert line(VoiceUsed(0.0, "espeak-ng", None).to_dict()) == "[00:00] voice: espeak-ng"
