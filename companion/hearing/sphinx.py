"""PocketSphinx with its bundled en-us model: works with zero downloads.

Rejection, measured on the shared recordings (see README in this folder): a plain
grammar forces ~90 % of other words into some command, so the grammar competes with a
garbage branch, a loop over all 39 phones. Whatever the phone loop explains better than
any command is rejected. Each extra phone in the loop costs `garbage_loop`, which sets
how easily garbage wins. A second, stricter loop may follow the first word of a phrase
when that word is no command alone ("start", "begin", "pain", "how"): talk that only
begins like a command ("start with the dishes") is then rejected instead of being forced
into "start lumbar routine". A second pass (free phone decoding of the same audio) gives a
likelihood ratio per frame that becomes the confidence and an optional second gate."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Collection, Optional

from companion.core.errors import CompanionError
from companion.hearing.recognizer import Hearing, Recognizer
from companion.core.vocabulary import Vocabulary

PHONES = ("AA AE AH AO AW AY B CH D DH EH ER EY F G HH IH IY JH K L M N NG OW OY P R S "
          "SH T TH UH UW V W Y Z ZH").split()
GARBAGE_PREFIX = "__gbg_"
PREFIX_GARBAGE = "__pfx_"  # garbage after a first word: the whole utterance is rejected
_FILLERS = {"<s>", "</s>", "<sil>", "[NOISE]", "[SPEECH]", "(NULL)"}
_LOG_BASE = math.log(1.0001)  # PocketSphinx's log base; scores come back exponentiated


@dataclass(frozen=True)
class SphinxOptions:
    garbage_weight: float = 0.5   # prior of the garbage branch against all commands
    garbage_loop: float = 1e-3    # probability of one more garbage phone
    verify: bool = True           # second pass for a confidence (costs CPU only on hits)
    min_confidence: float = 0.0   # reject commands below this confidence
    conf_center: float = -20.0    # per-frame log-likelihood ratio that maps to 0.5
    conf_scale: float = 5.0
    # PocketSphinx's defaults. 1e-30/1e-30/1e-20 is ~10 % faster and as accurate on
    # the recorded words, but lost phrases in a replayed espeak-ng session.
    beam: float = 1e-48
    pbeam: float = 1e-48
    wbeam: float = 7e-29
    fillprob: float = 1e-8        # noise-filler insertion between words
    edge_garbage: float = 0.0     # prior of phone-loop garbage before/after a command
    # Garbage may follow a phrase's first word ("start" + anything): talk that merely begins
    # like a command ("start with the dishes") is then explained without forcing a phrase.
    prefix_garbage: float = 0.1
    prefix_loop: float = 1e-6     # garbage_loop of that branch: only clearly other words win
    hmm: Optional[str] = None     # acoustic model dir; default the bundled en-us
    dictionary: Optional[str] = None


class SphinxRecognizer(Recognizer):
    engine = "pocketsphinx"

    def __init__(self, vocabulary: Vocabulary, options: SphinxOptions = SphinxOptions()) -> None:
        super().__init__(vocabulary)
        self.options = options
        try:
            from pocketsphinx import Decoder
        except ImportError as e:
            raise CompanionError(f"PocketSphinx is not installed ({e}); "
                                 "pip install pocketsphinx") from None
        kw = {}
        if options.hmm:
            kw["hmm"] = options.hmm
        if options.dictionary:
            kw["dict"] = options.dictionary
        try:
            self._d = Decoder(lm=None, loglevel="FATAL", bestpath=False, beam=options.beam,
                              pbeam=options.pbeam, wbeam=options.wbeam,
                              fillprob=options.fillprob, **kw)
        except (RuntimeError, ValueError) as e:
            raise CompanionError(f"PocketSphinx could not load its model: {e}") from None
        d = self._d
        self.phrases = self.usable_phrases(lookup=d.lookup_word)
        self._phrase_set = set(self.phrases)
        if not self.phrases:
            raise CompanionError("none of the command phrases can be said with the "
                                 "PocketSphinx dictionary")
        for i, p in enumerate(PHONES):
            d.add_word(GARBAGE_PREFIX + p.lower(), p, False)
            d.add_word(PREFIX_GARBAGE + p.lower(), p, i == len(PHONES) - 1)
        d.add_fsg("commands", self._fsg())
        d.activate_search("commands")
        if options.verify:
            d.add_allphone_file("phones", None)

    def _fsg(self):
        """Start -> one chain of words per phrase -> final, beside start -> garbage loop
        -> final. Every phrase is equally likely; the garbage branch shares the prior.
        With edge_garbage, noise or a stray sound may also sit before/after a command."""
        o = self.options
        final, garbage, nxt = 1, 2, 3
        trans: list[tuple] = []
        gwords = [GARBAGE_PREFIX + p.lower() for p in PHONES]
        begin, end = 0, final
        if o.edge_garbage > 0:
            begin, end, lead, tail, nxt = nxt, nxt + 1, nxt + 2, nxt + 3, nxt + 4
            trans += [(0, begin, 1.0 - o.edge_garbage), (end, final, 1.0 - o.edge_garbage)]
            for w in gwords:
                trans += [(0, lead, o.edge_garbage / len(gwords), w),
                          (lead, lead, o.garbage_loop / len(gwords), w),
                          (end, tail, o.edge_garbage / len(gwords), w),
                          (tail, tail, o.garbage_loop / len(gwords), w)]
            trans += [(lead, begin, 1.0 - o.garbage_loop), (tail, final, 1.0 - o.garbage_loop)]
        p_phrase = (1.0 - o.garbage_weight) / len(self.phrases)
        # With prefix garbage, multi-word phrases share a state after their first word
        # (entered with the summed prior and left with 1/n each, so every phrase keeps
        # its own prior) from which the garbage loop can also take over.
        # Only for first words that are no command alone: "stop talking" may well mean stop,
        # and a lone "six" must not lose to "six" + trailing noise.
        alone = {p for p in self.phrases if " " not in p}
        shared = Counter(p.split()[0] for p in self.phrases
                         if " " in p and p.split()[0] not in alone) \
            if o.prefix_garbage > 0 else Counter()
        after_first: dict[str, int] = {}
        for phrase in self.phrases:
            words = phrase.split()
            state, p = begin, p_phrase
            if len(words) > 1 and words[0] in shared:
                if words[0] not in after_first:
                    after_first[words[0]], nxt = nxt, nxt + 1
                    trans.append((begin, after_first[words[0]], p_phrase * shared[words[0]],
                                  words[0]))
                state, p, words = after_first[words[0]], 1.0 / shared[words[0]], words[1:]
            for i, w in enumerate(words):
                if i == len(words) - 1:
                    to = end
                else:
                    to, nxt = nxt, nxt + 1
                trans.append((state, to, p if i == 0 else 1.0, w))
                state = to
        if after_first:
            pwords = [PREFIX_GARBAGE + p.lower() for p in PHONES]
            tail, nxt = nxt, nxt + 1
            for state in after_first.values():
                for w in pwords:
                    trans.append((state, tail, o.prefix_garbage / len(pwords), w))
            for w in pwords:
                trans.append((tail, tail, o.prefix_loop / len(pwords), w))
            trans.append((tail, final, 1.0 - o.prefix_loop))
        for w in gwords:
            trans.append((0, garbage, o.garbage_weight / len(gwords), w))
            trans.append((garbage, garbage, o.garbage_loop / len(gwords), w))
        trans.append((garbage, final, 1.0 - o.garbage_loop))
        return self._d.create_fsg("commands", 0, final, trans)

    def _run(self, search: str, pcm: bytes) -> tuple[str, list]:
        d = self._d
        d.activate_search(search)
        d.start_utt()
        d.process_raw(pcm, no_search=False, full_utt=True)
        d.end_utt()
        hyp = d.hyp()
        return (hyp.hypstr if hyp else ""), list(d.seg() or [])

    def decode(self, pcm: bytes, allowed: Optional[Collection[str]] = None) -> Hearing:
        h = self._decode(pcm)
        if h.text and allowed is not None and h.text not in allowed:
            return Hearing("", 0.0, h.text)  # a phrase that means nothing now
        return h

    def _decode(self, pcm: bytes) -> Hearing:
        if len(pcm) < 3200:  # under 0.1 s: nothing a command fits in
            return Hearing("", 0.0)
        text, segs = self._run("commands", pcm)
        if PREFIX_GARBAGE in text:  # began like a command, went on as something else
            return Hearing("", 0.0, "")
        words = [s for s in segs if s.word not in _FILLERS and not s.word.startswith("+")
                 and not s.word.startswith(GARBAGE_PREFIX)]
        text = " ".join(w.split("(")[0] for w in text.split() if not w.startswith(GARBAGE_PREFIX))
        if not text or text not in self._phrase_set or not words:
            return Hearing("", 0.0, "")
        if not self.options.verify:
            return Hearing(text, 1.0, text, text)
        conf = self._confidence(pcm, words)
        if conf < self.options.min_confidence:
            return Hearing("", conf, text, text)
        return Hearing(text, conf, text, text)

    def _confidence(self, pcm: bytes, words: list) -> float:
        """Per-frame log-likelihood ratio of the command words against free phone
        decoding over the same frames, squashed to 0..1."""
        first, last = words[0].start_frame, words[-1].end_frame
        cmd = sum(_log(s.ascore) for s in words)
        _, phones = self._run("phones", pcm)
        self._d.activate_search("commands")
        free = 0.0
        for s in phones:  # phones straddling the edges count pro rata
            overlap = min(s.end_frame, last) - max(s.start_frame, first) + 1
            if overlap > 0:
                free += _log(s.ascore) * overlap / (s.end_frame - s.start_frame + 1)
        lr = (cmd - free) / max(1, last - first + 1)
        o = self.options
        return 1.0 / (1.0 + math.exp(-(lr - o.conf_center) / o.conf_scale))


def _log(density: float) -> float:
    """PocketSphinx's Python API hands scores back as densities; log them again in its
    own base so per-frame numbers keep their usual scale."""
    return math.log(max(density, 1e-300)) / _LOG_BASE
