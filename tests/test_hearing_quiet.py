"""Quiet speech (tests/audio/quiet/): a digit said 30 dB under the benchmark's level, over a
real room's noise at -75 dBFS (a quiet room and a modest microphone: someone lying on the
floor, the companion on a shelf). WebRTC's voice detector ignored such a word whatever the
room, so it never reached the recognizer; now it hears each frame lifted by as much as
brings the room's floor up to EndpointConfig.vad_floor_db, and the word is heard. The room's
noise alone, lifted the same, is still no speech (it does not rise over its own floor).
FSDD test-half takes (CC BY-SA 4.0), chosen so at -29, -30 and -31 dB."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from companion.audio.wav import load_16k
from companion.core.vocabulary import MOMENTS, Intent
from companion.hearing.endpoint import EndpointConfig, Endpointer
from companion.hearing.sources import Frame
from fixture_names import frames_of
# The Whisper package skip and the recognizer fixture, as the fixture tests have them.
from test_hearing_recognition import pytestmark, rec  # noqa: F401

AUDIO = Path(__file__).parent / "audio"
DIGITS = sorted((AUDIO / "quiet").glob("number-*.wav"))
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


def test_the_folder_holds_three_digits():
    assert len(DIGITS) == 3


@pytest.mark.parametrize("path", DIGITS, ids=lambda p: p.stem)
def test_a_quiet_word_reaches_the_recognizer_only_with_the_detector_lifted(path):
    stream = quiet_word(path)
    assert list(Endpointer(UNLIFTED).segments(stream)) == []
    segs = list(Endpointer().segments(stream))
    assert len(segs) == 1 and segs[0].start < WORD_AT < segs[0].end


@pytest.mark.parametrize("path", DIGITS, ids=lambda p: p.stem)
def test_a_quiet_rating_is_heard(rec, vocab, path):
    allowed = vocab.phrases_for(MOMENTS["rating"])
    heard = [vocab.parse(u.text) for u in rec.utterances(quiet_word(path),
                                                          expect=lambda: allowed)]
    assert heard == [Intent("number", int(path.name[len("number-")]))]


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
