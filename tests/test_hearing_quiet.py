"""Quiet speech (tests/audio/quiet/): a digit said 30 dB under the benchmark's level, over a
real room's noise at -75 dBFS (a quiet room and a modest microphone: someone lying on the
floor, the companion on a shelf). WebRTC's voice detector ignored such a word whatever the
room, so it never reached the recognizer; now it hears each frame lifted by as much as
brings the room's floor up to EndpointConfig.vad_floor_db, and the word is heard. The room's
noise alone, lifted the same, is still no speech (it does not rise over its own floor).
FSDD test-half takes (CC BY-SA 4.0), chosen so at -29, -30 and -31 dB.

Whisper hears such a word worse too (its log-mel is not level-free): a quiet segment is
lifted before its features are taken (whisper_runtime.lifted). Two Speech Commands "stop"s
(dev speakers, CC BY 4.0) are rejected at that level unlifted and heard lifted, chosen so
at -29, -30 and -31 dB."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from companion.audio.levels import FULL_SCALE_DB, frame_levels
from companion.audio.wav import load_16k
from companion.core.vocabulary import Intent
from companion.hearing import whisper_runtime
from companion.hearing.endpoint import EndpointConfig, Endpointer
from companion.hearing.sources import Frame
from fixture_names import frames_of
# The Whisper package skip and the recognizer fixture, as the fixture tests have them.
from test_hearing_recognition import pytestmark, rec  # noqa: F401

AUDIO = Path(__file__).parent / "audio"
DIGITS = sorted((AUDIO / "quiet").glob("number-*.wav"))
STOPS = sorted((AUDIO / "quiet").glob("stop__*.wav"))
WORD_AT, AFTER = 1.5, 0.6  # seconds of room before and after the word
ROOM_DBFS, WORD_DB = -75.0, -30.0
UNLIFTED = replace(EndpointConfig(), vad_floor_db=0.0)


def room(seconds: float) -> np.ndarray:
    """A recorded room's noise (a Speech Commands background clip, repeated) at -75 dBFS."""
    x = load_16k(AUDIO / "none__sc-silence-0.wav").astype(np.float64)
    x = np.tile(x, int(seconds * 16000 // len(x)) + 1)[:int(seconds * 16000)]
    return x / np.sqrt(np.mean(x * x)) * 10 ** (ROOM_DBFS / 20)


def quiet_word(path: Path) -> list[Frame]:
    word = load_16k(path).astype(np.float64) * 10 ** (WORD_DB / 20)
    bed = room(WORD_AT + len(word) / 16000 + AFTER)
    start = int(WORD_AT * 16000)
    bed[start:start + len(word)] += word
    return frames_of(bed)


def test_the_folder_holds_three_digits_and_two_stops():
    assert (len(DIGITS), len(STOPS)) == (3, 2)


@pytest.mark.parametrize("path", DIGITS, ids=lambda p: p.stem)
def test_a_quiet_word_reaches_the_recognizer_only_with_the_detector_lifted(path):
    stream = quiet_word(path)
    assert list(Endpointer(UNLIFTED).segments(stream)) == []
    segs = list(Endpointer().segments(stream))
    assert len(segs) == 1 and segs[0].start < WORD_AT < segs[0].end


@pytest.mark.parametrize("path", DIGITS, ids=lambda p: p.stem)
def test_a_quiet_rating_is_heard(rec, vocab, path):
    allowed = vocab.phrases_at("rating")
    heard = [vocab.parse(u.text) for u in rec.utterances(quiet_word(path),
                                                          expect=lambda: allowed)]
    assert heard == [Intent("number", int(path.name[len("number-")]))]


@pytest.mark.parametrize("path", STOPS, ids=lambda p: p.stem)
def test_a_quiet_stop_is_heard_only_lifted_before_whisper(rec, vocab, path, monkeypatch):
    allowed = vocab.phrases_at("session")
    hear = lambda: [vocab.parse(u.text) for u in  # noqa: E731
                    rec.utterances(quiet_word(path), expect=lambda: allowed)]
    assert hear() == [Intent("stop")]
    monkeypatch.setattr(whisper_runtime, "LIFT_MAX_DB", 0.0)
    assert hear() == []


def level_db(x: np.ndarray) -> float:
    """The loudest 10 ms frame, dBFS."""
    return float((frame_levels(x * 32768.0, 160) - FULL_SCALE_DB).max())


def test_only_a_quiet_segment_over_a_quiet_room_is_lifted():
    at_level = load_16k(AUDIO / "stop__sc-stop-0.wav").astype(np.float32)
    assert level_db(at_level) > whisper_runtime.LIFT_TO_DBFS
    assert whisper_runtime.lifted(at_level) is at_level  # the benchmark's level: as it is
    word = np.pad(load_16k(STOPS[0]).astype(np.float64), (4000, 4000))
    word *= 10 ** ((-32.0 - level_db(word)) / 20)  # a quiet word: its loudest 10 ms at -32 dBFS
    quiet = (room(len(word) / 16000) + word).astype(np.float32)
    assert level_db(whisper_runtime.lifted(quiet)) == pytest.approx(
        whisper_runtime.LIFT_TO_DBFS, abs=0.01)
    faint = (quiet * 0.1).astype(np.float32)   # 20 dB further down: at most 30 dB of lift
    assert level_db(faint) < whisper_runtime.LIFT_TO_DBFS - 30
    assert level_db(whisper_runtime.lifted(faint)) == pytest.approx(level_db(faint) + 30, abs=0.05)
    # The same word over a room at -40 dBFS: lifting it would lift the room over -45 dBFS.
    noisy = (room(len(word) / 16000) * 10 ** (35 / 20) + word).astype(np.float32)
    assert level_db(noisy) < whisper_runtime.LIFT_TO_DBFS
    assert whisper_runtime.lifted(noisy) is noisy


def test_the_quiet_room_alone_is_no_speech_lifted_or_not():
    stream = frames_of(room(10.0))
    assert list(Endpointer().segments(stream)) == []
    assert list(Endpointer(UNLIFTED).segments(stream)) == []



def test_digital_silence_is_no_room_and_lifts_nothing():
    """Between recordings joined with digital silence (a file, a muted source) the floor is
    zero: lifting by the most would make a clip's own faint noise speech. Such a stream is
    cut where it was cut before the lift."""
    gap = np.zeros(16000)
    clips = [load_16k(AUDIO / n).astype(np.float64) for n in
             ("stop__sc-stop-0.wav", "stop__sc-stop-1.wav", "no__sc-no-0.wav")]
    stream = frames_of(np.concatenate([part for c in clips for part in (gap, c)] + [gap, gap]))
    cuts = lambda config: [(s.start, s.end) for s in Endpointer(config).segments(stream)]  # noqa: E731
    assert cuts(EndpointConfig()) == cuts(UNLIFTED) != []
