"""Whisper (CTranslate2, int8) decoded against the command grammar.

Per endpointed segment: log-mel features of the segment plus a little trailing silence
(never a 30 s pad), one encoder pass (the model's calls are whisper_runtime.py's, the
arithmetic on the rows they return whisper_scoring.py's), then:
1. free pass: greedy and unconstrained, as long as the longest phrase. Its rows are the
   model's next-token distributions along its own path; its first sentence and score say
   what the model itself thinks was said.
2. estimate: a uniform-cost search over a token trie of every spelling of every allowed
   phrase, using the real rows on the free path and, off it, the free path's row at the same
   depth (what the model expected next at that point of the audio). No decoder call.
3. rank: the estimated best few scored for real, each closed by a full stop, in one batched
   teacher-forced decoder call whose rows also give the winner's exact score. An answer
   just asked for (a number, yes or no) is lifted, but gives way to a command below it that
   passes the rules unlifted.
Rejection uses what the model knows: its no-speech probability, the phrase's probability,
and how far it trails the free transcript's. A segment rejected by a little gets a second
look: the same audio 10 % faster and 10 % slower, each encoded again and the first decode's
best few phrases and free transcript scored on it in one forced call; it is accepted only
when both views rank the same phrase first, both come as close and one clears the rules.
Before that, a rejected phrase is taken when the free transcript is the same sound spelled
as other words, word for word ("file" for five; sounds.py), or frames a routine's start
whose name alone was not made out ("Start that routine"); and an accepted phrase whose
transcript runs on into a likely sentence ("Next week we're visiting") is talk.
The user's own takes (taught by `companion enroll`, and learned from what the loop acted on:
acted_on) are matched too, and outvote the model, except against a safety word."""

from __future__ import annotations

import difflib
from dataclasses import replace
from typing import Any, Callable, Collection, NamedTuple, Optional, Sequence

import numpy as np

from companion.hearing import mel
from companion.hearing.grammar import TokenGrammar, Trie
from companion.hearing.learned_file import LearnedFile
from companion.hearing.recognizer import Hearing, Recognizer
from companion.core.interfaces import Utterance
from companion.hearing.templates import speech_span
from companion.hearing.user_voice import UserVoice
from companion.hearing.sounds import alike
from companion.hearing.whisper_rules import (Decoded, WhisperOptions, name_unheard,
                                             sounds_alike, spelled_as_command, talk_after,
                                             verdict, weak_yes_no)
from companion.hearing.whisper_scoring import RowScorer
from companion.hearing.whisper_runtime import (FRAME_SAMPLES, WhisperRuntime, pcm_to_float,
                                               stretch)
from companion.core.vocabulary import (ANSWER_INTENTS, NUMBER_WORDS, RATING_INTENTS,
                                       Vocabulary, normalize)


class _Context(NamedTuple):
    """What a decode leaves for the taught voice and for a second look at its audio."""

    enc: Any                       # the encoder's output
    ranked: list[tuple[int, ...]]  # candidate phrases' tokens, best first
    free_ids: list[int]            # the free transcript's tokens
    bonus: dict[str, float]        # the context's log-odds per phrase
    trie: Trie


class WhisperRecognizer(Recognizer):
    engine = "whisper"

    def __init__(self, vocabulary: Vocabulary, options: WhisperOptions = WhisperOptions()
                 ) -> None:
        super().__init__(vocabulary)
        self.options = options
        self.runtime = rt = WhisperRuntime(options.model, options.threads, options.tail_s,
                                           options.bucket_s)
        self.model_name, self.model_path = rt.name, rt.folder
        self.phrases = self.vocabulary.grammar_phrases()
        self.grammar = TokenGrammar(self.phrases, rt.tokens)
        self.scorer = RowScorer(rt.eot, self.grammar.end_tokens)
        self._dot = rt.tokens(".")[0]
        self._tries: dict[frozenset[str], Trie] = {}
        self._answers = vocabulary.phrases_for(ANSWER_INTENTS)
        self._ratings = vocabulary.phrases_for(RATING_INTENTS)
        self._all = frozenset(self.phrases)
        # The user's own takes: taught (`companion enroll`; make_recognizer sets
        # user.taught) and learned from what the loop acted on (acted_on).
        self.user = UserVoice(rt.name, vocabulary.parse)
        self.learned_file: Optional[LearnedFile] = None  # where user.learned is kept, if any

    def _trie(self, allowed: frozenset[str]) -> Trie:
        if allowed not in self._tries:
            if len(self._tries) > 16:  # contexts are few; custom sets must not pile up
                self._tries.clear()
            self._tries[allowed] = self.grammar.trie(allowed)
        return self._tries[allowed]

    def _rank_score(self, rows: np.ndarray, seq: tuple[int, ...], ctx: "_Context") -> float:
        """What candidates are ranked by: tokens closed by a full stop (whose probability
        tells a whole phrase from one cut short better than any ending's), plus the
        context's log-odds, per token raised to the length penalty."""
        total = self.scorer.path(rows, seq) + float(rows[len(seq)][self._dot])
        return ((total + ctx.bonus.get(ctx.trie.phrase_at(seq) or "", 0.0))
                / (len(seq) + 1) ** self.options.length_penalty)

    def voice_frames(self, pcm: bytes) -> np.ndarray:
        """The encoder's frames for the word in one segment of 16 kHz mono int16 audio (50 a
        second; templates.speech_span; none for steady noise): what a taught take is kept
        as, and matched by."""
        return self._frames(self.runtime.encode_audio(pcm_to_float(pcm))[1], pcm)

    @staticmethod
    def _frames(enc: Any, pcm: bytes) -> np.ndarray:
        span = speech_span(pcm, FRAME_SAMPLES)
        first, last = span if span else (0, -1)  # steady noise: no frames, nothing matches
        return np.array(np.asarray(enc)[0, first: last + 1], dtype=np.float32)

    def analyse(self, pcm: bytes, allowed: Optional[Collection[str]] = None) -> Decoded:
        """Encode one segment of 16 kHz mono int16 audio, decode it freely, then find the
        most probable allowed phrase."""
        return self._analyse(pcm, allowed)[0]

    def _analyse(self, pcm: bytes, allowed: Optional[Collection[str]]
                 ) -> tuple[Decoded, _Context]:
        """analyse(), and what it leaves for the taught voice and a second look."""
        o = self.options
        audio = pcm_to_float(pcm)
        seconds = len(audio) / mel.RATE
        _, enc = self.runtime.encode_audio(audio)
        trie = self._trie(frozenset(allowed if allowed is not None else self.phrases))
        rows, res = self.runtime.rows(enc, (), trie.depth + 2)
        ids = [int(t) for t in res.sequences_ids[0]]
        cache = {tuple(ids[:i]): rows[i] for i in range(len(rows))}
        free_ids, free_score = self.scorer.first_sentence(ids, rows)
        free_text = self.runtime.text(free_ids)
        no_speech = float(res.no_speech_prob)
        bonus = dict.fromkeys(self._favoured(trie.phrases), o.answer_prior)
        ctx = _Context(enc, [], free_ids, bonus, trie)
        ctx = ctx._replace(ranked=self._ranked(ctx, cache, rows, free_text))
        if not ctx.ranked:
            return Decoded(free_text, free_score, no_speech, "", -1e9, seconds, 0), ctx
        seq = ctx.ranked[0]
        calls = 1
        if seq not in cache:  # a lone candidate off the free path: its rows, exactly
            calls += 1
            for i, row in enumerate(self.runtime.forced(enc, [seq])[0]):
                cache.setdefault(seq[:i], row)
        score = self._cached_score(seq, cache)
        assert score is not None  # every row of seq is in the cache now
        best = trie.phrase_at(seq) or ""
        d = Decoded(free_text, free_score, no_speech, best, score, seconds, calls, len(seq),
                    bonus.get(best, 0.0))
        if d.prior > 0 and o.answers_yield:
            d, ctx = self._unlifted(d, ctx, cache)
        if o.safety_lead is not None and not self._is_safety(d.best):
            d, ctx = self._safety_below(d, ctx, cache)
        return d, ctx

    def _safety_below(self, d: Decoded, ctx: _Context, cache: dict
                      ) -> tuple[Decoded, _Context]:
        """The best safety phrase ranked below the command ranked first, taken instead when
        it comes within options.safety_lead a token of it and clears the safety words'
        rules ("sharp" ranked just under "short")."""
        lead = self.options.safety_lead or 0.0
        below = self._ranked_below(d, ctx, cache, self._is_safety)
        if below is not None:
            seq, safe = below
            if (safe.best_score / safe.tokens >= d.best_score / max(d.tokens, 1) - lead
                    and self._verdict(safe)[0]):
                return safe, self._first(ctx, seq)
        return d, ctx

    def _unlifted(self, d: Decoded, ctx: _Context, cache: dict) -> tuple[Decoded, _Context]:
        """An answer ranked first by its lift gives way to the best command ranked below it
        that clears the rules on its own: a "stop" or "help" said as the rating question
        is asked is that command, not the number the lift made of it ("it's ten")."""
        below = self._ranked_below(d, ctx, cache, lambda phrase: phrase not in ctx.bonus)
        if below is not None:
            seq, plain = below
            if self._verdict(plain)[0] and not self._talk(plain):
                return plain, self._first(ctx, seq)
        return d, ctx  # only the best command: one that fails yields nothing

    def _ranked_below(self, d: Decoded, ctx: _Context, cache: dict,
                      which: Callable[[str], bool]
                      ) -> Optional[tuple[tuple[int, ...], Decoded]]:
        """The best-ranked spelling below d's whose phrase `which` holds for, and the
        phrase in d's place as it scores on its own (no lift): its rows are in the cache,
        the ranking scored it."""
        for seq in ctx.ranked[1:]:
            phrase = ctx.trie.phrase_at(seq) or ""
            score = self._cached_score(seq, cache) if which(phrase) else None
            if score is not None:
                return seq, replace(d, best=phrase, best_score=score, tokens=len(seq),
                                    prior=0.0)
        return None

    @staticmethod
    def _first(ctx: _Context, seq: tuple[int, ...]) -> _Context:
        """ctx with `seq` ranked first (what a second look starts from)."""
        return ctx._replace(ranked=[seq] + [c for c in ctx.ranked if c != seq])

    def _cached_score(self, seq: tuple[int, ...], cache: dict) -> Optional[float]:
        """seq's exact log-probability from the rows in the cache; None if one is missing."""
        if any(seq[:i] not in cache for i in range(len(seq) + 1)):
            return None
        return self.scorer.exact([cache[seq[:i]] for i in range(len(seq) + 1)], seq)

    def _unwritten(self, phrase: str, free_text: str) -> bool:
        """A rating whose number the model's own transcript does not have ("on" taken for
        "one", "Bye" for "five"): it won by the lift a question gives, and is asked back.
        Dev and test, first decodes: 36 of 42 and 17 of 19 ratings made of words and noise
        are so, and 112 of 498 and 99 of 455 ratings said."""
        if phrase not in self._ratings:
            return False
        value = self.vocabulary.phrases[phrase].value
        return NUMBER_WORDS[int(str(value))] not in normalize(free_text).split()

    def _favoured(self, allowed: set[str]) -> set[str]:
        """The answers to what was just asked: the allowed ones among numbers and yes/no,
        and, when a number is asked for, "pain six" as much as "six". Only a context that
        asked (not "everything", which knows nothing of the moment) favours any."""
        if allowed == self._all:
            return set()
        asked = allowed & self._answers
        if asked & self._ratings:
            asked |= allowed & self._ratings
        return asked

    def _ranked(self, ctx: _Context, cache: dict, free_rows: np.ndarray, free_text: str
                ) -> list[tuple[int, ...]]:
        """The estimated candidates, and those spelled nearest the free transcript, best
        first by their real rows (one batched forced call; the rows go into the cache, so
        the winner is then scored exactly without another)."""
        trie = ctx.trie
        cands = self.scorer.candidates(trie, cache, free_rows, self.options.candidates,
                                       ctx.bonus)
        if self.options.near and free_text:
            said = normalize(free_text)
            for p in difflib.get_close_matches(said, sorted(trie.phrases), self.options.near, 0.6):
                seq = trie.sequence(p)
                if seq not in cands:
                    cands.append(seq)
        if len(cands) < 2:
            return cands
        scores = []
        for c, rows in zip(cands, self.runtime.forced(ctx.enc, cands)):
            for i, row in enumerate(rows):
                cache.setdefault(c[:i], row)
            scores.append(self._rank_score(rows, c, ctx))
        return [cands[i] for i in sorted(range(len(cands)), key=lambda i: -scores[i])]

    def judge(self, d: Decoded) -> Hearing:
        """Accept or reject one decode; confidence falls as the phrase trails the free
        transcript."""
        ok, conf = self._verdict(d)
        if ok and self._talk(d):
            ok = False
        elif not ok:  # rescued by its frame or its sound: confidence stays the rules' (low)
            o = self.options
            if self._means(d.best, "start_routine"):
                # Not by sound: talk while waiting is what the companion hears all day, and
                # "start the car" is a sound from "start the calf".
                ok = self._names_inside(d.best) and name_unheard(d, o)
            else:
                ok = sounds_alike(d, alike, o) and not (self._is_yes_no(d.best)
                                                        and weak_yes_no(d, o))
        return Hearing(d.best if ok else "", conf, d.free_text, d.best)

    def _verdict(self, d: Decoded, mean_slack: float = 0.0, gap_slack: float = 0.0,
                 options: Optional[WhisperOptions] = None) -> tuple[bool, float]:
        return verdict(d, options or self.options, self._is_safety(d.best), mean_slack,
                       gap_slack, self._is_yes_no(d.best))

    def _near(self, d: Decoded, options: Optional[WhisperOptions] = None) -> bool:
        o = self.options
        return self._verdict(d, o.look_mean, o.look_margin, options)[0]

    def _second_look(self, pcm: bytes, d: Decoded, ctx: _Context) -> Optional[Hearing]:
        """A rejected decode that came close, looked at again: the same audio resampled to
        each of options.second_look's lengths (_view). The phrase is accepted when every
        view ranks it first and comes as close, and at least one view clears the rules
        outright; None otherwise (also when d was not a near miss). Stops at the first view
        that disagrees."""
        views = self.options.second_look
        if (not views or not self._near(d) or self._talk(d)
                or any(self._means(d.best, kind) for kind in self.options.look_never)):
            return None
        audio = np.frombuffer(pcm, dtype=np.int16).astype(np.float32)
        # A view's free text is the first decode's, forced, and may fit the view far worse
        # than a free pass of its own would. For a safety word, whose miss is worse than a
        # false stop, its floor (min_free_multi) is left to the first decode, which passed
        # it; for anything else the view must pass it too ("on" was heard as "hold on").
        lenient = (replace(self.options, min_free_multi=-np.inf)
                   if self._is_safety(d.best) else self.options)
        cleared, conf = False, 0.0
        for factor in views:
            v = self._view(stretch(audio, factor), d, ctx)
            if v.best != d.best or not self._near(v, lenient):
                return None
            ok, c = self._verdict(v, options=lenient)
            if ok:
                cleared, conf = True, max(conf, c)
        return Hearing(d.best, conf, d.free_text, d.best) if cleared else None

    def _view(self, pcm: bytes, d: Decoded, ctx: _Context) -> Decoded:
        """The first decode's best few phrases (options.look_top) and its free transcript,
        scored on other audio in one forced call: no free pass or search of its own, which
        would mostly find them again at three times the cost."""
        top = ctx.ranked[:self.options.look_top]
        _, enc = self.runtime.encode_audio(pcm_to_float(pcm))
        *rows, free_rows = self.runtime.forced(enc, top + [tuple(ctx.free_ids)])
        i = max(range(len(top)), key=lambda j: self._rank_score(rows[j], top[j], ctx))
        best = ctx.trie.phrase_at(top[i]) or ""
        exact = self.scorer.exact
        return Decoded(d.free_text, exact(free_rows, tuple(ctx.free_ids)), d.no_speech, best,
                       exact(rows[i], top[i]), len(pcm) / 2 / mel.RATE, 1, len(top[i]),
                       ctx.bonus.get(best, 0.0))

    def acted_on(self, utt: Utterance) -> None:
        """Learn the voice in use: the loop acted on the phrase last accepted."""
        self.user.learn(utt, self.options)
        if self.learned_file is not None:
            self.learned_file.changed(self.user.learned)

    def misheard(self, utt: Utterance) -> None:
        """What was learned from `utt`, which the user then put right, goes."""
        if self.user.unlearn(utt) and self.learned_file is not None:
            self.learned_file.changed(self.user.learned)

    def close(self) -> None:
        """What was learned since the last write is kept (learned_file)."""
        if self.learned_file is not None:
            self.learned_file.save(self.user.learned)

    def _means(self, phrase: str, kind: str) -> bool:
        intent = self.vocabulary.phrases.get(phrase)
        return intent is not None and intent.name == kind

    def _is_safety(self, phrase: str) -> bool:
        return self._means(phrase, "safety")

    def _is_yes_no(self, phrase: str) -> bool:
        return self._means(phrase, "yes") or self._means(phrase, "no")

    def _talk(self, d: Decoded) -> bool:
        """Talk that begins with the phrase (talk_after). Stop, pause and safety words act
        even said in a sentence ("stop, I need to get up"), as does an answer just asked
        for ("six I think")."""
        return (talk_after(d, self.options) and d.prior <= 0
                and not any(self._means(d.best, k) for k in ("stop", "pause", "safety")))

    def _names_inside(self, phrase: str) -> bool:
        """A routine's start whose name lies inside it ("start neck routine"), so that a
        transcript framed as it is can be missing only the name. Not "let's do quick
        break": there the last word is the name ("Let's take a quick break", said over tea,
        started the desk break in the soak)."""
        return self._means(phrase, "start_routine") and phrase.split()[-1] == "routine"

    def decode(self, pcm: bytes, allowed: Optional[Collection[str]] = None) -> Hearing:
        if len(pcm) < 3200:  # under 0.1 s: no command fits
            return Hearing("", 0.0)
        d, ctx = self._analyse(pcm, allowed)
        h = self.judge(d)
        if h.text and d.prior > 0:  # an answer, lifted: unless its transcript is a command
            other = spelled_as_command(d, set(self.phrases if allowed is None else allowed)
                                       - self._answers - self._ratings, alike, self.options)
            h = Hearing(other, h.confidence, d.free_text, d.best) if other else h
        # The word's frames, only when there are takes to match them with or a phrase to
        # learn them as: room noise, decoded all day, needs neither.
        frames = self._frames(ctx.enc, pcm) if self.user.takes() else None
        taught = (self.user.judge(frames, self.phrases if allowed is None else allowed, d,
                                  self.options, lambda ex, ps: self._shown(ex, pcm, ps))
                  if frames is not None else None)
        if taught is not None and not (h.text and self._is_safety(h.text)):
            h = taught  # the user's own takes outvote the model, never a safety word
        else:
            if not h.text:
                h = self._second_look(pcm, d, ctx) or h
            if d.prior > 0 and self._unwritten(h.text, d.free_text):
                h = replace(h, unsure=True)
        if h.text and self.options.learn_keep and frames is None:
            frames = self._frames(ctx.enc, pcm)
        self.user.accepted(h.text, frames, pcm, h.unsure)
        return h

    def _shown(self, examples: Sequence[tuple[str, bytes]], pcm: bytes,
               phrases: Sequence[str]) -> str:
        """The phrase ranked first among `phrases` for the segment `pcm` when the model is
        shown the user's own takes first (WhisperRuntime.after_examples): it then hears what
        follows as this voice says words (in-context learning; its own ranking of one voice's
        digits: 214 -> 242 of 250)."""
        best = self.runtime.after_examples([(_written(p), s) for p, s in examples], pcm,
                                           [_written(p) for p in phrases])
        return phrases[best]


def _written(phrase: str) -> str:
    """A phrase as a sentence of the transcript: "Pain six." """
    return f"{phrase[:1].upper()}{phrase[1:]}."

