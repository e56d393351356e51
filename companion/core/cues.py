"""The companion's own spoken lines (routine cues live in the routine files). Kept in one
place so speech can render the fixed ones ahead of time."""

from __future__ import annotations

import math
from typing import Iterable

from companion.core.routines import PlannedStep
from companion.core.vocabulary import NUMBER_WORDS, TAUGHT, IntentKind, taught_lead

_K = IntentKind
# What the user is told to say for a command: its best-heard phrase (vocabulary.TAUGHT).
_GO_ON = TAUGHT[_K.RESUME]
_START = taught_lead(_K.START_ROUTINE)  # "let's do"
_RATE = taught_lead(_K.PAIN)  # "pain level"

BREATHE = "Breathe in slowly, and let it go."
HALFWAY = "Halfway."
TEN_LEFT = "Ten seconds left."
RATE = "How is the pain now, from zero to ten?"
PAUSED = f"I've paused. Say {_GO_ON} when you're ready."
RESUMED = "Resuming."
# Said before "how long left" while paused: the step's clock stands still, and "45 seconds
# left" alone would not say why nothing moves (Whisper heard it right in Piper's voice).
STILL_PAUSED = "Still paused."
# A pause, or the safety question, left for minutes (engine.PAUSE_REMIND_S, PAUSE_END_S).
PAUSE_REMINDER = f"Still paused. Say {_GO_ON} to go on, or stop to end the session."
QUESTION_REMINDER = "Still waiting for you. Say yes to go on, or no to end the session."
LEFT_PAUSED = ("We've been paused for half an hour, so I've ended the session. Your ratings "
               f"are saved. To begin again, say {_START} and a routine.")
NOTHING_TO_LENGTHEN = "There's no hold running right now."
AT_LONGEST = "That's as long as this hold goes."
AT_SHORTEST = "That's as short as it gets."
# "hold longer" / "shorter" that reached the step's limit on the way: no number to say.
LONGER_TO_LIMIT = "Holding longer, as long as this hold goes."
SHORTER_TO_LIMIT = "Shorter, as short as it gets."
NOT_ASKED = f"To rate your pain, say {_RATE} and a number from zero to ten."
HIGH_PAIN = ("That's high. Back off the pressure until it feels like a six at most. "
             "The pain should ease as you hold, not build.")
SAFETY = {
    "sharp": "Stop pressing now. That sharp pain means it is time to back off. Come off the ball.",
    "shooting": "Stop pressing now. Pain that shoots away from the spot means a nerve may "
                "be involved. Come off the ball.",
    "numb": "Stop pressing now. Numbness means you may be pressing on a nerve. Come off "
            "the ball and move gently.",
    "tingling": "Stop pressing now. Tingling means you may be pressing on a nerve. Come off "
                "the ball and move gently.",
}
SAFETY_AFTER = ("Try a lighter pressure a little to the side. If it keeps coming back, or if "
                "you feel weakness, have it checked by a professional. Say yes to go on, or no "
                "to end.")
CONTINUE_AFTER_SAFETY = "Alright, carrying on gently."
YES_TAKEN_BACK = "Sorry, I heard a yes. Did you say no? Say yes to go on, or no to end."
STOPPED = "Stopping here. Nicely done, and thank you for taking the time."
# Said when "stop" ended a running step: it may have been the room (engine.UNDO_STOP_S).
STOPPED_UNDOABLE = f"Stopping here. Nicely done. If you meant to go on, say {_GO_ON}."
STOP_TAKEN_BACK = "Sorry, I heard stop. Carrying on from the start of this step."
COMPLETED = "That's the whole routine. Well done. Drink some water and move gently."
NO_PREVIOUS = "This is the first step."
# What can be said in a running session (resume only means something while paused).
HELP = ("You can say: " + ", ".join(TAUGHT[k] for k in (
    _K.NEXT, _K.BACK, _K.PAUSE, _K.REPEAT, _K.HOLD_LONGER, _K.SHORTER, _K.SKIP, _K.STOP,
    _K.HOW_LONG, _K.WHATS_NEXT, _K.LOUDER, _K.QUIETER)) + f", or {_RATE} and a number.")
# "help" where the list above is not what can be said: the safety question waits for its
# answer (a step move is refused then), a pause for "resume", the pain question for a number.
HELP_QUESTION = ("I stopped the step for safety and I'm waiting for your answer. Say yes to "
                 "go on gently with the next step, or no to end the session.")
HELP_PAUSED = (f"We're paused. Say {_GO_ON} to go on, stop to end the session, or "
               f"{TAUGHT[_K.HOW_LONG]}.")
HELP_RATING = ("To rate the pain now, say a number from zero to ten. " + HELP)
NO_QUESTION = "There's nothing to answer right now."
# Said once when an answer was spoken but not understood (Session.not_understood).
RATE_AGAIN = "Sorry, I didn't catch that. Say a number from zero to ten."
QUESTION_AGAIN = "Sorry, I didn't catch that. Say yes to go on, or no to end."


# Said by the voice loop outside a session, or about the devices.
LISTENING = f"Listening. To begin, say {_START} and a routine's name."
# Said before LISTENING when the clock reads earlier than the pain log's newest entry
# (storage/wall_clock.py): headless, the journal's warning is seen by nobody.
CLOCK_BEHIND = ("My clock is behind your last session, so today's will be logged with the "
                "wrong date. Let me reach the internet once, or set the time.")


def waiting_help(routines: list[str], lesson: bool = False) -> str:
    """Help while no session runs: the routines by name (nothing on a headless device shows
    them), and what else can be asked (the voice lesson where one can be given)."""
    if not routines:
        return LISTENING
    names = " or ".join([", ".join(routines[:-1]), routines[-1]] if routines[:-1] else routines)
    return (f"To begin, say {_START} and a routine: {names}. Or ask: how am I doing?"
            + (" Or say: teach me my voice." if lesson else ""))


HOW_AM_I_NO_DATA = "There are no pain ratings yet."
# "louder" / "quieter" (loop/voice_loop.py), said at the new loudness so it is heard.
LOUDER = "Louder."
QUIETER = "Quieter."
LOUDEST = "This is as loud as I go."
QUIETEST = "This is as quiet as I go."
# The voice lesson asked for by voice ("teach me the numbers"; loop/enroll.py says its prompts).
# Asked before a lesson begins: a lesson keeps what it hears as the user's voice, so one
# begun by talk in the room would learn that talk.
LESSON_OFFERS = {
    "numbers": ("A numbers lesson: I'll ask you for each number from zero to ten, twice. "
                "It takes about two minutes. To begin, say yes."),
    "all": ("A voice lesson: I'll ask you for each number, command and routine, twice. "
            "It takes a few minutes. To begin, say yes."),
}
LESSON_ASK_AGAIN = "To begin the lesson, say yes."
LESSON_START = ("Let's learn your voice. Say each thing I ask for, after me. "
                "To stop, stay quiet for half a minute.")
LESSON_STOPPED = "The lesson stopped. I'll listen for what you taught me so far."
LESSON_NOTHING = "The lesson stopped before anything was taught."
CANNOT_TEACH = "I can only learn your voice with the Whisper recognizer."
# After a session in which ratings had to be asked for again (VoiceLoop): the way to help.
SUGGEST_LESSON = ("I missed some of your numbers today. Before your next session, say: "
                  "teach me the numbers, and I'll learn how you say them.")
MIC_LOST = "I can't hear the microphone. I've paused, and I'll carry on when it's back."
MIC_BACK = f"I can hear you again. Say {_GO_ON} when you're ready."
SPEAKER_BACK = f"I can speak again. The session is paused; say {_GO_ON} when you're ready."
NO_MIC = "I can't hear the microphone. Check that it is plugged in."

NOT_SAVED = "I can't save to the disk right now. I'll keep it and try again."


def lost(n: int) -> str:
    return (f"{NUMBER_WORDS[n].capitalize() if n <= 10 else n} pain rating"
            f"{'s' if n != 1 else ''} could not be saved. The disk is full or read-only.")


def confirm(value: int) -> str:
    """A rating confirmed aloud once it is on disk. "Six, noted." rather than "Six, logged.":
    Whisper heard "logged" as "vlogged", "vlog" or "Wog" after every number (issue 15: 63 of
    110 words wrong, five Piper renders of each; "noted" 8 of 330 over fifteen, seven of them
    "two" as "to")."""
    return f"{NUMBER_WORDS[value].capitalize()}, noted."


def ask_back(value: int) -> str:
    """A rating heard only because one was asked for (the model wrote no number: "on" taken
    for "one"): asked back before it goes into the log."""
    return f"Was that {NUMBER_WORDS[value]}? Say yes, or say the number again."


ASKED_BACK_NO = "Then say the number again, from zero to ten."


def corrected(value: int) -> str:
    """A rating said again soon after another (rating.CORRECT_WITHIN_S): it replaced it."""
    return f"Changed to {NUMBER_WORDS[value]}."


def confirm_unsaved(confirmation: str) -> str:
    """A confirmation (confirm()) whose rating the disk refused: it says so."""
    return f"{confirmation} {NOT_SAVED}"


def minutes(seconds: float) -> int:
    """Whole minutes as the companion says "about N minutes": at least one. `routines
    list` shows the same number for the same seconds."""
    return max(1, round(seconds / 60))


def intro(title: str, seconds: float) -> str:
    n = minutes(seconds)
    return (f"Starting {title}. About {n} minute{'s' if n > 1 else ''}. "
            "Say help at any time.")


# "How long left" is said from two parts, each one of a few dozen lines rendered ahead of
# time (speech joins cached parts): rendering the whole answer when asked took a second here
# (loading the Piper voice, +120-300 MB) and would take several on a Pi, the loop waiting.
EXACT_UNTIL_S = 20      # seconds said exactly up to this; above, to the nearest five
ANSWERS_STEP_S = 180    # a step's seconds left are rendered ahead up to this (max_hold_s)


def _seconds(n: int) -> str:
    return f"{n} second{'s' if n != 1 else ''}"


def step_left(seconds: float) -> str:
    s = max(0, round(seconds))
    return _seconds(s) if s <= EXACT_UNTIL_S else f"about {5 * round(s / 5)} seconds"


def how_long_parts(step_s: float, session_s: float) -> tuple[str, str]:
    m = max(0, round(session_s / 60))
    rest = f"about {m} minute{'s' if m != 1 else ''} in the session" if m else \
        "under a minute in the session"
    step = step_left(step_s)
    return f"{step[0].upper()}{step[1:]} left in this step,", f"and {rest}."


def how_long(step_s: float, session_s: float) -> str:
    return " ".join(how_long_parts(step_s, session_s))


# The first part of "how long left" while the safety question waits: the step has ended, and
# a yes goes on with the next one. (Each part is rendered ahead; the answer joins them.)
NOTHING_LEFT_OF_STEP = "Nothing is left of this step,"


def how_long_after_safety(session_s: float) -> str:
    return f"{NOTHING_LEFT_OF_STEP} {how_long_parts(0, session_s)[1]}"


def longer(delta: float) -> str:
    return f"Holding {_seconds(round(delta))} longer."


def shorter(delta: float) -> str:
    return f"{_seconds(round(delta)).capitalize()} shorter."


def answer_lines(session_s: float, hold_steps: Iterable[int]) -> list[str]:
    """The answers a session says when asked (not from its plan): every "how long left" part
    for steps up to ANSWERS_STEP_S and sessions up to session_s, and "hold longer" /
    "shorter" by each of hold_steps. Rendered ahead so none is rendered while a user waits."""
    minutes = range(math.ceil(session_s / 60) + 1)
    lines = [how_long_parts(s, 0)[0] for s in range(ANSWERS_STEP_S + 1)]
    lines += [how_long_parts(0, m * 60)[1] for m in minutes]
    for n in hold_steps:
        lines += [longer(n), shorter(n)]
    return list(dict.fromkeys(lines))


# What a step of each kind is, said as "what's next" answers: the kind's bare name read
# badly ("Next: press, press for 6 seconds.", a step without a label of its own).
KIND_WORDS = {"position": "getting into place", "press": "pressing in", "hold": "a hold",
              "micro": "small movements", "release": "easing off", "stretch": "a stretch",
              "rest": "a rest"}


def whats_next(step: PlannedStep) -> str:
    """The next step: what it is (its label, with its kind unless the label says it), its
    side, how long. "Next, a hold, base of skull, right side, 45 seconds." """
    what = KIND_WORDS.get(step.kind, step.kind)
    label = step.label
    head = (what if label == step.kind else label if step.kind in label.split()
            else f"{what}, {label}")
    side = f", {step.side} side" if step.side else ""
    return f"Next, {head}{side}, {round(step.seconds)} seconds."


FINISHED_NEXT = "This is the last step."


def fixed() -> list[str]:
    """Lines known before any session: pre-render these."""
    lines = [BREATHE, HALFWAY, TEN_LEFT, RATE, PAUSED, RESUMED, STILL_PAUSED, PAUSE_REMINDER,
             QUESTION_REMINDER, LEFT_PAUSED,
             NOTHING_TO_LENGTHEN,
             AT_LONGEST, AT_SHORTEST, LONGER_TO_LIMIT, SHORTER_TO_LIMIT, NOT_ASKED, HIGH_PAIN,
             SAFETY_AFTER,
             CONTINUE_AFTER_SAFETY, YES_TAKEN_BACK, STOPPED, STOPPED_UNDOABLE,
             STOP_TAKEN_BACK, COMPLETED, NO_PREVIOUS, HELP, HELP_QUESTION, HELP_PAUSED,
             HELP_RATING,
             NO_QUESTION, RATE_AGAIN, QUESTION_AGAIN, LESSON_START, LESSON_STOPPED,
             LESSON_NOTHING, CANNOT_TEACH, SUGGEST_LESSON, *LESSON_OFFERS.values(),
             LESSON_ASK_AGAIN,
             FINISHED_NEXT, NOT_SAVED, *SAFETY.values(), LISTENING, HOW_AM_I_NO_DATA,
             MIC_LOST, MIC_BACK, SPEAKER_BACK, NO_MIC, CLOCK_BEHIND, NOTHING_LEFT_OF_STEP,
             LOUDER, QUIETER, LOUDEST, QUIETEST, ASKED_BACK_NO]
    return lines + [line(v) for line in (confirm, corrected, ask_back) for v in range(11)]

NO_LOG_SUMMARY = "I can't read your pain log right now, so I can't say how you're doing."


SPEAKING_WPM = 150   # espeak-ng's default rate, for estimating cues nobody plays


def speaking_seconds(text: str) -> float:
    """How long a cue takes to say, estimated from its words (for cues nobody plays)."""
    return len(text.split()) * 60.0 / SPEAKING_WPM
