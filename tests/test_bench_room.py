"""`bench recognition --farther DB --reverb RT60` (bench/room.py): a recording as heard from
across a room, rendered from the project's own recordings and measured here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from companion.audio.levels import FULL_SCALE_DB, frame_levels
from companion.audio.wav import load_16k
from companion.bench.room import LEAD_S, ROOM_DBFS, TAIL_S, Room, heard_in, response

AUDIO = Path(__file__).parent / "audio"
RATE = 16000
WORD = AUDIO / "stop__sc-stop-0.wav"
NOISES = sorted(AUDIO.glob("none__sc-silence-*.wav"))


def test_the_room_response_falls_60_db_in_rt60_and_carries_the_echo_asked_for():
    rng = np.random.default_rng(3)
    h = response(0.5, 5.0, rng)
    assert h[0] == 1.0 and not h[1:int(0.003 * RATE)].any()   # the direct sound, then a gap
    echo = h[1:]
    assert 10 * np.log10(np.sum(echo ** 2)) == pytest.approx(5.0, abs=0.01)
    # The echo's level 0.1 s and 0.35 s in: 0.25 s of a 0.5 s RT60 is 30 dB of fall.
    def level_at(t: float) -> float:
        part = echo[int(t * RATE):int((t + 0.02) * RATE)]
        return 10 * np.log10(np.mean(part ** 2))
    assert level_at(0.1) - level_at(0.35) == pytest.approx(30.0, abs=3.0)


def test_a_word_farther_off_is_quieter_over_the_room_and_written_once(tmp_path):
    assert NOISES, "the project's own room noise recordings are missing"
    out = heard_in(Room(farther_db=30.0), WORD, NOISES, tmp_path)
    word = load_16k(WORD)
    heard = load_16k(out)
    lead, tail = int(LEAD_S * RATE), int(TAIL_S * RATE)
    assert abs(len(heard) - (lead + len(word) + tail)) <= 1
    # Before the word: the room alone, at its level.
    room_db = 10 * np.log10(np.mean(heard[:lead].astype(np.float64) ** 2))
    assert room_db == pytest.approx(ROOM_DBFS, abs=1.0)
    # The word's loudest 10 ms, 30 dB under the recording's own.
    loudest = frame_levels((word * 32768).astype(np.float64), 160).max()
    there = frame_levels((heard[lead:lead + len(word)] * 32768).astype(np.float64), 160).max()
    assert loudest - there == pytest.approx(30.0, abs=1.0)
    assert there - FULL_SCALE_DB > ROOM_DBFS + 20  # still well over the room
    # Rendered once: asked again, the same file, not written anew.
    stamp = out.stat().st_mtime_ns
    assert heard_in(Room(farther_db=30.0), WORD, NOISES, tmp_path) == out
    assert out.stat().st_mtime_ns == stamp


def test_the_echo_rings_on_after_the_word(tmp_path):
    dry = load_16k(heard_in(Room(), WORD, NOISES, tmp_path))
    wet = load_16k(heard_in(Room(rt60_s=0.6, reverb_db=3.0), WORD, NOISES, tmp_path))
    lead, n = int(LEAD_S * RATE), len(load_16k(WORD))
    # The echo's whole tail (1.2 RT60: down 72 dB), then as much room as after a dry word.
    ring = len(response(0.6, 3.0, np.random.default_rng(0))) - 1
    assert abs(len(wet) - (len(dry) + ring)) <= 1

    def level(x: np.ndarray) -> float:
        return 10 * np.log10(np.mean(x.astype(np.float64) ** 2))
    # Just after the word ends the dry take is back to the room; the room still rings.
    after = slice(lead + n, lead + n + int(0.1 * RATE))
    assert level(wet[after]) > level(dry[after]) + 10
