"""The Whisper runtime's teacher-forced scoring (WhisperRuntime.forced), on a real
recording: however many sequences are asked for, no decoder call holds more than
FORCED_BATCH of them (each row keeps the whole vocabulary's logits for every step: eight
at once were the soak's peak memory), and each sequence gets the rows it gets alone."""

from __future__ import annotations

from pathlib import Path
import wave

import numpy as np

from companion.hearing import whisper_runtime
# The Whisper package skip and the recognizer fixture, as the fixture tests have them.
from test_hearing_recognition import pytestmark, rec  # noqa: F401

WAV = Path(__file__).parent / "audio" / "said" / "next__espeak-okay-next-en-us-f2-175-10dB.wav"
PHRASES = ("next", "okay next", "start neck routine", "pain six", "hold longer", "stop",
           "how long left", "repeat that", "it feels sharp")


class Counting:
    """The CTranslate2 model, its generate calls' batch sizes written down."""

    def __init__(self, model) -> None:
        self.model, self.batches = model, []

    def generate(self, features, prompts, **kw):
        self.batches.append(len(prompts))
        return self.model.generate(features, prompts, **kw)

    def __getattr__(self, name):
        return getattr(self.model, name)


def test_forced_scoring_is_split_into_small_calls_with_the_same_rows(rec):
    runtime = rec.runtime
    with wave.open(str(WAV)) as w:  # the fixtures are 16 kHz mono int16
        pcm = w.readframes(w.getnframes())
    audio = np.frombuffer(pcm, dtype=np.int16).astype(np.float32) / 32768
    _, enc = runtime.encode_audio(audio)
    seqs = [tuple(runtime.tokens(p)) for p in PHRASES]
    counting = Counting(runtime._model)
    runtime._model = counting
    try:
        together = runtime.forced(enc, seqs)
        alone = [runtime.forced(enc, [s])[0] for s in seqs]
    finally:
        runtime._model = counting.model
    n, size = len(seqs), whisper_runtime.FORCED_BATCH
    assert counting.batches[:-n] == [min(size, n - i) for i in range(0, n, size)]
    assert max(counting.batches) <= size < n
    assert size <= 4  # eight rows a call took the 2-hour soak to 255 MB (budget: 250)
    for seq, rows, own in zip(seqs, together, alone):
        assert rows.shape == own.shape == (len(seq) + 1, own.shape[1])
        path = [rows[i, t] for i, t in enumerate(seq)]
        assert np.allclose(path, [own[i, t] for i, t in enumerate(seq)], atol=0.05)


def test_onednn_keeps_a_few_shapes_unless_the_user_said_otherwise(monkeypatch):
    """oneDNN's cache of compiled shapes is what grew the soak by ~17 MB (bench soak measures
    the memory); the runtime bounds it before CTranslate2 loads, and a value set by the
    user stays as set."""
    var = "ONEDNN_PRIMITIVE_CACHE_CAPACITY"
    monkeypatch.delenv(var, raising=False)
    whisper_runtime.WhisperRuntime("tiny.en", threads=1)
    assert whisper_runtime.os.environ[var] == str(whisper_runtime.ONEDNN_SHAPES)
    assert 0 < whisper_runtime.ONEDNN_SHAPES < 1024  # oneDNN's own default: no bound
    monkeypatch.setenv(var, "3")
    whisper_runtime.WhisperRuntime("tiny.en", threads=1)
    assert whisper_runtime.os.environ[var] == "3"
