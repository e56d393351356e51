"""The arithmetic on Whisper's rows (hearing/whisper_scoring.py), on rows written by hand: a
phrase's score, where the free transcript stops, and which phrases the cheap search puts
forward. The engine's own tests hear real recordings through all of it."""

from __future__ import annotations

import re

import numpy as np
import pytest

from companion.hearing.grammar import TokenGrammar
from companion.hearing.whisper_scoring import RowScorer

SIZE = 64  # room for every token the grammar's spellings and frames give the toy tokenizer
EOT = SIZE - 1  # as in Whisper, end-of-text and the special tokens come after the text ones
VOCAB: dict[str, int] = {"<eot>": EOT}


def encode(text: str) -> list[int]:
    """A toy tokenizer: a word with its leading space, or a mark, is one token."""
    return [VOCAB.setdefault(t, len(VOCAB)) for t in re.findall(r" ?\w+|[^\w\s]", text)]


GRAMMAR = TokenGrammar(["stop", "next", "pain six"], encode)
assert len(VOCAB) < SIZE


def rows(*favoured: dict[str, float], floor: float = -20.0) -> np.ndarray:
    """One row per step: the tokens named get these log-probabilities, the rest `floor`."""
    out = np.full((len(favoured), SIZE), floor)
    for i, probs in enumerate(favoured):
        for token, lp in probs.items():
            out[i, VOCAB[token]] = lp
    return out


@pytest.fixture
def scorer() -> RowScorer:
    return RowScorer(EOT, GRAMMAR.end_tokens)


def test_a_phrase_is_its_tokens_then_its_ending(scorer):
    r = rows({" Stop": -0.5}, {".": -1.0, "<eot>": -1.0})
    seq = (VOCAB[" Stop"],)
    assert scorer.path(r, seq) == pytest.approx(-0.5)
    # Ending is any closing mark or end-of-text: their probabilities add up.
    assert scorer.end(r[1]) == pytest.approx(np.log(2 * np.exp(-1.0)))
    assert scorer.exact(r, seq) == pytest.approx(-0.5 + np.log(2 * np.exp(-1.0)))


def test_the_free_transcript_stops_where_it_starts_again(scorer):
    stop, dot = VOCAB[" Stop"], VOCAB["."]
    ids = [stop, dot, stop, dot, stop]   # greedy on a short word: "Stop. Stop. Stop"
    r = rows({" Stop": -0.2}, {".": -0.3}, {" Stop": -0.4}, {".": -0.5}, {" Stop": -0.6},
             {"<eot>": -0.1})
    kept, score = scorer.first_sentence(ids, r)
    assert kept == [stop]                      # its closing mark is the ending, not a word
    assert score == pytest.approx(-0.2 + scorer.end(r[1]))


def test_talk_past_the_cap_keeps_the_score_it_has(scorer):
    ids = [VOCAB[" pain"], VOCAB[" six"]]       # no ending within the rows decoded
    r = rows({" pain": -1.0}, {" six": -2.0})
    assert scorer.first_sentence(ids, r) == (ids, pytest.approx(-3.0))


def test_the_search_puts_the_likelier_phrase_first_and_a_bonus_can_turn_it(scorer):
    trie = GRAMMAR.trie(["stop", "next", "pain six"])
    free = rows({" Stop": -0.3, " Next": -0.6, " stop": -3.0, " next": -3.0},
                {".": -1.0, "<eot>": -1.5}, {"<eot>": -0.1})
    first = scorer.candidates(trie, {}, free, 2, {})
    assert [trie.phrase_at(c) for c in first] == ["stop", "next"]
    # A context's log-odds (a number after "rate your pain") count where a phrase ends.
    turned = scorer.candidates(trie, {}, free, 2, {"next": 1.0})
    assert [trie.phrase_at(c) for c in turned] == ["next", "stop"]
    # Only as many as asked for, each phrase once however many spellings it has.
    assert [trie.phrase_at(c) for c in scorer.candidates(trie, {}, free, 1, {})] == ["stop"]
