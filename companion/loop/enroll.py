"""Teaching the companion the user's voice (`companion enroll`): it asks for each phrase a
few times and keeps each take as the recognizer's view of it (hearing/templates.py).

Adapters come in as plain callables, as in the voice loop: `say(text)` speaks a prompt and
returns how long it takes, `frames_of(pcm)` is the recognizer's view of a take, and the
segments are the endpointer's, in audio seconds. Segments that start while a prompt is
still being said are its echo and are not takes; one that goes on well after the prompt
is the user answering over it, and the prompt is said again."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, Optional, TextIO

import numpy as np

from companion.core.interfaces import Frame
from companion.core.vocabulary import NUMBER_WORDS, SAFETY_WORDS, TAUGHT, spoken_names
from companion.core.vocabulary import IntentKind as K
from companion.hearing.endpoint import Segment
from companion.hearing.templates import (INF, MIN_FRAMES, VoiceTemplates, unit_frames,
                                         warp_distance)
from companion.hearing.whisper_rules import WhisperOptions

if TYPE_CHECKING:
    from companion.hearing.whisper_engine import WhisperRecognizer

# One phrase for each thing a session listens for (an alias is heard as well as it is by
# the model alone: teaching every spelling would make the lesson too long to sit through):
# the one the companion tells the user to say (vocabulary.TAUGHT).
COMMANDS: tuple[str, ...] = tuple(TAUGHT[k] for k in (
    K.NEXT, K.BACK, K.PAUSE, K.RESUME, K.REPEAT, K.HOLD_LONGER, K.SHORTER, K.SKIP, K.STOP,
    K.HOW_LONG, K.WHATS_NEXT, K.HELP, K.YES, K.NO, K.HOW_AM_I_DOING)) + SAFETY_WORDS
LESSON: tuple[str, ...] = ("numbers", "commands", "routines")  # what enroll teaches by default
MIN_TAKE_S, MAX_TAKE_S = 0.25, 4.0   # shorter is a click, longer is talk, not a phrase
UNLIKE = 0.30   # a take this far from the phrase's other takes is probably something else
ECHO_S = 0.3    # the room's echo of a prompt, after the speaker has finished it
ALIKE = WhisperOptions().taught_agree  # as near as a taught phrase may be and still be taken


@dataclass
class Lesson:
    """What one enrollment asked for and got."""

    taught: dict[str, int]          # phrase -> takes kept
    unlike: list[tuple[str, float]]  # phrases whose takes disagree (distance), said again
    # Pairs of taught phrases whose takes come as near as one take of a phrase may lie to
    # what is heard and still be taken for it (ALIKE): one may be heard as the other.
    alike: list[tuple[str, str, float]] = field(default_factory=list)
    finished: bool = False  # every phrase was asked (not ended early: the audio or a silence)


# Why a prompt is said again; spoken on their own before the prompt, so every line the
# lesson says is one of a few that `companion voice prepare` renders ahead of time.
NO_WORD, TOO_SHORT, TOO_LONG, OVER = ("I heard no word.", "That was too short.",
                                      "That was too long.", "Let me finish first.")
UNLIKE_SAID = "Those did not sound alike. Once more."
# Said when every phrase was asked: hands busy, eyes closed, the user hears it is over.
DONE = "That is all. I will listen for your voice from now on."


def prompt_for(phrase: str, take: int) -> str:
    return f"Say: {phrase}." if take == 0 else f"Again: {phrase}."


def groups(routine_aliases: dict[str, str]) -> dict[str, tuple[str, ...]]:
    """The phrase groups a lesson is made of. "routines" starts each routine by its first
    alias as the companion teaches it ("let's do neck"): the first thing said to it."""
    start = TAUGHT[K.START_ROUTINE]
    return {"numbers": NUMBER_WORDS, "commands": COMMANDS,
            "routines": tuple(start.format(routine=a) for a in spoken_names(routine_aliases))}


def lesson(routine_aliases: dict[str, str]) -> list[str]:
    """The default lesson's phrases (LESSON's groups), in order, each once."""
    named = groups(routine_aliases)
    return list(dict.fromkeys(p for g in LESSON for p in named[g]))


def lesson_lines(phrases: Iterable[str]) -> list[str]:
    """Every line a lesson over these phrases can say."""
    return [NO_WORD, TOO_SHORT, TOO_LONG, OVER, UNLIKE_SAID, DONE] + [
        prompt_for(p, k) for p in phrases for k in (0, 1)]


class Enrollment:
    def __init__(self, voice: VoiceTemplates, say: Callable[[str], float],
                 frames_of: Callable[[bytes], np.ndarray], out: Optional[TextIO] = None,
                 now: Callable[[], float] = lambda: 0.0, echo_s: float = ECHO_S) -> None:
        """`now()`: the audio time at which a prompt said now starts in the room (the
        last frame read plus any backlog); segments that start before its end, plus echo_s
        of the room's echo, are not takes."""
        self.voice, self.say, self.frames_of, self.out, self.now = (
            voice, say, frames_of, out, now)
        self.echo_s = echo_s
        self.lesson = Lesson({}, [])

    @classmethod
    def adding_to(cls, rec: "WhisperRecognizer", say: Callable[[str], float],
                  out: Optional[TextIO] = None, now: Callable[[], float] = lambda: 0.0,
                  echo_s: float = ECHO_S) -> "Enrollment":
        """A lesson that adds to what the recognizer was taught before (a phrase taught
        again replaces its takes)."""
        return cls(rec.user.taught or VoiceTemplates(rec.model_name), say, rec.voice_frames,
                   out, now, echo_s)

    def keep(self, rec: "WhisperRecognizer", where: Path) -> None:
        """Save what was taught and have the recognizer hear by it from now on."""
        self.voice.save(where)
        rec.user.taught = self.voice

    def _print(self, text: str) -> None:
        if self.out is not None:
            print(text, file=self.out, flush=True)

    def _ask(self, prompt: str, why: str = "") -> float:
        """Say why (if anything) and the prompt; the audio time from which a take counts."""
        self._print(f"{why} {prompt}".strip())
        end = 0.0
        for text in (why, prompt):
            if text:
                seconds = self.say(text)  # rendering may take a while: the room goes on
                end = max(end, self.now()) + seconds  # queued after what is still playing
        return end + self.echo_s

    def _take(self, segments: Iterator[Segment], prompt: str, why: str = ""
              ) -> Optional[tuple[np.ndarray, bytes]]:
        """A take: its frames and its sound (None: the audio ended)."""
        quiet_from = self._ask(prompt, why)
        for seg in segments:
            if seg.start < quiet_from:
                # The prompt's echo ends about when quiet_from does; speech that goes on a
                # take's length after it is the user's, said over the prompt and cut into.
                if seg.end >= quiet_from + MIN_TAKE_S:
                    quiet_from = self._ask(prompt, OVER)
                continue
            length = seg.end - seg.start
            if MIN_TAKE_S <= length <= MAX_TAKE_S:
                frames = self.frames_of(seg.pcm)
                if len(frames) >= MIN_FRAMES:
                    return frames, seg.pcm
                quiet_from = self._ask(prompt, NO_WORD)
                continue
            quiet_from = self._ask(prompt, TOO_SHORT if length < MIN_TAKE_S else TOO_LONG)
        return None  # the audio ended

    def run(self, phrases: Iterable[str], takes: int, segments: Iterable[Segment]) -> Lesson:
        """Ask for each phrase `takes` times; a phrase whose takes disagree is asked once
        more from the start. Ends early (with what it has) when the audio ends."""
        it = iter(segments)
        lesson = self.lesson = Lesson({}, [])  # so far, should the user stop it midway
        for phrase in phrases:
            why = ""
            for attempt in range(2):
                got: list[tuple[np.ndarray, bytes]] = []
                for k in range(takes):
                    take = self._take(it, prompt_for(phrase, k), why if k == 0 else "")
                    if take is None:
                        self._keep(phrase, got, lesson)
                        return lesson
                    got.append(take)
                spread = _spread([frames for frames, _ in got])
                if spread <= UNLIKE or attempt == 1:
                    break
                lesson.unlike.append((phrase, round(spread, 3)))
                self._print(f"  the takes of {phrase!r} differ ({spread:.2f})")
                why = UNLIKE_SAID
            self._keep(phrase, got, lesson)
        self._print(DONE)
        self.say(DONE)
        lesson.finished = True
        lesson.alike = alike(self.voice, list(lesson.taught))
        for a, b, d in lesson.alike:
            self._print(f"  {a!r} and {b!r} come close as you said them ({d:.2f}): if one is "
                        f"heard for the other, teach both again (companion enroll {a!r} {b!r})")
        return lesson

    def _keep(self, phrase: str, got: list[tuple[np.ndarray, bytes]], lesson: Lesson) -> None:
        if not got:
            return
        self.voice.forget(phrase)  # a phrase taught again replaces its old takes
        for frames, sound in got:
            self.voice.add(phrase, frames, sound=sound)
        lesson.taught[phrase] = len(got)
        self._print(f"  {phrase!r}: {len(got)} take{'s' if len(got) != 1 else ''} kept")


# A lesson given by the running companion (VoiceLoop): what to teach ("numbers", "all"), the
# microphone's frames, how to say a prompt (returns its seconds), and the audio time a prompt
# said now starts at.
Teach = Callable[[str, Iterable[Frame], Callable[[str], float], Callable[[], float]], Lesson]


def voice_lesson(rec: object, routine_aliases: dict[str, str], where: Path) -> Optional[Teach]:
    """The lesson `VoiceLoop` gives when asked by voice ("teach me the numbers"): the group
    asked for, or the default lesson for "all", two takes each, kept in `where` and heard by
    at once; None when the recognizer has no taught voice (not Whisper)."""
    from companion.hearing.whisper_engine import WhisperRecognizer

    if not isinstance(rec, WhisperRecognizer):
        return None
    whisper = rec

    def teach(what: str, frames: Iterable[Frame], say: Callable[[str], float],
              now: Callable[[], float]) -> Lesson:
        from companion.hearing.endpoint import Endpointer

        named = groups(routine_aliases)
        phrases = list(named[what]) if what in named else lesson(routine_aliases)
        teacher = Enrollment.adding_to(whisper, say, now=now)
        try:
            teacher.run(phrases, 2, Endpointer().segments(frames))
        finally:  # stopped midway, even by Ctrl-C: what was taught is kept
            if teacher.lesson.taught:
                teacher.keep(whisper, where)
        return teacher.lesson
    return teach


def alike(voice: VoiceTemplates, phrases: list[str], within: float = ALIKE
           ) -> list[tuple[str, str, float]]:
    """Pairs of the phrases whose nearest takes lie under `within` apart (nearest first)."""
    out = []
    for i, a in enumerate(phrases):
        for b in phrases[i + 1:]:
            pairs = [(x, y) for x in voice.takes.get(a, []) for y in voice.takes.get(b, [])]
            d = min((warp_distance(x, y) for x, y in pairs), default=INF)
            if d < within:
                out.append((a, b, round(d, 3)))
    return sorted(out, key=lambda t: t[2])


def _spread(takes: list[np.ndarray]) -> float:
    """The largest distance from a take to the nearest other take (0 for a single one)."""
    if len(takes) < 2:
        return 0.0
    unit = [unit_frames(t) for t in takes]
    return max(min(warp_distance(a, b) for j, b in enumerate(unit) if j != i)
               for i, a in enumerate(unit))
