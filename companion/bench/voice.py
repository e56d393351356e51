"""`companion bench voice`: how well the companion's own voice can be understood, per engine.

Every distinct line the companion says (the fixed cues, every shipped routine's session as
rehearsal.spoken_lines rehearses it, the start-up and device lines, "how am I doing" summaries)
is rendered with a fresh cache (so synthesis is timed), resampled to 16 kHz and transcribed
by the bundled Whisper tiny.en (free decoding, no grammar; see run() for how it listens), at
the configured speaking rate unless asked for another (`--rate`). Reported per engine:

- word error rate over all lines, both sides normalised (lower case, numbers as words the
  way the cues are spoken, hyphens as spaces, other punctuation out; "ok"/"okay" left as is);
- lines with any error, and every line whose safety word ("sharp", "numb", ...) was misheard;
- render time per cue p50/p95 (after one warm-up cue that loads the engine), audio seconds;
- loudness per cue (loudness_dbfs: RMS of the voiced part) min / max / spread.

Whisper is a stand-in for a listener, and a harsh one on short clips. Each cue is heard after
LEAD_S of silence, as in a session (without it a cue that starts at once was sometimes heard
as two words). Greedy decoding of a
one-second cue without Whisper's 30 s padding often repeats itself to the token cap ("Stop
Stop Stop ..."). A repetition running to the end of a transcript is cut back to its first
copy before scoring when the transcript is longer than the line, and the number of lines
so cut is reported.
"""

from __future__ import annotations

import re
import statistics
import tempfile
import time
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from companion.core.errors import CompanionError
from companion.host.config import RATE_DEFAULT

SAFETY_WORDS = ("sharp", "numb", "tingling", "shooting", "nerve", "stop")
# name: (CueRenderer engine, voice, what is reported)
ENGINES = {"piper": ("piper", "en_US-joe-medium", "Piper en_US-joe-medium"),
           "espeak": ("auto", "en-us", "espeak-ng en-us (pyttsx3)")}
WARM_UP = "Ready when you are."   # rendered first (elsewhere) so the engine's load is not timed
TOKENS_PER_S = 8    # transcript cap: about three times what a voice says at CAP_WPM ...
CAP_WPM = 150       # ... and scaled up for a faster voice
BEAM = 5            # the listener's beam, as Whisper's own transcribe() uses
# Silence put before each cue, as a cue is heard after a pause in a session. Cues start 5 ms
# before their first sound (cuefile.LEAD_S), and greedy Whisper on such a clip sometimes
# gives up at once: espeak-ng's "Kneel, sit back toward your heels ..." (6.8 s) was heard as
# "in the" without it and word for word (but "Neel") with 0.1-0.5 s.
LEAD_S = 0.25
SUMMARY_NOW = 1_800_007_200.0    # a fixed "now" (noon UTC) for the trend summaries


def lines() -> list[str]:
    """Every distinct line the companion says, fixed cues first."""
    from companion.core import cues
    from companion.storage import trends
    from companion.core.rehearsal import spoken_lines
    from companion.storage.library import Library

    said = list(cues.fixed())
    said += [cues.LISTENING, cues.HOW_AM_I_NO_DATA, cues.MIC_LOST, cues.MIC_BACK,
             cues.SPEAKER_BACK, cues.NO_MIC]
    day = trends.DAY
    rows = [{"at": SUMMARY_NOW - 10 * day, "value": 6, "area": "low_back"},
            {"at": SUMMARY_NOW - 1 * day, "value": 3, "area": "low_back"},
            {"at": SUMMARY_NOW - 2 * day, "value": 4, "area": "neck"},
            {"at": SUMMARY_NOW - 20 * day, "value": 5, "area": "shoulders"},
            {"at": SUMMARY_NOW - 3 * day, "value": 5, "area": "shoulders"}]
    said += [trends.spoken_summary(rows, SUMMARY_NOW), trends.spoken_summary([], SUMMARY_NOW)]
    for routine in Library().routines.values():
        said += spoken_lines(routine, cues.speaking_seconds)
    return [t for t in dict.fromkeys(s.strip() for s in said) if t]


def sample(items: list[str], limit: Optional[int]) -> list[str]:
    """limit lines spread evenly over the list (all of them without a limit)."""
    if not limit or limit >= len(items):
        return items
    return [items[i * len(items) // limit] for i in range(limit)]


# One spelling for words written two ways: which one the listener writes is no error.
SPELLINGS = {"disc": "disk", "towards": "toward"}


def words(text: str) -> list[str]:
    """Text as compared: lower case, numbers as words (as the cues are spoken), hyphens as
    spaces, apostrophes dropped ("there's" is "theres"), other punctuation out, one
    spelling per word (SPELLINGS)."""
    from companion.speech.render import spoken

    text = spoken(text).lower().replace("-", " ")
    text = re.sub(r"['\u2019]", "", text)
    return [SPELLINGS.get(w, w) for w in re.sub(r"[^a-z0-9 ]+", " ", text).split()]


def trim_loop(hyp: list[str]) -> tuple[list[str], bool]:
    """Cut a repetition that runs to the end of a transcript back to its first copy: a tail
    words[s:] repeating a period of p words with at least two words beyond its first copy
    (the last word may be cut short by the token cap). (hyp, was it cut)"""
    n = len(hyp)
    for s in range(n):
        for p in range(1, n - s - 1):  # at least two words beyond the first copy
            ok = all(hyp[s + i] == hyp[s + i % p] for i in range(n - s - 1))
            last, want = hyp[n - 1], hyp[s + (n - s - 1) % p]
            if ok and (last == want or want.startswith(last)):
                return hyp[:s + p], True
    return hyp, False


def align(ref: list[str], hyp: list[str]) -> tuple[int, list[bool]]:
    """(word errors: substitutions + deletions + insertions, per reference word whether it
    was heard as itself) by a minimum-edit alignment."""
    n, m = len(ref), len(hyp)
    d = np.zeros((n + 1, m + 1), dtype=np.int32)
    d[:, 0] = np.arange(n + 1)
    d[0, :] = np.arange(m + 1)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            d[i, j] = min(d[i - 1, j] + 1, d[i, j - 1] + 1,
                          d[i - 1, j - 1] + (ref[i - 1] != hyp[j - 1]))
    heard = [False] * n
    i, j = n, m
    while i > 0 and j > 0:
        if d[i, j] == d[i - 1, j - 1] + (ref[i - 1] != hyp[j - 1]):
            heard[i - 1] = ref[i - 1] == hyp[j - 1]
            i, j = i - 1, j - 1
        elif d[i, j] == d[i - 1, j] + 1:
            i -= 1
        else:
            j -= 1
    return int(d[n, m]), heard


def _pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def _pcm16k(path: Path) -> bytes:
    from companion.audio.resample import resample
    from companion.speech.render import read_wav

    x, rate = read_wav(path)
    y = np.concatenate([np.zeros(int(LEAD_S * 16000)), resample(x.astype(np.float64), rate,
                                                                16000)])
    return np.clip(np.round(y), -32768, 32767).astype("<i2").tobytes()


def run_engine(name: str, texts: list[str], hear: Callable[[bytes, int], str],
               progress: Optional[Callable[[str], None]] = None, rate: int = RATE_DEFAULT) -> dict:
    """Render every text with one engine at rate (words per minute) into a fresh cache,
    transcribe and score it."""
    from companion.speech import piper_voice
    from companion.speech.cuefile import loudness_dbfs
    from companion.speech.render import CueRenderer

    engine, voice, label = ENGINES[name]
    out: dict = {"engine": name, "voice": label, "rate_wpm": rate, "available": True}
    why = piper_voice.missing() if engine == "piper" else None
    if why:
        return {**out, "available": False, "error": why}
    t_start = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="companion-voice-bench-") as tmp:
            warm = CueRenderer(voice, rate, 1.0, cache_dir=Path(tmp) / "warm", engine=engine)
            t0 = time.perf_counter()
            warm.render(WARM_UP)
            out["first_cue_s"] = round(time.perf_counter() - t0, 2)  # engine load included
            r = CueRenderer(voice, rate, 1.0, cache_dir=Path(tmp) / "cues", engine=engine)
            out["engine_version"] = r.engine_version
            per_s = TOKENS_PER_S * max(1.0, rate / CAP_WPM)
            ref_words = errors = 0
            audio_s = 0.0
            loud: list[float] = []
            wrong: list[dict] = []
            safety: list[dict] = []
            looped = 0
            for k, text in enumerate(texts, 1):
                if progress:
                    progress(f"{name} {k}/{len(texts)}")
                cue = r.render(text)
                audio_s += cue.seconds
                loud.append(loudness_dbfs(cue.path))
                heard = hear(_pcm16k(cue.path), int(cue.seconds * per_s) + 10)
                ref, hyp = words(text), words(heard)
                if len(hyp) > len(ref):  # room for a loop
                    hyp, cut = trim_loop(hyp)
                else:
                    cut = False
                looped += cut
                n_err, ok = align(ref, hyp)
                ref_words += len(ref)
                errors += n_err
                if n_err:
                    wrong.append({"line": text, "heard": heard, "scored": " ".join(hyp),
                                  "errors": n_err})
                missed = sorted({w for w, h in zip(ref, ok) if w in SAFETY_WORDS and not h})
                if missed:
                    safety.append({"line": text, "heard": heard, "scored": " ".join(hyp),
                                   "words": missed})
    except CompanionError as e:
        return {**out, "available": False, "error": str(e)}
    rs = r.render_seconds
    out.update({
        "lines": len(texts),
        "words": ref_words,
        "word_errors": errors,
        "wer": round(errors / max(1, ref_words), 4),
        "lines_with_errors": len(wrong),
        "safety_words": sum(w in SAFETY_WORDS for t in texts for w in words(t)),
        "safety_misheard": safety,
        "repetitions_cut": looped,
        "render_p50_ms": round(1000 * statistics.median(rs)) if rs else None,
        "render_p95_ms": round(1000 * _pct(rs, 0.95)) if rs else None,
        "render_total_s": round(sum(rs), 1),
        "audio_s": round(audio_s, 1),
        "loudness_dbfs": {"min": round(min(loud), 2), "max": round(max(loud), 2),
                          "spread_db": round(max(loud) - min(loud), 2)} if loud else None,
        "bench_s": round(time.monotonic() - t_start, 1),
        "misheard": wrong,
    })
    return out


def run(engines: list[str], limit: Optional[int] = None,
        progress: Optional[Callable[[str], None]] = None, listener: str = "tiny.en",
        quick_ear: bool = False, rate: int = RATE_DEFAULT) -> dict:
    from companion.hearing.whisper_rules import WhisperOptions
    from companion.hearing.whisper_runtime import WhisperRuntime

    texts = sample(lines(), limit)
    o = WhisperOptions(model=listener)  # the model as the companion runs it, no grammar
    whisper = WhisperRuntime(o.model, o.threads, o.tail_s, o.bucket_s)
    if quick_ear:   # what the companion's own hearing does with a segment: harsher
        def hear(pcm: bytes, cap: int) -> str:
            return whisper.transcribe(pcm, cap)
        how = "greedy, the segment alone"
    else:           # Whisper as it is normally run: a 30 s window, beam search
        def hear(pcm: bytes, cap: int) -> str:
            return whisper.transcribe(pcm, cap, full_window=True, beam_size=BEAM)
        how = f"beam {BEAM}, 30 s window"
    return {"lines": len(texts), "recognizer": f"whisper {whisper.name} ({how}, free)",
            "lead_silence_s": LEAD_S, "rate_wpm": rate,
            "engines": {e: run_engine(e, texts, hear, progress, rate) for e in engines}}


def table(f: dict) -> str:
    es = list(f["engines"].values())
    rows: list[tuple[str, ...]] = [("", *[e["voice"] for e in es])]

    def row(name: str, read: Callable[[dict], object]) -> None:
        vals = []
        for e in es:
            try:
                vals.append(str(read(e)))
            except (KeyError, TypeError):
                vals.append("-")
        rows.append((name, *vals))

    row("word errors (goal <= 1 %)", lambda e: f"{e['wer']:.1%} ({e['word_errors']}/"
                                                 f"{e['words']})")
    row("lines with any error", lambda e: f"{e['lines_with_errors']}/{e['lines']}")
    row("safety words misheard (goal 0)", lambda e: f"{len(e['safety_misheard'])} lines "
                                                    f"({e['safety_words']} safety words)")
    row("render per cue p50 / p95", lambda e: f"{e['render_p50_ms']} / {e['render_p95_ms']} ms")
    row("first cue (engine load)", lambda e: f"{e['first_cue_s']} s")
    row("audio", lambda e: f"{e['audio_s']} s")
    row("loudness min / max", lambda e: f"{e['loudness_dbfs']['min']} / "
                                        f"{e['loudness_dbfs']['max']} dBFS")
    row("loudness spread", lambda e: f"{e['loudness_dbfs']['spread_db']} dB")
    row("transcripts cut at a repetition", lambda e: e["repetitions_cut"])
    w = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    text = [f"{f['lines']} lines per engine at {f['rate_wpm']} words a minute, heard by "
            f"{f['recognizer']} after {f['lead_silence_s']} s of silence; misheard lines as "
            "scored (normalised)", ""]
    text += ["  ".join(c.ljust(n) for c, n in zip(r, w)).rstrip() for r in rows]
    for e in es:
        if not e["available"]:
            text += ["", f"{e['voice']}: not measured: {e['error']}"]
            continue
        if e["safety_misheard"]:
            text += ["", f"{e['voice']}: safety words misheard:"]
            text += [f"  {s['words']}: {s['line']!r} -> {s['scored']!r}"
                     for s in e["safety_misheard"]]
        shown = e["misheard"][:15]
        if shown:
            text += ["", f"{e['voice']}: lines with errors"
                         + (f" (first {len(shown)}; --json for all)"
                            if len(e["misheard"]) > len(shown) else "") + ":"]
            text += [f"  {m['line']!r} -> {m['scored']!r}" for m in shown]
    return "\n".join(text)
