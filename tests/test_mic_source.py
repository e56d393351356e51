"""The microphone source on a real PortAudio device (the virtual sound card's microphone).
Lost audio is a fault injected as PortAudio and a stalled reader would cause it: an input
overflow flag in the callback, a full queue."""

from __future__ import annotations

import logging

import pytest

from companion.hearing.sources import FRAME_BYTES, MicSource


@pytest.fixture
def sd(virtual_audio):
    import sounddevice   # only now: the sound card is up
    return sounddevice


def _overflow(sd):
    return sd.CallbackFlags(2)   # paInputOverflow: PortAudio dropped input before us


def test_cut_audio_is_reported_once_a_minute(sd, caplog):
    """A machine too busy to keep up loses audio on its way in, and commands with it: the
    user is told why, once, not at every cut."""
    mic = MicSource(None)
    caplog.set_level(logging.WARNING, logger="companion.hearing.sources")
    frames = mic.frames()
    first = next(frames)
    assert len(first.pcm) == FRAME_BYTES and mic.overflows == 0
    mic._callback(b"\0" * FRAME_BYTES, FRAME_BYTES // 2, None, _overflow(sd))
    for _ in range(5):
        next(frames)
    mic._callback(b"\0" * FRAME_BYTES, FRAME_BYTES // 2, None, _overflow(sd))
    for _ in range(5):
        next(frames)
    mic.close()
    list(frames)
    cuts = [r.getMessage() for r in caplog.records if "audio was cut" in r.getMessage()]
    assert mic.overflows == 2
    assert cuts == ["the microphone's audio was cut 1 time so far: this machine is too busy "
                    "to keep up, and commands may be missed"]


def test_a_reader_that_falls_behind_counts_what_it_lost(sd):
    mic = MicSource(None, max_queue=2)
    for _ in range(3):      # the stream is not open: only these blocks are queued
        mic._callback(b"\0" * FRAME_BYTES, FRAME_BYTES // 2, None, None)
    assert mic.dropped == 1


def test_audio_time_counts_the_blocks_a_slow_reader_lost(sd):
    """Dropped blocks still took their time in the room: the next block is timed after
    them, so audio time (session timers, where our own voice's echo is expected) keeps
    step with the room instead of falling behind by every drop."""
    from companion.hearing.sources import FRAME_SAMPLES

    mic = MicSource(None, max_queue=2)
    block = [bytes([i]) * FRAME_BYTES for i in range(5)]
    for b in block[:3]:     # the reader is behind: the third block does not fit
        mic._callback(b, FRAME_SAMPLES, None, None)
    frames = mic._queued()
    got = [next(frames)]
    mic._callback(block[3], FRAME_SAMPLES, None, None)   # room again: queued, after the gap
    got.append(next(frames))
    mic._callback(block[4], FRAME_SAMPLES, None, None)
    got += [next(frames), next(frames)]
    assert [f.pcm for f in got] == [block[0], block[1], block[3], block[4]]
    step = FRAME_SAMPLES / 16000
    assert [round(f.start / step) for f in got] == [0, 1, 3, 4]   # block 2's time kept
    assert mic.dropped == 1


def test_backlog_is_the_audio_delivered_but_not_yet_read(sd):
    from companion.hearing.sources import FRAME_SAMPLES, RATE

    mic = MicSource(None)
    assert mic.backlog_s() == 0.0
    for _ in range(4):      # the stream is not open: only these blocks are queued
        mic._callback(b"\0" * FRAME_BYTES, FRAME_BYTES // 2, None, None)
    assert mic.backlog_s() == 4 * FRAME_SAMPLES / RATE
