"""The live transcript's lines, from the records the loop emits (and the events file)."""

from __future__ import annotations

import io

from companion.core.events import StepEnded
from companion.loop.transcript import Transcript, line


def test_heard_lines_say_what_was_done_or_why_not():
    base = {"type": "heard", "at": 75.4, "text": "pain six", "confidence": 0.91,
            "intent": "pain", "value": 6, "gated": False, "echo": False}
    assert line(base) == '[01:15] heard "pain six" (0.91) -> pain 6'
    assert line({**base, "gated": True}).endswith(": over the companion's voice, ignored")
    assert line({**base, "gated": True, "echo": True}).endswith(": our own voice, ignored")
    assert line({**base, "intent": None, "value": None}).endswith(": not a command now, ignored")


def test_cue_text_is_left_out_where_the_journal_would_repeat_it():
    cue = {"type": "cue", "at": 3.0, "text": "Listening.", "kind": "info", "seconds": 1.0}
    assert line(cue) == '[00:03] says "Listening."'
    assert line(cue, says=False) is None
    out = io.StringIO()
    Transcript(out, says=False)(cue)
    Transcript(out, says=False)({"type": "PainLogged", "at": 61, "value": 3, "index": 2,
                                 "step": "Upper trapezius", "area": "neck"})
    assert out.getvalue() == "[01:01] pain 3 logged (neck, Upper trapezius)\n"


def test_records_carry_no_float_noise():
    e = StepEnded(at=10.000000001, index=0, step="s", area="neck", reason="done",
                  ran_s=10.0 - 10.000000000000004)
    d = e.to_dict()
    assert d["ran_s"] == 0.0 and str(d["ran_s"]) == "0.0" and d["at"] == 10.0
