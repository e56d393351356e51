"""`companion bench recognition`: accuracy, false accepts, speed and memory of the
recognizer on the shared recordings, through the same path the live loop uses (WAV
source -> endpointer -> recognizer -> Vocabulary.parse).

Classes: stop/yes/no/go (Speech Commands, 16 kHz), the ten FSDD digits (8 kHz, expected
"number" with the value), synthetic multi-word phrases (espeak-ng voices mixed with
the _silence_ noise clips at 20 and 10 dB SNR); negatives up/down/on/off/_unknown_/
_silence_ must give no intent. --split picks speakers by a hash of their id, so
thresholds tuned on "dev" can be checked on unseen "test" voices."""

from __future__ import annotations

import resource
import time
import zlib
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Optional, Protocol

from companion.host import paths
from companion.core.errors import CompanionError
from companion.bench import synth
from companion.hearing.recognizer import Recognizer
from companion.hearing.files import FileResult, recognize_file
from companion.audio.wav import AudioFileError
from companion.core.vocabulary import (INTENT_NAMES, NUMBER_WORDS, RATING_INTENTS, Intent,
                                       Vocabulary, moment_for)

SC_POSITIVE = {"stop": Intent("stop"), "yes": Intent("yes"), "no": Intent("no"),
               "go": Intent("resume")}
SC_NEGATIVE = ("up", "down", "on", "off", "_unknown_", "_silence_")
SNRS = (20.0, 10.0)
# FSDD cuts its digits at the word's first and last sample, which no microphone does (the
# endpointer's pre-roll gives the recognizer the moment before a word), and without it
# Whisper tiny.en missed a tenth of them (dev: 390 of 500 as cut, 432 with 0.3 s of quiet
# before). So they are heard with this much silence before and after (sources.with_quiet);
# Speech Commands' clips and the synthetic phrases have their room around them already.
# `bench recognition --as-cut` hears every file as it is.
QUIET_S = 0.5


def quiet_around(path: Path, quiet_s: float = QUIET_S) -> float:
    """The silence a recording is heard with: quiet_s for a file cut at the word (FSDD's),
    none for the others."""
    return quiet_s if path.parent.name == "fsdd-digits" else 0.0


@dataclass(frozen=True)
class Case:
    path: Path
    cls: str
    expect: Optional[Intent]  # None: must produce no intent
    split: str
    origin: Optional[Path] = None  # the recording `path` was made from (--farther, --reverb)

    @property
    def recording(self) -> Path:
        """The shared recording said: whose voice it is, named as the corpus names it."""
        return self.origin or self.path


@dataclass
class Tally:
    n: int = 0
    right: int = 0            # positives: the expected intent; negatives: nothing
    wrong: int = 0            # positives heard as a different command
    errors: list = field(default_factory=list)
    wide_fa: int = 0          # negatives: false accepts with every phrase allowed
    ranked: int = 0           # positives whose intent the engine ranked first somewhere
    # positives by voice_group: [files, right, right but asked back first (Hearing.unsure)]
    voices: dict = field(default_factory=dict)
    # Heard again as right after "how is the pain now?" (see run): session commands and
    # negatives, how many of them, heard as said (nothing, for a negative), taken for a
    # rating, and of those the ones the loop would log without asking back (Hearing.unsure).
    asked_n: int = 0
    asked_right: int = 0
    asked_rated: int = 0
    asked_logged: int = 0
    checked: int = 0          # ratings heard right but asked back first (Hearing.unsure)


def voice_group(path: Path) -> str:
    """Whose voice a recording is, as the report groups them: FSDD's speakers one by one
    (one of them strongly accented), the Speech Commands volunteers together, and the
    synthetic phrases."""
    key = voice_key(path)
    if key is not None and key[0] == "fsdd":
        return f"FSDD {key[1]}"
    return "Speech Commands" if key is not None and key[0] == "sc" else "espeak-ng"


def default_data_dir() -> Path:
    return paths.PACKAGE_DIR.parent.parent / "shared" / "data" / "speech"


def sc_speaker(path: Path) -> str:
    """The speaker of a Speech Commands file: names are [word_]<speaker>_nohash_<n>.wav."""
    return path.name.split("_nohash")[0].split("_")[-1]


def speaker_of(path: Path) -> Optional[tuple[str, str, str]]:
    """(corpus, speaker, phrase said) of a shared recording; None for a synthetic one."""
    parts = path.stem.split("_")
    if path.parent.name == "fsdd-digits":
        return "fsdd", parts[1], NUMBER_WORDS[int(parts[0])]
    if "_nohash_" in path.name:
        said = parts[0] if path.parent.name == "_unknown_" else path.parent.name
        return "sc", sc_speaker(path), said
    return None


def voice_key(path: Path) -> Optional[tuple[str, str]]:
    """Whose voice a recording is: (corpus, speaker), or ("espeak-ng", voice) for a
    synthetic phrase; None for room noise, which nobody says."""
    s = speaker_of(path)
    if s is not None:
        return s[0], s[1]
    if "__" in path.name:
        return "espeak-ng", path.name.split("__")[1].rsplit("-", 2)[0]
    return None


def _split(key: str) -> str:
    return "dev" if zlib.crc32(key.encode()) % 2 == 0 else "test"


def _take(cases: list[Case], split: str, limit: Optional[int]) -> list[Case]:
    chosen = [c for c in cases if split == "all" or c.split == split]
    if limit is None or len(chosen) <= limit:
        return chosen
    step = len(chosen) / limit  # spread over the folder rather than the first N speakers
    return [chosen[int(i * step)] for i in range(limit)]


def recorded_cases(data: Path, split: str, limit: Optional[int]) -> list[Case]:
    sc, fsdd = data / "speech-commands", data / "fsdd-digits"
    if not sc.is_dir() or not fsdd.is_dir():
        raise CompanionError(f"no speech recordings at {data} (need speech-commands/ and "
                             "fsdd-digits/); pass --data DIR")
    out: list[Case] = []
    spoken_digits: list[Case] = []
    for word, intent in list(SC_POSITIVE.items()) + [(w, None) for w in SC_NEGATIVE]:
        cases = []
        for p in sorted((sc / word).glob("*.wav")):
            # Names are [word_]<speaker>_nohash_<n>.wav; _unknown_ holds six/nine/five/
            # four, which the companion must hear as numbers: they count as positives.
            said = p.name.split("_")[0]
            case = Case(p, word, intent, _split(sc_speaker(p)))
            if word == "_unknown_" and said in NUMBER_WORDS:
                spoken_digits.append(Case(p, "sc numbers", Intent(
                    "number", NUMBER_WORDS.index(said)), case.split))
            else:
                cases.append(case)
        out += _take(cases, split, limit)
    out += _take(spoken_digits, split, limit)
    for d in range(10):
        files = sorted(fsdd.glob(f"{d}_*.wav"), key=lambda p: (p.stem.split("_")[1],
                                                                int(p.stem.split("_")[2])))
        # Two speakers only: split by take so both voices are in dev and in test.
        cases = [Case(p, f"number-{d}", Intent("number", d),
                      "dev" if int(p.stem.split("_")[2]) % 2 == 0 else "test") for p in files]
        out += _take(cases, split, limit)
    return out


def synthetic_cases(data: Path, vocab: Vocabulary, split: str, limit: Optional[int],
                    cache: Path) -> list[Case]:
    if not synth.espeak_available():
        raise CompanionError("espeak-ng is needed for the synthetic phrases "
                             "(sudo apt install espeak-ng) or pass --no-synth")
    noises = sorted((data / "speech-commands" / "_silence_").glob("*.wav"))
    out: list[Case] = []
    for snr in SNRS:
        cases, recipes = [], {}
        for i, phrase in enumerate(synth.PHRASES):
            intent = vocab.parse(phrase)
            if intent is None:  # e.g. no routine called "neck" installed
                continue
            for j, voice in enumerate(synth.VOICES):
                for speed in synth.SPEEDS:
                    noise = noises[(i * 7 + j * 3 + speed) % len(noises)] if noises else None
                    name = f"{phrase.replace(' ', '-')}__{voice}-{speed}-{snr:.0f}dB.wav"
                    cases.append(Case(cache / name, f"synth {snr:.0f} dB", intent,
                                      _split(voice)))
                    recipes[cache / name] = (phrase, voice, speed, noise)
        cases = _take(cases, split, limit)
        for c in cases:  # render only what will be used; cached for later runs
            phrase, voice, speed, noise = recipes[c.path]
            synth.make_noisy_phrase(phrase, voice, speed, noise, snr, c.path)
        out += cases
    return out


class Speakers(Protocol):
    """Who says the cases, and what the companion learns from them (bench/taught.py
    Learner): the order they are said in, the voice learned before each, and what is
    learned (or put right) after."""

    def order(self, cases: list[Case]) -> list[Case]: ...
    def before(self, case: Case) -> None: ...
    def after(self, res: FileResult, case: Case) -> None: ...


def heard_when_asked(expect: Optional[Intent]) -> bool:
    """Whether a case is also heard as if said right after the rating question: the
    commands of a session (the question is asked as a step begins, and for a minute the
    user may say "pause" or "it's sharp" rather than a number: each taken for a rating is a
    wrong entry in the pain log and a command not done) and everything that says none."""
    return expect is None or (moment_for(expect.name) == "session"
                              and expect.name not in RATING_INTENTS)


def context(vocab: Vocabulary, expect: Optional[Intent]) -> frozenset[str]:
    """The phrases the live loop listens for when this command would be said
    (vocabulary.moment_for: a start while waiting, a bare number after "rate your pain",
    yes/no while a question waits, the rest in a session). Negatives are heard as in a
    session (where the companion spends its time); run() also counts them against every
    phrase at once, the hardest case."""
    return vocab.phrases_at(moment_for(expect.name if expect else None))


def run(rec: Recognizer, vocab: Vocabulary, cases: Iterable[Case],
        teach: Optional[Callable[[Case], object]] = None, quiet_s: float = QUIET_S,
        learner: Optional[Speakers] = None) -> tuple[dict[str, Tally], float, float]:
    """Tallies per class, CPU and audio seconds. rec.decode is timed per utterance (the
    wait between the endpointer closing a segment and its intent) into rec.decode_ms.
    teach(case): the taught voice the case is heard with (bench/taught.py), set as
    rec.user.taught before it is heard (the teaching itself is not timed). learner
    (bench/taught.py Learner): order(cases) is the order they are said in, before(case)
    sets the voice learned so far, after(result, case) learns from an accepted command as
    the loop would (and unlearns a rating the user would put right). A file cut at the
    word is heard with quiet_s of silence around it, as a microphone hears a word (0: every
    file as cut)."""
    tallies: dict[str, Tally] = defaultdict(Tally)
    cpu = audio = 0.0
    decode, times = rec.decode, []

    def timed(pcm, allowed=None):
        t = time.perf_counter()
        h = decode(pcm, allowed)
        times.append(1000 * (time.perf_counter() - t))
        return h

    rec.decode = timed  # type: ignore[method-assign]
    everything = vocab.phrases_for(INTENT_NAMES)
    asked = vocab.phrases_at("rating")
    cases = list(cases)
    for case in cases:  # the report's classes in the order given, however they are heard
        tallies.setdefault(case.cls, Tally())
    if learner is not None:
        cases = learner.order(cases)
    try:
        for case in cases:
            if teach is not None:
                rec.user.taught = teach(case)  # type: ignore[attr-defined]
            t0 = time.process_time()
            quiet = quiet_around(case.path, quiet_s)
            try:
                if learner is not None:
                    learner.before(case)
                res = recognize_file(rec, vocab, case.path, context(vocab, case.expect), quiet)
                if learner is not None:
                    learner.after(res, case)
                if case.expect is None:
                    tallies[case.cls].wide_fa += recognize_file(
                        rec, vocab, case.path, everything, quiet).intent is not None
                if heard_when_asked(case.expect):
                    _tally_asked(tallies[case.cls], case,
                                 recognize_file(rec, vocab, case.path, asked, quiet))
            except AudioFileError as e:
                raise CompanionError(f"benchmark file unreadable: {e}") from None
            cpu += time.process_time() - t0
            audio += (res.duration + 2 * quiet) * ((2 if case.expect is None else 1)
                                                   + heard_when_asked(case.expect))
            _tally(tallies[case.cls], case, res)
    finally:
        del rec.decode
    rec.decode_ms = times  # type: ignore[attr-defined]
    return tallies, cpu, audio


def _tally(t: Tally, case: Case, res) -> None:
    got, text = res.intent, res.text or res.heard
    t.n += 1
    t.ranked += case.expect is not None and case.expect in res.ranked
    if case.expect is not None:
        v = t.voices.setdefault(voice_group(case.recording), [0, 0, 0])
        v[0], v[1] = v[0] + 1, v[1] + (got == case.expect)
        v[2] += got == case.expect and res.unsure
    if got == case.expect:
        t.right += 1
        t.checked += res.unsure
    else:
        t.errors.append((case.path.name, text, got))
        if case.expect is not None and got is not None:
            t.wrong += 1


def _rating_class(cls: str) -> bool:
    return cls.startswith("number-") or cls == "sc numbers"


def _tally_asked(t: Tally, case: Case, res: FileResult) -> None:
    got = res.intent
    t.asked_n += 1
    t.asked_right += got == case.expect
    t.asked_rated += got is not None and got.name in RATING_INTENTS
    t.asked_logged += got is not None and got.name in RATING_INTENTS and not res.unsure


def figures(tallies: dict[str, Tally], cpu: float, audio: float, engine: str,
            decode_ms: Optional[list] = None) -> dict:
    """The headline figures (and per-class rates) as plain data, for --json and bench all."""
    pos = [t for c, t in tallies.items() if c not in SC_NEGATIVE]
    neg = [t for c, t in tallies.items() if c in SC_NEGATIVE]
    pos_n, pos_r = sum(t.n for t in pos), sum(t.right for t in pos)
    neg_n, neg_fa = sum(t.n for t in neg), sum(t.n - t.right for t in neg)
    ms = sorted(decode_ms or [0.0])
    return {"engine": engine,
            "decode_p50_ms": round(ms[len(ms) // 2], 1),
            "decode_p95_ms": round(ms[min(len(ms) - 1, int(0.95 * len(ms)))], 1),
            "false_accept_rate_all_phrases": round(sum(t.wide_fa for t in neg) / max(neg_n, 1),
                                                   4),
            "classes": {c: {"files": t.n, "right": t.right, "wrong": t.wrong,
                            "ranked_first": t.ranked}
                        for c, t in tallies.items()},
            "right": pos_r, "positives": pos_n, "accuracy": round(pos_r / max(pos_n, 1), 4),
            "ranked_first_right": sum(t.ranked for t in pos),
            "ratings_right": sum(t.right for c, t in tallies.items() if _rating_class(c)),
            "ratings_asked_back": sum(t.checked for t in pos),
            # A rating asked back costs the user a second answer: whose are, and how often.
            "ratings_by_voice": _voices(t for c, t in tallies.items() if _rating_class(c)),
            "voices": _voices(pos),
            "false_accepts": neg_fa, "negatives": neg_n,
            "when_asked": {"commands": sum(t.asked_n for t in pos),
                           "commands_right": sum(t.asked_right for t in pos),
                           "commands_rated": sum(t.asked_rated for t in pos),
                           "commands_logged": sum(t.asked_logged for t in pos),
                           "negatives": sum(t.asked_n for t in neg),
                           "negatives_rated": sum(t.asked_rated for t in neg),
                           "negatives_logged": sum(t.asked_logged for t in neg)},
            "false_accept_rate": round(neg_fa / max(neg_n, 1), 4),
            "wrong_command_rate": round(sum(t.wrong for t in pos) / max(pos_n, 1), 4),
            "rtf": round(cpu / max(audio, 1e-9), 4), "cpu_s": round(cpu, 1),
            "audio_s": round(audio, 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def _voices(tallies: Iterable[Tally]) -> dict[str, dict[str, int]]:
    """Positives by voice group, over every class: files, right, and of those the ones
    asked back first."""
    out: dict[str, dict[str, int]] = {}
    for t in tallies:
        for voice, (n, right, asked) in t.voices.items():
            v = out.setdefault(voice, {"files": 0, "right": 0, "asked_back": 0})
            v["files"] += n
            v["right"] += right
            v["asked_back"] += asked
    return dict(sorted(out.items()))


def report(tallies: dict[str, Tally], cpu: float, audio: float, engine: str,
           verbose: bool = False, decode_ms: Optional[list] = None) -> str:
    f = figures(tallies, cpu, audio, engine, decode_ms)
    lines = [f"engine: {engine}",
             f"{'class':<14}{'files':>6}{'right':>8}{'rate':>8}{'ranked 1st':>12}"]
    for cls, t in tallies.items():
        negative = cls in SC_NEGATIVE
        note = (f"   (no intent; false accepts {t.n - t.right})" if negative
                else f"   (wrong command {t.wrong})" if t.wrong else "")
        ranked = "-" if negative else str(t.ranked)
        lines.append(f"{cls:<14}{t.n:>6}{t.right:>8}{t.right / max(t.n, 1):>8.1%}{ranked:>12}"
                     f"{note}")
        if verbose:
            lines += [f"    {name}: heard {text!r} -> {got}" for name, text, got in t.errors]
    pos_n, neg_n, asked = f["positives"], f["negatives"], f["when_asked"]
    lines += [
        f"accuracy      {f['right']}/{pos_n} = {f['accuracy']:.1%}   (target >= 97%)",
        f"  ranked first  {f['ranked_first_right']}/{pos_n} = "
        f"{f['ranked_first_right'] / max(pos_n, 1):.1%}   (the engine's top choice was right: "
        "what the model heard; the rest of the gap is rejection)",
        "  by voice      " + ", ".join(f"{v} {c['right']}/{c['files']} "
                                      f"({c['right'] / max(c['files'], 1):.1%})"
                                      for v, c in f["voices"].items()),
        f"false accepts {f['false_accepts']}/{neg_n} = {f['false_accept_rate']:.1%}   "
        "(target <= 1%; heard as in a session)",
        f"  with every phrase allowed at once (answers, starts): "
        f"{f['false_accept_rate_all_phrases']:.1%}",
        "right after \"how is the pain now?\": commands taken for a rating "
        f"{asked['commands_rated']}/{asked['commands']} (heard as said "
        f"{asked['commands_right']}), negatives taken for a rating "
        f"{asked['negatives_rated']}/{asked['negatives']}; logged without asking back: "
        f"{asked['commands_logged']} and {asked['negatives_logged']}; numbers said and heard "
        f"asked back first: {f['ratings_asked_back']} of {f['ratings_right']}"
        + (" (" + ", ".join(f"{v} {c['asked_back']} of {c['right']}"
                            for v, c in f["ratings_by_voice"].items()) + ")"
           if f["ratings_by_voice"] else ""),
        f"wrong command {round(f['wrong_command_rate'] * pos_n)}/{pos_n} = "
        f"{f['wrong_command_rate']:.1%}   (positives acted on "
        "as another command; the rest of the misses were rejected)",
        f"real-time factor {f['rtf']:.3f}  (CPU {cpu:.1f} s / audio {audio:.1f} s)",
        f"decode per utterance p50 {f['decode_p50_ms']:.0f} ms, p95 {f['decode_p95_ms']:.0f} ms"
        "  (segment closed -> intent; target p95 <= 150 ms)",
        f"peak RSS {f['peak_rss_mb']:.0f} MB  (target <= 250 MB)",
    ]
    return "\n".join(lines)
