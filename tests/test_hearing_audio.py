"""Audio in: WAV parsing of many layouts, resampling, the frame clock, endpointing."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from companion.hearing.endpoint import EndpointConfig, Endpointer, periodicity
from companion.audio.resample import Resampler, resample
from companion.hearing.sources import FRAME_SAMPLES, RATE, Frame, WavSource, with_quiet
from companion.audio.wav import AudioFileError, write_wav
from fixture_names import frames_of, loud_room

AUDIO = Path(__file__).parent / "audio"


def riff(path: Path, data: bytes, rate: int, channels: int, bits: int, tag: int = 1,
         extensible: bool = False) -> Path:
    """A WAV file written by hand, so layouts `wave` cannot write are covered."""
    block = channels * bits // 8
    if extensible:
        fmt = struct.pack("<HHIIHHHHI", 0xFFFE, channels, rate, rate * block, block, bits,
                          22, bits, 0) + struct.pack("<H", tag) + bytes(14)
    else:
        fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * block, block, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"LIST" + struct.pack("<I", 4) + b"INFO"  # a chunk readers must skip
    body += b"data" + struct.pack("<I", len(data)) + data
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


def tone(rate: int, secs: float = 0.5, f: float = 440.0) -> np.ndarray:
    t = np.arange(int(rate * secs)) / rate
    return 0.5 * np.sin(2 * np.pi * f * t)


def samples(path: Path) -> np.ndarray:
    src = WavSource(path)
    return np.frombuffer(b"".join(f.pcm for f in src.frames()), "<i2") / 32768.0


@pytest.mark.parametrize("rate,channels,bits,tag,ext", [
    (16000, 1, 16, 1, False), (8000, 1, 16, 1, False), (44100, 2, 16, 1, False),
    (48000, 1, 24, 1, True), (22050, 1, 8, 1, False), (16000, 2, 32, 3, False),
    (32000, 1, 32, 1, False), (11025, 1, 64, 3, True)])
def test_any_layout_becomes_16k_mono(tmp_path, rate, channels, bits, tag, ext):
    x = tone(rate)
    if tag == 3:
        raw = np.repeat(x, channels).astype("<f4" if bits == 32 else "<f8").tobytes()
    elif bits == 8:
        raw = np.repeat((x * 127 + 128).astype(np.uint8), channels).tobytes()
    elif bits == 24:
        v = (x * (2 ** 23 - 1)).astype("<i4")
        raw = b"".join(int(s).to_bytes(3, "little", signed=True) for s in v)
    else:
        dt = "<i2" if bits == 16 else "<i4"
        raw = np.repeat((x * (2 ** (bits - 1) - 1)).astype(dt), channels).tobytes()
    y = samples(riff(tmp_path / "t.wav", raw, rate, channels, bits, tag, ext))
    assert abs(len(y) - int(round(0.5 * RATE))) <= 1
    ref = tone(RATE)[: len(y)]
    assert np.max(np.abs(y - ref)[200:-200]) < 0.02  # right pitch, right phase, no delay


def test_frames_carry_audio_time(tmp_path):
    path = tmp_path / "a.wav"
    write_wav(path, tone(8000, 1.0), 8000)
    frames = list(WavSource(path).frames())
    assert frames[0].start == 0.0
    assert all(len(f.pcm) == 2 * FRAME_SAMPLES for f in frames[:-1])
    assert frames[10].start == pytest.approx(10 * FRAME_SAMPLES / RATE)
    assert frames[-1].end == pytest.approx(1.0, abs=1e-3)


def test_quiet_around_a_file_keeps_one_clock():
    """A file cut at the word heard as a microphone hears it: silent frames before and
    after, the file's own frames unchanged between, every frame starting where the last
    ended."""
    path = Path(__file__).parent / "audio" / "number-1__fsdd-jackson.wav"
    plain = list(WavSource(path).frames())
    framed = list(with_quiet(WavSource(path).frames(), 0.5))
    n = round(0.5 * RATE / FRAME_SAMPLES)
    assert len(framed) == len(plain) + 2 * n
    assert all(f.pcm == bytes(len(f.pcm)) for f in framed[:n] + framed[-n:])
    assert [f.pcm for f in framed[n:-n]] == [f.pcm for f in plain]
    assert framed[n].start == pytest.approx(n * FRAME_SAMPLES / RATE)
    for a, b in zip(framed, framed[1:]):
        assert b.start == pytest.approx(a.end)
    assert list(with_quiet(iter(()), 0.0)) == []


def test_streaming_resampler_matches_one_shot():
    x = np.random.default_rng(0).normal(0, 0.1, 44100)
    r, parts, i = Resampler(44100, 16000), [], 0
    for k in [1, 7, 500, 3000, 10, 40000, 999999]:
        parts.append(r.feed(x[i:i + k]))
        i += k
    parts.append(r.flush())
    assert np.allclose(np.concatenate(parts), resample(x, 44100, 16000), atol=1e-6)


def test_resampler_removes_what_cannot_be_represented():
    y = resample(tone(48000, 1.0, f=10000), 48000, 16000)  # above the new Nyquist
    assert np.max(np.abs(y[300:-300])) < 0.01


@pytest.mark.parametrize("rate", [383987, 44101, 7919, 1000, 384000])
def test_any_rate_resamples_in_a_bounded_bank_and_stays_accurate(rate):
    """Odd rates (383987 Hz: up 16000, down 383987 after the gcd) used to build a bank of
    9 million coefficients (1 GB while building). Now no bank is over MAX_BANK, outputs
    keep their exact times and length, and a tone comes out within 16-bit noise."""
    from companion.audio.resample import MAX_BANK

    r = Resampler(rate, RATE)
    assert r.bank.size <= MAX_BANK + r.taps
    x = tone(rate, 0.5, f=300.0)
    y = resample(x, rate, RATE)
    assert len(y) == -(-len(x) * RATE // rate)
    ideal = 0.5 * np.sin(2 * np.pi * 300.0 * np.arange(len(y)) / RATE)
    assert np.max(np.abs(y - ideal)[400:-400]) < 1e-4


def test_an_interpolated_bank_streams_like_one_shot():
    x = np.random.default_rng(1).normal(0, 0.1, 44101)
    r, parts, i = Resampler(44101, 16000), [], 0
    assert r.phases < r.up  # the bounded, interpolated bank
    for k in [1, 7, 500, 3000, 10, 40000, 999999]:
        parts.append(r.feed(x[i:i + k]))
        i += k
    parts.append(r.flush())
    assert np.allclose(np.concatenate(parts), resample(x, 44101, 16000), atol=1e-6)


def test_a_fifo_is_not_a_recording(tmp_path):
    import os

    fifo = tmp_path / "live.wav"
    os.mkfifo(fifo)
    with pytest.raises(AudioFileError, match="live.wav: cannot open: not a regular file"):
        WavSource(fifo)
    with pytest.raises(AudioFileError, match="cannot open: no such sound file"):
        WavSource(tmp_path / "missing.wav")


@pytest.mark.parametrize("content,message", [
    (b"", "empty"), (b"hello world, not audio", "not a WAV"),
    (b"RIFF\x24\x00\x00\x00WAVEfmt ", "corrupt or truncated")])
def test_bad_files_name_the_problem(tmp_path, content, message):
    p = tmp_path / "bad.wav"
    p.write_bytes(content)
    with pytest.raises(AudioFileError, match=message):
        WavSource(p)


def test_unsupported_sample_format(tmp_path):
    p = riff(tmp_path / "alaw.wav", bytes(100), 8000, 1, 8, tag=6)
    with pytest.raises(AudioFileError, match="unsupported sample format.*A-law"):
        WavSource(p)
    p = riff(tmp_path / "f16.wav", bytes(100), 8000, 1, 16, tag=3)
    with pytest.raises(AudioFileError, match="16-bit float"):
        WavSource(p)


def test_no_samples(tmp_path):
    with pytest.raises(AudioFileError, match="0 samples"):
        WavSource(riff(tmp_path / "z.wav", b"", 16000, 1, 16))


def _two_words(noise: float) -> tuple[np.ndarray, float, float]:
    """A recorded digit twice, 1.5 s apart, in white noise of the given RMS; returns the
    audio and where the first word starts and ends."""
    word = samples(AUDIO / "number-7__fsdd-jackson.wav")
    gap = np.zeros(int(1.5 * RATE))
    x = np.concatenate([gap, word, gap, word, gap])
    x = x + np.random.default_rng(1).normal(0, noise, len(x))
    loud = np.nonzero(np.abs(word) > 0.05)[0]
    return x, 1.5 + loud[0] / RATE, 1.5 + loud[-1] / RATE


@pytest.mark.parametrize("noise", [0.0, 0.002, 0.01])
def test_endpointer_cuts_each_utterance_soon_after_it_ends(noise):
    """Each word its own segment, with pre-roll before it, ending within ~0.4 s of the
    last sound, also in steady noise (which the WebRTC VAD alone calls speech)."""
    x, start, end = _two_words(noise)
    segs = [s for s in Endpointer().segments(frames_of(x)) if s.end > 1.0]
    assert len(segs) == 2, segs
    assert segs[0].start < start - 0.1          # pre-roll kept
    assert end < segs[0].end < end + 0.45       # short hangover
    assert segs[1].start > segs[0].end + 0.5


def test_endpointer_ignores_silence_and_caps_length():
    quiet = np.zeros(RATE * 3)
    assert list(Endpointer().segments(frames_of(quiet))) == []
    babble = np.concatenate([samples(AUDIO / "yes__sc-yes-0.wav")] * 12)
    segs = list(Endpointer(EndpointConfig(max_length=2.0)).segments(frames_of(babble)))
    assert segs and all(s.end - s.start <= 2.0 + 1e-6 for s in segs)


LOUD_ROOM = loud_room()


@pytest.mark.skipif(LOUD_ROOM is None, reason="no shared speech recordings")
def test_noise_the_vad_lets_through_is_dropped_before_decoding():
    """A minute of the idle benchmark's recorded room noise at a loud -35 dBFS: the WebRTC
    VAD calls much of it speech; without a voice's pitch, half of that never reaches the
    recognizer (taps and a motor's hum are periodic enough to pass)."""
    noise = LOUD_ROOM
    vad_only = list(Endpointer(EndpointConfig(min_periodicity=0)).segments(frames_of(noise)))
    gated = list(Endpointer().segments(frames_of(noise)))
    seconds = lambda segs: sum(s.end - s.start for s in segs)  # noqa: E731
    assert seconds(vad_only) > 0.5 * len(noise) / RATE, "the VAD alone passes most of it"
    assert seconds(gated) < 0.6 * seconds(vad_only)


def test_periodicity_tells_a_voice_from_hiss():
    t = np.arange(RATE) / RATE
    buzz = 0.1 * np.sign(np.sin(2 * np.pi * 140 * t))  # a glottal-like pulse train
    hiss = np.random.default_rng(2).normal(0, 0.1, RATE)
    pcm = lambda x: (x * 32768).astype("<i2").tobytes()  # noqa: E731
    assert periodicity(pcm(buzz)) > 0.9
    assert periodicity(pcm(hiss)) < 0.3
    assert periodicity(bytes(RATE * 2)) == 0.0 and periodicity(b"") == 0.0
