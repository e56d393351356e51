"""What a WAV fixture in tests/audio/ must produce, read from its name
(`<intent>[-<value>]__<origin>.wav`, `none__*` for no command), and the checks every
recognizer's fixture tests share."""

from __future__ import annotations

from collections import defaultdict
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from typing import Iterator, Optional

import numpy as np

from companion.bench.loop import room_noise
from companion.hearing.sources import RATE, Frame, WavSource, pcm_frames

AUDIO = Path(__file__).parent / "audio"


def frames_of(x: np.ndarray) -> list[Frame]:
    """Float audio in [-1, 1) at 16 kHz as 30 ms frames (a short last one included)."""
    pcm = (np.clip(x, -1, 0.999) * 32768).astype("<i2").tobytes()
    return list(pcm_frames(pcm))


def loud_room() -> Optional[np.ndarray]:
    """The idle benchmark's recorded room noise (taps, dishes, a bike, hiss), three times
    over, at a loud -35 dBFS; None without the shared recordings."""
    room = room_noise()
    if room is None:
        return None
    x = np.tile(room, 3)
    return x / np.sqrt(np.mean(x * x)) * 10 ** (-35 / 20)


@contextmanager
def options_set(rec, **changes) -> Iterator[None]:
    """rec's options with some fields changed, and put back after: a recognizer shared by a
    module's tests must leave each test as it came."""
    keep = rec.options
    rec.options = replace(keep, **changes)
    try:
        yield
    finally:
        rec.options = keep


@contextmanager
def encoder_passes(rec) -> Iterator[list[int]]:
    """The samples of each encoder pass rec makes inside the block (a segment's decode and
    every view of a second look encode through runtime.encode_audio)."""
    calls: list[int] = []
    encode = rec.runtime.encode_audio

    def counted(audio, at_least=0):
        calls.append(len(audio))
        return encode(audio, at_least)

    rec.runtime.encode_audio = counted
    try:
        yield calls
    finally:
        del rec.runtime.encode_audio


def label(intent) -> str:
    if intent is None:
        return "none"
    return intent.name + ("" if intent.value is None else f"-{intent.value}")


def group(name: str) -> str:
    if name.startswith("none__"):
        return "none"
    return name.split("__")[1].split("-")[0]


def heard(rec, vocab, context=None) -> dict[str, tuple[str, str]]:
    """Every fixture through the recognizer: name -> (expected label, got label).
    context(name) gives the phrases the loop would be listening for then (None: all)."""
    from companion.hearing.files import recognize_file

    out = {}
    for wav in sorted(AUDIO.glob("*.wav")):
        r = recognize_file(rec, vocab, wav, context(wav.name) if context else None)
        out[wav.name] = (wav.name.split("__")[0], label(r.intent))
    return out


def check_groups(outcomes: dict[str, tuple[str, str]], bars: dict[str, float]) -> None:
    groups: dict[str, int] = defaultdict(int)
    for name in outcomes:
        groups[group(name)] += 1
    assert set(groups) == set(bars) and min(groups.values()) >= 10


def check_pass_rate(outcomes: dict[str, tuple[str, str]], bars: dict[str, float],
                    which: str) -> None:
    mine = {n: o for n, o in outcomes.items() if group(n) == which}
    right = [n for n, (want, got) in mine.items() if want == got]
    wrong = {n: got for n, (want, got) in mine.items() if want != got}
    assert len(right) >= bars[which] * len(mine), f"{len(right)}/{len(mine)}; wrong: {wrong}"


def stream_of(names: list[str]) -> tuple[list[Frame], list[tuple[float, float]]]:
    """The fixtures one after another, a second of silence before each, as 30 ms frames,
    and where each one lies in the stream (audio seconds)."""
    parts, where = [], []
    t = 0.0
    for n in names:
        pcm = b"".join(f.pcm for f in WavSource(AUDIO / n).frames())
        parts += [bytes(2 * RATE), pcm]
        t += 1.0
        where.append((t, t + len(pcm) / 2 / RATE))
        t += len(pcm) / 2 / RATE
    stream = b"".join(parts) + bytes(RATE * 2)
    return list(pcm_frames(stream)), where
