"""How a token sequence is scored from the model's rows (row i: the log-probabilities of the
next token after the first i tokens): its tokens, its ending, the free transcript's first
sentence, and the cheap search for the phrases worth scoring for real. Pure: rows in,
numbers out, no decoder call, so the engine's flow (whisper_engine.py) reads apart from
its arithmetic."""

from __future__ import annotations

import heapq
from typing import Collection, Sequence

import numpy as np

from companion.hearing.grammar import Trie

class RowScorer:
    """Scores against one model's special tokens: `eot` (end of text and everything after
    it: timestamps, the prompt's tokens) and `end_marks` (the tokens of ".", "!", "?"...:
    a transcript that closes with one has ended)."""

    def __init__(self, eot: int, end_marks: Collection[int]) -> None:
        self.eot = eot
        self.end_marks = frozenset(end_marks)
        self._end_ids = np.array(sorted(self.end_marks | {eot}))

    @staticmethod
    def path(rows: np.ndarray | Sequence[np.ndarray], seq: tuple[int, ...]) -> float:
        """The log-probability of a sequence's tokens, from its rows."""
        return sum(float(rows[i][t]) for i, t in enumerate(seq))

    def exact(self, rows: np.ndarray | Sequence[np.ndarray], seq: tuple[int, ...]) -> float:
        """A sequence's log-probability from its rows: its tokens, then ending there."""
        return self.path(rows, seq) + self.end(rows[len(seq)])

    def end(self, row: np.ndarray) -> float:
        """Log-probability that the transcript ends here (end-of-text or a closing mark)."""
        ends = row[self._end_ids]
        return float(ends.max() + np.log(np.exp(ends - ends.max()).sum()))

    def first_sentence(self, ids: list[int], rows: np.ndarray) -> tuple[list[int], float]:
        """The free transcript, scored like a phrase (its tokens, then ending), up to where
        it starts again: greedy decoding of a short input often repeats itself ("Stop.
        Stop. Stop."). Talk that goes on past the cap keeps the score it has so far."""
        end = len(ids)
        for i, t in enumerate(ids):
            repeats = i > 0 and (t == ids[0] or (t in self.end_marks and i + 1 < len(ids)
                                                 and ids[i + 1] == ids[0]))
            if t >= self.eot or repeats:
                end = i
                break
        while end > 0 and ids[end - 1] in self.end_marks:  # "Stop." ends at "Stop"
            end -= 1
        score = float(sum(rows[i][ids[i]] for i in range(end)))
        return ids[:end], score + (self.end(rows[end]) if end < len(rows) else 0.0)

    def candidates(self, trie: Trie, cache: dict, free_rows: np.ndarray, n: int,
                   bonus: dict[str, float]) -> list[tuple[int, ...]]:
        """The n most probable phrases by a cheap estimate: known rows where the prefix
        lies on the free path, elsewhere the free path's row at the same depth (what the
        model expected next at that point of the audio)."""
        heap: list[tuple[float, bool, tuple[int, ...], str]] = [(0.0, False, (), "")]
        found: list[tuple[int, ...]] = []
        seen: set[str] = set()
        last = len(free_rows) - 1
        while heap and len(found) < n:
            cost, done, prefix, phrase = heapq.heappop(heap)
            if done:
                if phrase not in seen:
                    seen.add(phrase)
                    found.append(prefix)
                continue
            row = cache.get(prefix)
            if row is None:
                row = free_rows[min(len(prefix), last)]
            for tok in trie.next_tokens(prefix):
                heapq.heappush(heap, (cost - float(row[tok]), False, prefix + (tok,), ""))
            spelled = trie.phrase_at(prefix)
            if spelled is not None:
                heapq.heappush(heap, (cost - self.end(row) - bonus.get(spelled, 0.0),
                                      True, prefix, spelled))
        return found
