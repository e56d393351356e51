"""`companion bench soak`: hours of idle room audio (noise, words that are not commands,
talk) through the VoiceLoop -> recognizer -> endpointer path `companion run` uses while
it waits for "start <routine>", at full speed: what it wrongly acts on, memory over time,
stalls. `--during session` hears the same audio as while a routine runs (every session
command listened for): what talk in the room would make it do. The stream is made lazily,
10 s at a time, from the shared recordings (8 h of 16 kHz int16 would be ~920 MB), and is
the same for the same seed."""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
import resource
import tempfile
import time
from collections import Counter, defaultdict, deque
from pathlib import Path
from typing import Iterable, Iterator, Optional

import numpy as np

from companion.host import paths
from companion.storage import trends
from companion.core.clock import ManualClock
from companion.hearing import Endpointer, Frame, make_recognizer
from companion.bench import synth
from companion.bench.recognition import SC_NEGATIVE, default_data_dir
from companion.hearing.sources import FRAME_SAMPLES, RATE, pcm_frames, to_int16
from companion.storage.library import Library
from companion.storage.safe_log import SafeLog
from companion.speech import make_speaker
from companion.storage.store import PainLog
from companion.core.vocabulary import MOMENTS, Intent, Vocabulary
from companion.loop.voice_loop import VoiceLoop

logger = logging.getLogger(__name__)

# Household talk, none of it a command; some of it shares words with commands on purpose
# (start, neck, back, help, next, doing), as real talk near the device would.
TALK = (
    "could you pass me the salt please", "I think it's going to rain this afternoon",
    "what time does the bus leave tomorrow morning", "my neck has been stiff since the weekend",
    "we should start cooking dinner soon", "did you remember to feed the cat",
    "the meeting was moved to half past three", "I'll be back in a minute with my coat",
    "that film last night was far too long", "have you seen my keys anywhere",
    "my lower back is sore from the garden", "let's take a quick break and have some tea",
    "the kids are playing football in the park", "how was your day at work",
    "I need to call my mother this evening", "turn the radio down a little would you",
    "the shop on the corner closes at six", "she said the daily train was late again",
    "I'm doing fine thanks, how are you", "can you help me carry these boxes upstairs",
    "next week we're visiting my sister", "my calves ache after that long walk",
    "is there any coffee left in the pot", "start with the dishes and I'll dry",
)
BLOCK = FRAME_SAMPLES * 334        # ~10 s generated at a time, a whole number of frames
MAX_EVENT = 20 * RATE              # longest event the buffer takes
HOP = RATE // 2                    # noise bed: 1 s pieces, 50 % overlap
WINDOW = np.sqrt(np.hanning(RATE + 1)[:RATE]).astype(np.float32)  # sum of squares = 1
MIC_FLOOR = 10 ** (-60 / 20)       # no real microphone is digitally silent
SCENES, SCENE_S = ("steady", "varied", "quiet"), (60.0, 900.0)  # noise beds, how long
EVENTS, EVENT_P = ("word", "chatter", "talk", "bang"), (0.3, 0.2, 0.35, 0.15)
MEAN_GAP_S = 12.0                  # between events, plus 1 s
SAMPLE_EVERY_S = 1800.0            # RSS every 30 minutes of audio


class IdleStream:
    """Frames of an idle room. `events`/`event_s`/`scene_s` say what was put in, `recent`
    what was playing lately (to name the audio behind anything that was heard)."""

    def __init__(self, seconds: float, seed: int = 0, data: Optional[Path] = None,
                 vocab: Optional[Vocabulary] = None, scene_s: tuple = SCENE_S) -> None:
        vocab = vocab or Vocabulary(Library().aliases())
        sc = (data or default_data_dir()) / "speech-commands"
        self.total, self.rng = round(seconds * RATE), np.random.default_rng(seed)
        self.scene_range = scene_s
        self.noise = [(p.stem, synth.load_16k(p).astype(np.float32))
                      for p in sorted((sc / "_silence_").glob("*.wav"))]
        # A recording of a word the companion understands ("six", "go") is not idle audio.
        self.words = [p for d in SC_NEGATIVE if d != "_silence_"
                      for p in sorted((sc / d).glob("*.wav")) if vocab.parse(_said(p)) is None]
        if not self.noise or not self.words:
            raise FileNotFoundError(f"no Speech Commands noise and word clips in {sc}")
        # Runs of these words must not be able to spell a command by themselves.
        said = {_said(p) for p in self.words}
        assert not [g for g in vocab.grammar_phrases() if set(g.split()) <= said], said
        assert all(vocab.parse(t) is None for t in TALK)
        self.talk = self._render_talk()
        self.events: Counter[str] = Counter()       # how many of each kind
        self.event_s: defaultdict[str, float] = defaultdict(float)   # seconds of each kind
        self.scene_s: defaultdict[str, float] = defaultdict(float)
        self.recent: deque[tuple[float, float, str]] = deque(maxlen=64)
        self.gen_s = 0.0  # wall time spent making audio, not listening to it

    @staticmethod
    def _render_talk() -> list[tuple[str, str, Path]]:
        """Every sentence in every test voice and speed, cached on disk and read when
        used, so the pool is not held in memory."""
        cache = paths.cache_dir() / "soak-talk"
        return [(t, v, synth.make_noisy_phrase(t, v, speed, None, None, cache / (
            f"{hashlib.sha1(t.encode()).hexdigest()[:10]}-{v}-{speed}.wav")))
                for t, v, speed in itertools.product(TALK, synth.VOICES, synth.SPEEDS)]

    def _word(self) -> tuple[str, np.ndarray]:
        p = self.words[self.rng.integers(len(self.words))]
        return _said(p), synth.load_16k(p) * np.float32(10 ** (self.rng.uniform(-6, 6) / 20))

    def _event(self) -> tuple[str, np.ndarray, str]:
        kind = EVENTS[self.rng.choice(len(EVENTS), p=EVENT_P)]
        if kind == "word":
            said, x = self._word()
            return kind, x, f"word {said!r}"
        if kind == "chatter":  # several speakers' words run together, like a conversation
            n = int(self.rng.integers(3, 13))
            starts = np.cumsum([0, *(self.rng.uniform(0.45, 0.9, n - 1) * RATE).astype(int)])
            x, words = np.zeros(starts[-1] + RATE, np.float32), []
            for s in starts:
                word, w = self._word()
                x[s:s + len(w[:RATE])] += w[:RATE]
                words.append(word)
            return kind, x, "chatter: " + " ".join(words)
        if kind == "talk":
            picks = [self.talk[self.rng.integers(len(self.talk))]
                     for _ in range(int(self.rng.integers(1, 4)))]
            # Sentences run on with short pauses, some under the endpointer's hangover.
            x = np.concatenate([np.concatenate([_voiced(synth.load_16k(p)), np.zeros(int(
                self.rng.uniform(0.05, 0.3) * RATE))]) for _, _, p in picks]).astype(np.float32)
            rms = float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) or 1e-9
            x *= np.float32(10 ** (self.rng.uniform(-32, -18) / 20) / rms)
            return kind, x, "talk: " + " / ".join(f"{t} ({v})" for t, v, _ in picks)
        name, clip = self.noise[self.rng.integers(len(self.noise))]
        return kind, clip * np.float32(10 ** (self.rng.uniform(0, 10) / 20)), f"bang {name}"

    def frames(self) -> Iterator[Frame]:
        buf = np.zeros(BLOCK + MAX_EVENT + RATE, np.float32)
        # Sample positions on the stream's clock.
        origin, piece, scene_end, next_event = 0, 0, 0, self._gap()
        while origin < self.total:
            t0 = time.perf_counter()
            horizon = min(origin + BLOCK, self.total)
            while piece < horizon:  # the noise bed, overlap-added so it has no seams
                if piece >= scene_end:
                    scene = SCENES[self.rng.integers(len(SCENES))]
                    length = int(self.rng.uniform(*self.scene_range) * RATE)
                    self.scene_s[scene] += (min(piece + length, self.total) - piece) / RATE
                    scene_end = piece + length
                    clip = self.noise[self.rng.integers(len(self.noise))]
                    gain = 10 ** (self.rng.uniform(-12, 0) / 20)
                    self.recent.append((piece / RATE, scene_end / RATE, f"{scene} noise"
                                        + (f" {clip[0]}" if scene == "steady" else "")))
                if scene != "quiet":
                    name, x = clip if scene == "steady" else self.noise[
                        self.rng.integers(len(self.noise))]
                    x = np.roll(x[:RATE], int(self.rng.integers(RATE)))
                    buf[piece - origin:piece - origin + RATE] += x * WINDOW * np.float32(gain)
                piece += HOP
            while next_event < horizon:
                kind, x, label = self._event()
                x = x[:MAX_EVENT]
                buf[next_event - origin:next_event - origin + len(x)] += x
                self.events[kind] += 1
                self.event_s[kind] += len(x) / RATE
                self.recent.append((next_event / RATE, (next_event + len(x)) / RATE, label))
                next_event += len(x) + self._gap()
            pcm = to_int16(buf[:horizon - origin] + self.rng.normal(
                0.0, MIC_FLOOR, horizon - origin).astype(np.float32))
            buf = np.concatenate([buf[BLOCK:], np.zeros(BLOCK, np.float32)])
            self.gen_s += time.perf_counter() - t0
            yield from pcm_frames(pcm, origin)
            origin += BLOCK

    def _gap(self) -> int:
        return int((1.0 + self.rng.exponential(MEAN_GAP_S)) * RATE)

    def playing(self, start: float, end: float) -> str:
        """What was put in the stream over [start, end]; events before noise beds."""
        hits = [lbl for s, e, lbl in self.recent if s < end and e > start]
        return "; ".join(sorted(hits, key=lambda h: "noise" in h)) or "?"


def _voiced(x: np.ndarray) -> np.ndarray:
    loud = np.flatnonzero(np.abs(x) > 0.05 * np.abs(x).max())  # espeak pads with silence
    return x[loud[0]:loud[-1] + 1]


def _said(p: Path) -> str:
    return p.name.split("_")[0] if p.parent.name == "_unknown_" else p.parent.name


class _Tap(Endpointer):
    """The live endpointer, unchanged, with the length of what it cuts noted."""

    count, at_cap, longest = 0, 0, 0.0

    def segments(self, frames: Iterable[Frame]):
        for seg in super().segments(frames):
            n = seg.end - seg.start
            self.count, self.longest = self.count + 1, max(self.longest, n)
            self.at_cap += n >= self.config.max_length - 0.015
            yield seg


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20


def run(hours: float = 8.0, seed: int = 0, engine: str = "auto", data: Optional[Path] = None,
        scene_s: tuple = SCENE_S, progress: bool = False, during: str = "waiting") -> dict:
    """`during`: "waiting" (the voice loop as `companion run` waits for a start) or another
    moment of vocabulary.MOMENTS ("session": the recognizer alone, listening for every
    session command, as while a routine runs and someone talks in the room; "stopped": as
    just after a stop, when a resume would take it back; nothing is acted on, what would
    be is counted)."""
    if during not in MOMENTS:
        raise ValueError(f"during must be one of {', '.join(MOMENTS)}, not {during!r}")
    library = Library()  # the live companion's routines, aliases and grammar
    vocab = Vocabulary(library.aliases())
    stream = IdleStream(hours * 3600, seed, data, vocab, scene_s)
    rec = make_recognizer(vocab, engine)
    tap, clock = _Tap(), ManualClock()
    accepted: Counter[str] = Counter()
    examples: list[dict[str, object]] = []
    rss: list[tuple[float, float]] = []     # (hours of audio, MB)
    st = {"frames": 0, "audio_s": 0.0, "gap": 0.0, "gap_at": 0.0, "held": 0.0, "gated": 0,
          "asked_back": 0}

    def frames() -> Iterator[Frame]:
        """What the loop consumes: sample memory, time the gaps between frames taken
        (all of it, and the part the loop held a frame: endpointing, decoding, acting)."""
        last = time.perf_counter()
        for f in stream.frames():
            if f.start >= len(rss) * SAMPLE_EVERY_S:
                rss.append((round(f.start / 3600, 2), round(rss_mb(), 1)))
                if progress:   # INFO: `companion bench soak` chooses to show it
                    logger.info("soak: %.1f h, wall %.0f s, RSS %s MB", f.start / 3600,
                                time.perf_counter() - t0, rss[-1][1])
            given = time.perf_counter()
            yield f
            now = time.perf_counter()
            st["held"] = max(st["held"], now - given)
            if now - last > st["gap"]:
                st["gap"], st["gap_at"] = now - last, f.start
            last, st["frames"], st["audio_s"] = now, st["frames"] + 1, f.end

    def note(text: str, intent: Intent, start: float, end: float, gated: bool) -> None:
        st["gated"] += gated
        accepted[intent.name.value] += not gated  # plain names in the report
        if len(examples) < 50:
            examples.append({"at_h": round(start / 3600, 3), "text": text,
                             "intent": intent.name, "gated": gated,
                             "audio": stream.playing(start, end)})

    def recognize(fs: Iterable[Frame], expect=None):
        # as `companion run` does: rejected speech too (it may ask a question again)
        for utt in rec.utterances(fs, endpointer=tap, expect=expect, include_rejected=True):
            yield utt
            h = loop.heard[-1]   # the loop has acted on utt by now
            if h.intent is not None:
                note(h.text, h.intent, h.start, h.end, h.gated)
            loop.finish("soak: spurious start")  # back to waiting: the rest stays idle

    with tempfile.TemporaryDirectory() as d, PainLog.open(d) as log:
        loop = VoiceLoop(library, SafeLog(log), make_speaker(no_speaker=True, clock=clock),
                         recognize, clock=clock,
                         summary=lambda: trends.spoken_summary(log, time.time()),
                         reminders=lambda: trends.reminders(log, time.time()),
                         acted_on=rec.acted_on, misheard=rec.misheard)  # learning, as live
        t0, c0 = time.perf_counter(), time.process_time()
        if during == "waiting":
            loop.run(frames())
        else:  # nothing speaks, so nothing is gated as the companion's own voice
            allowed = vocab.phrases_at(during)
            for utt in rec.utterances(frames(), endpointer=tap, expect=lambda: allowed):
                intent = vocab.parse(utt.text)
                if intent is not None:
                    note(utt.text, intent, utt.start, utt.end, False)
                    st["asked_back"] += utt.unsure  # a rating the loop would ask back
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        rss.append((round(st["audio_s"] / 3600, 2), round(rss_mb(), 1)))
    audio, gen, others = st["audio_s"], stream.gen_s, {
        k: v for k, v in accepted.items() if v and k not in ("start_routine", "how_am_i_doing")}
    return {
        "engine": rec.engine, "seed": seed, "during": during,
        "audio_hours": round(audio / 3600, 3),
        "audio_s": round(audio, 3), "requested_s": round(stream.total / RATE, 3),
        "frames": st["frames"], "frames_expected": -(-stream.total // FRAME_SAMPLES),
        "wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "stream_gen_s": round(gen, 1),
        "rtf": round(wall / audio, 4), "rtf_listening": round((wall - gen) / audio, 4),
        "spurious_starts": accepted["start_routine"], "sessions_started": loop.sessions,
        "spurious_how_am_i": accepted["how_am_i_doing"], "other_accepted": sum(others.values()),
        "other_accepted_by_intent": others, "heard_while_speaking": st["gated"],
        "asked_back": st["asked_back"],
        "heard": examples, "utterances": tap.count, "cap_s": tap.config.max_length,
        "longest_utterance_s": round(tap.longest, 2), "utterances_at_cap": tap.at_cap,
        "longest_frame_gap_ms": round(1000 * st["gap"], 1),
        "longest_frame_held_ms": round(1000 * st["held"], 1),
        "longest_gap_at_h": round(st["gap_at"] / 3600, 3),
        "rss_mb": rss, "rss_growth_mb": round(rss[-1][1] - rss[0][1], 1),
        "rss_growth_after_30min_mb": round(rss[-1][1] - rss[1][1], 1) if len(rss) > 2 else None,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "stream": {"events": dict(stream.events),
                   "event_s": {k: round(v, 1) for k, v in stream.event_s.items()},
                   "scene_s": {k: round(v, 1) for k, v in stream.scene_s.items()}},
    }


def table(f: dict) -> str:
    s = f["stream"]
    rows = [
        ("audio processed", f"{f['audio_hours']} h, {f['frames']}/{f['frames_expected']} "
         f"frames ({f['engine']}, seed {f['seed']}, heard as {f['during']})",
         f"{f['requested_s'] / 3600:.3g} h"),
        ("wall time", f"{f['wall_s']} s (CPU {f['cpu_s']}; making audio {f['stream_gen_s']})", ""),
        ("RTF (wall / audio)", f"{f['rtf']} (listening only {f['rtf_listening']})", "<= 0.05"),
        ("spurious session starts", f"{f['spurious_starts']}", "0"),
        ("spurious 'how am I doing'", f"{f['spurious_how_am_i']}", "0"),
        ("other utterances accepted", f"{f['other_accepted']} {f['other_accepted_by_intent']}"
         f" (and {f['heard_while_speaking']} heard over its own voice, ignored; "
         f"{f['asked_back']} ratings of them asked back, logged only on a yes)", "0"),
        ("longest utterance", f"{f['longest_utterance_s']} s ({f['utterances_at_cap']} of "
         f"{f['utterances']} endpointed at the cap)", f"<= {f['cap_s']} s"),
        ("longest gap between frames", f"{f['longest_frame_gap_ms']} ms at "
         f"{f['longest_gap_at_h']} h (loop holding one: {f['longest_frame_held_ms']} ms)", ""),
        ("RSS growth first to last", f"{f['rss_growth_mb']} MB (from 30 min on: "
         f"{f['rss_growth_after_30min_mb']}); peak {f['peak_rss_mb']} MB", "~0"),
        ("RSS every 30 min (h:MB)", " ".join(f"{h}:{m}" for h, m in f["rss_mb"]), ""),
        ("stream", ", ".join([f"{k} {v} ({s['event_s'][k]:.0f} s)" for k, v in sorted(
            s["events"].items())] + [f"{k} noise {v:.0f} s" for k, v in sorted(
                s["scene_s"].items())]), ""),
    ]
    return "\n".join([f"{a:<28}  {b}" + (f"   [{c}]" if c else "") for a, b, c in rows] + [
        f"  heard at {h['at_h']} h: {h['text']!r} -> {h['intent']}"
        f"{' (over own voice)' if h['gated'] else ''}; audio: {h['audio']}" for h in f["heard"]])
