"""The live transcript `companion run` prints: one short line per thing that happened
(what was heard and what it did, steps, ratings, faults), from the same records the
events file gets. Under systemd the journal keeps these lines; the cue texts, which only
repeat what was said aloud, are left out there."""

from __future__ import annotations

from typing import Any, Callable, Optional, TextIO

from companion.core.events import (HoldChanged, PainLogged, Paused, Resumed, SafetyStop,
                                   SessionEnded, StepStarted, TakenBack)
from companion.loop.records import (Heard, MicrophoneBack, MicrophoneLost, Said, SpeakerBack,
                                    SpeakerLost, VoiceUsed)


def _clock(at: float) -> str:
    m, s = divmod(int(max(0.0, at)), 60)
    return f"[{m:02d}:{s:02d}]"


def line(record: dict[str, Any], says: bool = True) -> Optional[str]:
    """One record as a transcript line, or None for records not worth a line. Takes the
    dict form (as the events file holds it), so a saved file can be replayed into lines."""
    kind, at = record.get("type"), _clock(float(record.get("at", 0.0)))
    show: dict[str, Callable[[dict[str, Any]], Optional[str]]] = {
        Heard.TYPE: _heard,
        VoiceUsed.TYPE: lambda r: f'voice: {r["engine"]} {r["voice"] or ""}'.rstrip(),
        Said.TYPE: lambda r: f'says "{r["text"]}"' if says else None,
        StepStarted.TYPE: lambda r: f'step {r["index"] + 1}: {r["step"]} ({r["kind"]}, '
                                    f'{r["seconds"]:.0f} s)',
        HoldChanged.TYPE: lambda r: f'hold {"+" if r["delta_s"] >= 0 else ""}'
                                    f'{r["delta_s"]:.0f} s (now {r["length_s"]:.0f} s)',
        Paused.TYPE: lambda r: "paused",
        Resumed.TYPE: lambda r: "resumed",
        PainLogged.TYPE: lambda r: (f'pain {r["value"]} logged ({r["area"]}, {r["step"]})'
                                    + (f', corrects {r["corrects"]}'
                                       if r.get("corrects") is not None else '')),
        SafetyStop.TYPE: lambda r: f'SAFETY STOP: "{r["word"]}" during {r["step"]}',
        TakenBack.TYPE: lambda r: f'"{r["answer"]}" taken back: the user said '
                                  f'{r.get("by", "no")}',
        SessionEnded.TYPE: lambda r: f'session ended ({r["reason"]}), {r["ratings"]} '
                                     f'rating{"s" * (r["ratings"] != 1)} logged',
        SpeakerLost.TYPE: lambda r: f'speaker went away ({r["reason"]}); paused',
        SpeakerBack.TYPE: lambda r: "speaker back",
        MicrophoneLost.TYPE: lambda r: f'microphone went away ({r["reason"]}); paused',
        MicrophoneBack.TYPE: lambda r: "microphone back",
    }
    text = show[kind](record) if kind in show else None
    return f"{at} {text}" if text else None


def _heard(r: dict[str, Any]) -> Optional[str]:
    if not r["text"]:  # speech the recognizer was not sure of
        if r.get("gated"):
            return None   # most likely our own voice: not worth a line
        nearest = r.get("nearest")
        return "heard speech, not understood" + (f' (nearest: "{nearest}")' if nearest else
                                                 "") + ", ignored"
    said = f'heard "{r["text"]}" ({r["confidence"]:.2f})'
    if r.get("gated"):
        return said + (": our own voice, ignored" if r.get("echo") else
                       ": over the companion's voice, ignored")
    if not r.get("intent"):
        return said + ": not a command now, ignored"
    value = r.get("value")
    return (said + f' -> {r["intent"]}' + (f" {value}" if value is not None else "")
            + (", asked back" if r.get("unsure") else ""))


class Transcript:
    """A callable sink for loop records that prints transcript lines."""

    def __init__(self, out: TextIO, says: bool = True) -> None:
        self.out = out
        self.says = says

    def __call__(self, record: dict[str, Any]) -> None:
        text = line(record, self.says)
        if text:
            try:
                self.out.write(text + "\n")
                self.out.flush()
            except (OSError, ValueError):  # a closed terminal must not stop a session
                pass
