"""The live transcript `companion run` prints: one short line per thing that happened
(what was heard and what it did, steps, ratings, faults), from the same records the
events file gets. Under systemd the journal keeps these lines; the cue texts, which only
repeat what was said aloud, are left out there."""

from __future__ import annotations

from typing import Any, Callable, Optional, TextIO


def _clock(at: float) -> str:
    m, s = divmod(int(max(0.0, at)), 60)
    return f"[{m:02d}:{s:02d}]"


def line(record: dict[str, Any], says: bool = True) -> Optional[str]:
    """One record as a transcript line, or None for records not worth a line."""
    kind, at = record.get("type"), _clock(float(record.get("at", 0.0)))
    show: dict[str, Callable[[dict[str, Any]], Optional[str]]] = {
        "heard": _heard,
        "voice": lambda r: f'voice: {r["engine"]} {r["voice"] or ""}'.rstrip(),
        "cue": lambda r: f'says "{r["text"]}"' if says else None,
        "StepStarted": lambda r: f'step {r["index"] + 1}: {r["step"]} ({r["kind"]}, '
                                 f'{r["seconds"]:.0f} s)',
        "HoldChanged": lambda r: f'hold {"+" if r["delta_s"] >= 0 else ""}{r["delta_s"]:.0f} s '
                                 f'(now {r["length_s"]:.0f} s)',
        "Paused": lambda r: "paused",
        "Resumed": lambda r: "resumed",
        "PainLogged": lambda r: f'pain {r["value"]} logged ({r["area"]}, {r["step"]})',
        "SafetyStop": lambda r: f'SAFETY STOP: "{r["word"]}" during {r["step"]}',
        "SessionEnded": lambda r: f'session ended ({r["reason"]}), {r["ratings"]} '
                                  f'rating{"s" * (r["ratings"] != 1)} logged',
        "speaker_lost": lambda r: f'speaker went away ({r["reason"]}); paused',
        "speaker_back": lambda r: "speaker back",
        "microphone_lost": lambda r: f'microphone went away ({r["reason"]}); paused',
        "microphone_back": lambda r: "microphone back",
    }
    text = show[kind](record) if kind in show else None
    return f"{at} {text}" if text else None


def _heard(r: dict[str, Any]) -> str:
    said = f'heard "{r["text"]}" ({r["confidence"]:.2f})'
    if r.get("gated"):
        return said + (": our own voice, ignored" if r.get("echo") else
                       ": over the companion's voice, ignored")
    if not r.get("intent"):
        return said + ": not a command now, ignored"
    value = r.get("value")
    return said + f' -> {r["intent"]}' + (f" {value}" if value is not None else "")


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
