"""The command vocabulary: one table from which both the recognizer grammar and the
text parser are generated, so what can be heard and what can be understood never drift."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Iterable, Optional, Union

NUMBER_WORDS: tuple[str, ...] = (
    "zero", "one", "two", "three", "four", "five",
    "six", "seven", "eight", "nine", "ten",
)
# Seconds a user may name in "hold longer by thirty seconds".
SECONDS_WORDS: dict[str, int] = {
    "ten": 10, "fifteen": 15, "twenty": 20, "thirty": 30, "forty": 40, "sixty": 60,
}
SAFETY_WORDS: tuple[str, ...] = ("sharp", "numb", "tingling", "shooting")

Value = Union[int, str, None]


class IntentKind(StrEnum):
    """Every kind of intent. Written out (not built from COMMANDS) so type checkers see the
    members; a StrEnum, so a member equals its plain name and is written as it in JSON."""

    NEXT = "next"
    BACK = "back"
    PAUSE = "pause"
    RESUME = "resume"
    REPEAT = "repeat"
    HOLD_LONGER = "hold_longer"
    SHORTER = "shorter"
    SKIP = "skip"
    STOP = "stop"
    PAIN = "pain"
    NUMBER = "number"
    YES = "yes"
    NO = "no"
    HOW_LONG = "how_long"
    WHATS_NEXT = "whats_next"
    HELP = "help"
    SAFETY = "safety"
    START_ROUTINE = "start_routine"
    HOW_AM_I_DOING = "how_am_i_doing"
    TEACH = "teach"
    LOUDER = "louder"
    QUIETER = "quieter"


K = IntentKind  # keeps the table below readable


@dataclass(frozen=True, init=False)
class Intent:
    """What the user meant: a kind and, for some, a value."""

    name: IntentKind
    value: Value = None

    def __init__(self, name: str, value: Value = None) -> None:
        # Plain names (fixture file names, benchmark labels) become members here, and a
        # misspelt one fails at once instead of being silently ignored by the engine.
        object.__setattr__(self, "name", IntentKind(name))
        object.__setattr__(self, "value", value)

    def __repr__(self) -> str:
        # As before the enum, so benchmark reports and test failures read the same.
        return f"Intent(name={self.name.value!r}, value={self.value!r})"


# The table. Each row: intent, value, phrase templates. Templates may hold one slot:
#   {n}       a pain number zero..ten (value = the number)
#   {secs}    a number of seconds from SECONDS_WORDS (value = seconds)
#   {safety}  a safety word (value = the word)
#   {routine} a spoken routine alias (value = the routine name)
COMMANDS: tuple[tuple[IntentKind, Value, tuple[str, ...]], ...] = (
    (K.NEXT, None, ("next", "next step", "next one", "move on")),
    (K.BACK, None, ("back", "go back", "previous", "previous step")),
    (K.PAUSE, None, ("pause", "wait", "hold on")),
    (K.RESUME, None, ("resume", "go", "continue", "carry on", "keep going")),
    (K.REPEAT, None, ("repeat", "repeat that", "say again", "say that again")),
    (K.HOLD_LONGER, None, ("hold longer", "hold it longer", "longer", "more time")),
    (K.HOLD_LONGER, "{secs}", ("hold longer by {secs} seconds",
                               "hold it longer by {secs} seconds", "{secs} more seconds")),
    # "short": what Whisper tiny.en writes for a "shorter" said with its ending clipped (dev:
    # 3 more espeak-ng phrases right, no more false accepts), and a natural way to ask.
    (K.SHORTER, None, ("shorter", "short", "hold shorter", "less time", "shorter hold")),
    (K.SKIP, None, ("skip", "skip this", "skip it", "skip this one")),
    (K.STOP, None, ("stop", "stop session", "end session", "finish", "quit")),
    (K.PAIN, "{n}", ("pain {n}", "pain is {n}", "pain level {n}", "{n} out of ten")),
    # A rating as people answer "how is the pain now?" ("about a six", "maybe five"): only
    # listened for right after that question, as the bare number is.
    (K.NUMBER, "{n}", ("{n}", "a {n}", "about {n}", "about a {n}", "around {n}", "maybe {n}",
                       "maybe a {n}", "it's {n}", "it's a {n}", "it's about {n}")),
    # Not "okay" or "yeah": tiny.en writes them for unclear speech and noise, and here they
    # would carry on after a safety stop. With them, 79 of dev's 361 negatives heard while
    # the question waits were a yes (test: 22 of 180), and 3 of 68 "no"s; without, 19 and 6
    # (more are a "no": the safe side) and none, for 1 "yes" of 68 (test: 1 of 30) not
    # heard. The question asks for "yes"; an "okay" is asked again.
    (K.YES, None, ("yes", "yep", "sure")),
    (K.NO, None, ("no", "nope")),
    (K.HOW_LONG, None, ("how long left", "how long", "how much longer", "time left")),
    (K.WHATS_NEXT, None, ("what's next", "what is next", "what comes next")),
    (K.HELP, None, ("help", "what can i say")),
    # As the feeling is said ("it feels sharp", "it's going numb"): a safety word missed
    # because it came in a sentence is worse than any false stop.
    (K.SAFETY, "{safety}", ("{safety}", "it's {safety}", "{safety} pain", "that's {safety}",
                            "feels {safety}", "it feels {safety}", "going {safety}",
                            "it's going {safety}", "it's getting {safety}")),
    (K.SAFETY, "tingling", ("pins and needles",)),
    (K.START_ROUTINE, "{routine}", ("start {routine}", "start {routine} routine",
                                    "begin {routine}", "begin {routine} routine",
                                    "start the {routine}", "start the {routine} routine",
                                    "start my {routine} routine", "begin the {routine}",
                                    "begin the {routine} routine", "let's do {routine}",
                                    "let's do the {routine} routine")),
    (K.HOW_AM_I_DOING, None, ("how am i doing", "how am i getting on")),
    # The voice lesson (`companion enroll`) started by voice, between sessions: on a
    # headless device the user may have no terminal. Value: the lesson's group, or "all".
    (K.TEACH, "all", ("teach me my voice", "learn my voice")),
    (K.TEACH, "numbers", ("teach me the numbers", "learn my numbers")),
    # How loud the companion speaks, in a session or between (the loop acts on them, not
    # the session). Without "louder" listened for, 3 of 16 espeak-ng renders of it were
    # taken for "hold longer" in a session; with it, 2, and 10 are heard as said.
    (K.LOUDER, None, ("louder", "a bit louder", "speak up", "volume up")),
    (K.QUIETER, None, ("quieter", "a bit quieter", "softer", "too loud", "volume down")),
)


def check_commands(rows: Iterable[tuple[object, Value, tuple[str, ...]]]) -> None:
    """The table and the enum must agree: a kind nobody can say, or a row of a kind the
    code does not know, is a mistake to find at import, not when a user says it."""
    named = [row[0] for row in rows if row[2]]
    unknown = sorted(str(k) for k in named if not isinstance(k, IntentKind))
    silent = sorted(k.value for k in set(IntentKind) - set(named))
    if unknown or silent:
        raise ValueError(f"COMMANDS and IntentKind disagree: rows of unknown kinds {unknown}, "
                         f"kinds without phrases {silent}")


check_commands(COMMANDS)

INTENT_NAMES: frozenset[IntentKind] = frozenset(IntentKind)
# What makes sense while no session runs; in a session, everything else but the answers
# (a bare number, yes/no) that only mean something right after their question.
# How the companion speaks: listened for at every moment, acted on by the voice loop.
LOUDNESS_INTENTS: frozenset[IntentKind] = frozenset({K.LOUDER, K.QUIETER})
WAITING_INTENTS: frozenset[IntentKind] = frozenset({K.START_ROUTINE, K.HOW_AM_I_DOING, K.HELP,
                                                    K.TEACH}) | LOUDNESS_INTENTS
ANSWER_INTENTS: frozenset[IntentKind] = frozenset({K.NUMBER, K.YES, K.NO})
RATING_INTENTS: frozenset[IntentKind] = frozenset({K.NUMBER, K.PAIN})  # a pain rating, 0..10
SESSION_INTENTS: frozenset[IntentKind] = (INTENT_NAMES - WAITING_INTENTS - ANSWER_INTENTS
                                          | {K.HELP} | LOUDNESS_INTENTS)
# The moments the loop listens in, by name: the session engine's listening_for() is made
# of these, and `companion recognize --when` hears a recording as the loop would then.
# "resume" only means something while paused (or as a yes to the safety question): left out
# of a running session's phrases, it cannot be what another word is taken for (FSDD's
# "four" heard as "go").
_RUNNING = SESSION_INTENTS - {K.RESUME}
MOMENTS: dict[str, frozenset[IntentKind]] = {
    "waiting": WAITING_INTENTS,
    "session": _RUNNING,
    "paused": SESSION_INTENTS,
    "rating": _RUNNING | {K.NUMBER},                # right after "how is the pain now?"
    # While the safety question waits: its answers, and what still means something then
    # (next and resume are a yes, stop a no; help, repeat, how long left). Not the step
    # moves a session refuses then: back, skip, pause, hold longer or shorter would only be
    # told to answer, and they were what the answer was taken for ("sure" heard as "short"
    # in 6 of 30 renders, `bench phrases`; 28 of 30 heard as a yes without them, against
    # 23). `bench soak --hours 2 --during question`: yes 5 and no 10 in 782 utterances
    # either way; dev yes and no 67 and 66 of 68 either way.
    "question": (SESSION_INTENTS | {K.YES, K.NO}) - {K.BACK, K.SKIP, K.PAUSE, K.HOLD_LONGER,
                                                     K.SHORTER},
    "stopped": WAITING_INTENTS | {K.RESUME},        # just after "stop" (it can be taken back)
    # A voice lesson offered, not yet begun: a yes begins it. Not "no": the room's noise
    # and chatter were heard as it 202 times in 2 hours (`bench soak --during offered`,
    # when it was listened for), and would call off a lesson the user asked for.
    "offered": WAITING_INTENTS | {K.YES},
}
# Phrases a moment leaves out though their intent is listened for. Just after a stop, a
# bare "go": room chatter of "down" is heard as it (all 5 take-backs in 2 hours of `bench
# soak --during stopped`), and the stop cue asks for "continue", not "go".
LEFT_OUT: dict[str, frozenset[str]] = {"stopped": frozenset({"go"})}
# The phrase the companion names for each command when it tells the user what to say (the
# help, "say continue when you're ready", the voice lesson; a routine's start as a template):
# of each command's phrases, the one the model hears best, where that is clearly better than
# the plain word in espeak-ng's voices and the Piper voice alike (`companion bench phrases`,
# 2026-12-07, each phrase 30 renders, heard as meant, espeak-ng / Piper: wait 24/24 and 6/6
# against pause 15/24 and 4/6; continue 24, 6 against resume 20, 3; more time 24, 6 against
# hold longer 14, 4; less time 24, 6 against shorter 16, 5; skip this one 24, 5 against skip
# 20, 3; time left 24, 6 against how long left 19, 6; speak up 22, 6 against louder 17, 6;
# too loud 23, 6 against quieter 9, 5). Every other phrase still works; only what is taught
# changed.
TAUGHT: dict[IntentKind, str] = {
    K.NEXT: "next", K.BACK: "back", K.PAUSE: "wait", K.RESUME: "continue",
    K.REPEAT: "repeat", K.HOLD_LONGER: "more time", K.SHORTER: "less time",
    K.SKIP: "skip this one", K.STOP: "stop", K.HOW_LONG: "time left",
    K.WHATS_NEXT: "what's next", K.HELP: "help", K.LOUDER: "speak up", K.QUIETER: "too loud",
    K.YES: "yes", K.NO: "no", K.HOW_AM_I_DOING: "how am i doing",
    # A routine's start, over the eight routines' first names (the same bench, 240 renders
    # a form): "let's do neck" 216 heard (Piper 46 of 48), "start my neck routine" 199,
    # "start the neck routine" 182, "start neck routine" 170 (41), "start neck" 155 (38).
    K.START_ROUTINE: "let's do {routine}",
    # A rating said unasked, over the eleven numbers (330 renders a form): "pain level six"
    # 306 heard (Piper 66 of 66) against "pain six" 226 (54; "pain ten" 8 of 30, "pain nine"
    # 13, "pain zero" 15) and "pain is six" 200. Wrong ratings 3 against 1 (espeak-ng's US
    # women's "five" written "time": each is said back, and said again it is put right).
    K.PAIN: "pain level {n}",
}


def taught_lead(kind: IntentKind) -> str:
    """The words of a taught template before its slot: "let's do", "pain level"."""
    return TAUGHT[kind].split("{")[0].strip()
del K


def spoken_names(routine_aliases: dict[str, str]) -> list[str]:
    """Each routine's first alias, in the library's order: how the companion names a routine
    aloud (help while waiting, the voice lesson's "let's do neck")."""
    first: dict[str, str] = {}
    for alias, name in routine_aliases.items():
        first.setdefault(name, alias)
    return list(first.values())


def moment_for(kind: Optional[IntentKind]) -> str:
    """The first moment (in MOMENTS' order) in which this kind makes sense: where the loop
    would hear it said. None (no command) is heard in a session, where time is spent."""
    return next((m for m, kinds in MOMENTS.items() if kind in kinds), "session")

_DIGITS = {str(i): w for i, w in enumerate(NUMBER_WORDS)}
_SECONDS_DIGITS = {str(v): k for k, v in SECONDS_WORDS.items()}
# Words said around a command that never change its meaning: courtesy ("next, please",
# "companion, stop"), a start ("okay, next", "so, pain six") and hesitation ("um, skip").
# Whisper also writes a breath or a click before a word as "The" ("The next"). parse()
# strips one of each; the recognizer's grammar (hearing/grammar.py) spells every phrase
# with them too, so what parse accepts and what the decoder may write agree.
LEADS: tuple[str, ...] = ("okay companion", "companion", "okay", "so", "and", "um", "uh",
                          "the")
TRAILS: tuple[str, ...] = ("please", "thanks", "thank you", "companion")


def framing(words: str) -> tuple[str, str]:
    """The one leading and one trailing word of courtesy or hesitation (LEADS, TRAILS)
    around normalized `words`; "" where there is none."""
    return (next((w for w in LEADS if words.startswith(w + " ")), ""),
            next((w for w in TRAILS if words.endswith(" " + w)), ""))


# Words of a rating outside zero..ten, for hint().
_OUT_OF_RANGE = frozenset({"minus", "eleven", "twelve", "thirteen", "fifteen", "twenty",
                           "hundred", "eleventy", "million"})


def normalize(text: str) -> str:
    """Lower-case, spell out digits 0-10 and named second counts, drop punctuation but
    keep apostrophes, squeeze spaces."""
    text = text.lower().replace("’", "'")
    text = re.sub(r"(?<![a-z0-9])-(?=\d)", " minus ", text)  # "pain -1" is not "pain 1"
    text = re.sub(r"[^a-z0-9' ]+", " ", text)
    words = []
    for w in text.split():
        w = w.strip("'")
        if not w:
            continue
        words.append(_DIGITS.get(w) or _SECONDS_DIGITS.get(w) or w)
    return " ".join(words)


class Vocabulary:
    """Every phrase the companion understands, expanded from COMMANDS for a given set of
    routine aliases. Gives the recognizer grammar and parses text into intents."""

    def __init__(self, routine_aliases: Optional[dict[str, str]] = None) -> None:
        """routine_aliases maps a spoken alias ("neck and shoulders") to a routine name."""
        self.routine_aliases = {normalize(a): n for a, n in (routine_aliases or {}).items()}
        self.phrases: dict[str, Intent] = {}
        for name, value, templates in COMMANDS:
            for template in templates:
                for phrase, val in self._expand(template, value):
                    # The first row that claims a phrase wins ("ten" is a number, not seconds).
                    self.phrases.setdefault(normalize(phrase), Intent(name, val))

    def _expand(self, template: str, value: Value) -> Iterable[tuple[str, Value]]:
        if "{n}" in template:
            for i, w in enumerate(NUMBER_WORDS):
                yield template.replace("{n}", w).replace("a eight", "an eight"), i
        elif "{secs}" in template:
            for w, secs in SECONDS_WORDS.items():
                yield template.replace("{secs}", w), secs
        elif "{safety}" in template:
            for w in SAFETY_WORDS:
                yield template.replace("{safety}", w), w
        elif "{routine}" in template:
            for alias, routine in self.routine_aliases.items():
                yield template.replace("{routine}", alias), routine
        else:
            yield template, value

    def parse(self, text: str) -> Optional[Intent]:
        """The intent a phrase means, or None for anything not in the table: unknown
        speech is ignored, never guessed."""
        words = normalize(text)
        lead, trail = framing(words)
        # Plain first, so a phrase that is itself such a word stays itself.
        for cut_lead, cut_trail in ((0, 0), (0, 1), (1, 0), (1, 1)):
            start = len(lead) + 1 if cut_lead and lead else 0
            end = len(words) - (len(trail) + 1 if cut_trail and trail else 0)
            if start < end and words[start:end] in self.phrases:
                return self.phrases[words[start:end]]
        return None

    def hint(self, text: str) -> Optional[str]:
        """For typed text that is not a command but looks like a rating out of range
        ("pain eleven", "pain -1", "12"): how ratings go. None otherwise."""
        words = normalize(text).split()
        if not words or self.parse(text) is not None:
            return None
        def numeric(w: str) -> bool:
            return w.isdigit() or w in _OUT_OF_RANGE or w in NUMBER_WORDS

        out_of_ten = words[-3:] == ["out", "of", "ten"]
        said = words[:-3] if out_of_ten else words
        looks_rated = words[0] == "pain" or out_of_ten or all(numeric(w) for w in words)
        if looks_rated and any(numeric(w) for w in said):
            return 'pain is rated from zero (none) to ten (worst), e.g. "pain six"'
        return None

    def phrases_for(self, intents: Iterable[str]) -> frozenset[str]:
        """The phrases of these intents (members or their plain names): what the
        recognizer listens for at a moment."""
        names = set(intents)
        return frozenset(p for p, i in self.phrases.items() if i.name in names)

    def phrases_at(self, moment: str) -> frozenset[str]:
        """The phrases listened for at a moment of MOMENTS, less what it leaves out."""
        return self.phrases_for(MOMENTS[moment]) - LEFT_OUT.get(moment, frozenset())

    def grammar_phrases(self) -> list[str]:
        """All phrases, as words a recognizer dictionary knows."""
        return sorted(self.phrases)

    def words(self) -> list[str]:
        """Every distinct word in the grammar (to check against a model's vocabulary)."""
        return sorted({w for p in self.phrases for w in p.split()})

    def jsgf(self) -> str:
        """A JSGF grammar accepting exactly the phrases."""
        alts = " | ".join(self.grammar_phrases())
        return f"#JSGF V1.0;\ngrammar companion;\npublic <command> = {alts};\n"
