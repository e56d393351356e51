"""The session engine: a pure state machine over a routine's planned steps. Intents and
clock ticks go in, events come out. No audio, no files, no sleeping: a 20-minute routine
runs in a test in milliseconds."""

from __future__ import annotations

from typing import Callable, Optional

from companion.core import cues
from companion.core.clock import Clock
from companion.core.events import (Cue, Event, HoldChanged, Paused, Resumed, SafetyStop,
                                   SessionEnded, StepEnded, StepStarted, TakenBack)
from companion.core.rating import CORRECT_WITHIN_S, Ratings
from companion.core.routines import PlannedStep, Routine
from companion.core.step_timer import StepTimer
from companion.core.vocabulary import MOMENTS, RATING_INTENTS, Intent, IntentKind

K = IntentKind
TIMED_EXTENSIBLE = ("hold", "stretch", "rest")
STEP_MOVES = frozenset({K.NEXT, K.BACK, K.SKIP, K.PAUSE, K.RESUME, K.HOLD_LONGER, K.SHORTER,
                        K.REPEAT})
HOLD_STEP_S = 15.0        # "hold longer" / "shorter" without a number moves the hold this much
# rating.CORRECT_WITHIN_S, the window in which a rating said again replaces the last, also
# holds for the answer to the safety question: a "no" said this soon
# after the "yes" that carried on takes the yes back and the question is asked again
# (Speech Commands "no" was "okay" to the model 3 times in 68 on dev while "okay" was a yes).
# A "stop" is taken back by a resume ("carry on") said this soon after it: talk in the room
# is now and then heard as "stop" ("up", "oh": 4 in the session soak's 2 hours), and the
# routine would otherwise start over. Longer than CORRECT_WITHIN_S because the stop's own
# cue (about 5 s) is said first, and only barge-in words are heard over it.
UNDO_STOP_S = 20.0
# A pause nobody ends (the user was called away; a word from the room paused it) and a
# safety question nobody answers: reminded once after PAUSE_REMIND_S, and the session ended
# after PAUSE_END_S, so the companion listens for a start again instead of holding a
# session open for a day (until then "start neck routine" is not listened for).
PAUSE_REMIND_S = 300.0
PAUSE_END_S = 1800.0


def _said(speech_s: Callable[[str], float], step: PlannedStep) -> float:
    return speech_s(step.cue) + (speech_s(step.safety) if step.safety else 0.0)


def _said_first(speech_s: Callable[[str], float], routine: Routine) -> float:
    """The intro and the routine's safety notes, said before the first step."""
    return (speech_s(cues.intro(routine.title, routine.duration_s))
            + sum(speech_s(t) for t in routine.safety))


class Session:
    """One run of one routine. Call start(), then handle(intent) and tick() as time
    passes; both return the events that happened, in order."""

    def __init__(self, routine: Routine, clock: Clock, hold_step_s: float = HOLD_STEP_S,
                 speech_s: Optional[Callable[[str], float]] = None,
                 undo_stop_s: float = UNDO_STOP_S) -> None:
        self.routine = routine
        self.plan: list[PlannedStep] = routine.plan()
        # In a spoken loop the clock stands still while instructions are said
        # (speech_s(text): how long that takes), so the intro's minutes and "how long
        # left" count that time too.
        say = speech_s or (lambda _text: 0.0)
        self._said = [_said(say, p) for p in self.plan]
        self.spoken_s = _said_first(say, routine) + sum(self._said)
        self.clock = clock
        self.hold_step_s = hold_step_s
        # 0: a stop is final (typed: nothing in the room types "stop" by mistake).
        self.undo_stop_s = undo_stop_s
        self.idx = 0
        self.started = False
        self.ended: Optional[str] = None
        self.timer = StepTimer()       # the current step's time
        self.ratings = Ratings()       # the pain ratings given and asked for
        self._question: Optional[str] = None       # a pending yes/no question
        self._asked_again = False  # the open rating or question was asked a second time
        # When a yes carried on after a safety stop, and the index of the step that hurt.
        self._yes_at: Optional[tuple[float, int]] = None
        # When the user said "stop", and the index of the step it ended (see UNDO_STOP_S).
        self._stopped: Optional[tuple[float, int]] = None
        # What each intent does in a session. Kinds missing here (start_routine, teach,
        # how_am_i_doing) only mean something between sessions, and louder and quieter
        # are about the speaker: the loop handles them.
        self._handlers: dict[IntentKind, Callable[[Intent, float], list[Event]]] = {
            K.NEXT: self._on_next, K.BACK: self._on_back, K.SKIP: self._on_skip,
            K.PAUSE: self._on_pause, K.RESUME: self._on_resume, K.REPEAT: self._on_repeat,
            K.HOLD_LONGER: self._on_hold_longer, K.SHORTER: self._on_shorter,
            K.STOP: self._on_stop, K.HOW_LONG: self._on_how_long,
            K.WHATS_NEXT: self._on_whats_next, K.HELP: self._on_help, K.PAIN: self._on_pain,
            K.NUMBER: self._on_number, K.SAFETY: self._on_safety, K.YES: self._on_yes,
            K.NO: self._on_no,
        }

    # ----- the clock side -------------------------------------------------------------

    @property
    def step(self) -> PlannedStep:
        return self.plan[self.idx]

    @property
    def paused(self) -> bool:
        return self.timer.paused

    def elapsed(self) -> float:
        return self.timer.ran(self.clock.now())

    def remaining(self) -> float:
        return self.timer.length - self.elapsed()

    def session_remaining(self) -> float:
        later = range(self.idx + 1, len(self.plan))
        return max(0.0, self.remaining()) + sum(self.plan[i].seconds + self._said[i]
                                                for i in later)

    def next_deadline(self) -> Optional[float]:
        """The clock time of the next thing tick() would act on (paused: the reminder, then
        the end of the session), or None if nothing will happen until an intent arrives."""
        if not self.started or self.ended:
            return None
        t = self.timer
        if t.paused_at is not None:
            return t.paused_at + (PAUSE_END_S if t.reminded else PAUSE_REMIND_S)
        marks = t.markers(self.step)
        return min(marks[0][0], t.end) if marks else t.end

    def tick(self) -> list[Event]:
        """Act on every marker and step end that is due by now, each at its own time."""
        out: list[Event] = []
        now = self.clock.now()
        while self.started and not self.ended:
            due = self.next_deadline()
            if due is None or due > now:
                break
            if self.timer.paused:
                out += self._left_paused(due)
                continue
            marks = self.timer.markers(self.step)
            if marks and marks[0][0] <= self.timer.end:
                t, key, text = marks[0]
                self.timer.fired.add(key)
                out.append(Cue(t, text, key if key in ("halfway", "ten_left") else "breath"))
            else:
                out += self._goto(self.idx + 1, "done", at=self.timer.end)
        return out

    def _left_paused(self, at: float) -> list[Event]:
        """A pause (or the safety question) long left: the reminder, or the end."""
        question = self._question == "continue"
        if not self.timer.reminded:
            self.timer.reminded = True
            return [Cue(at, cues.QUESTION_REMINDER if question else cues.PAUSE_REMINDER,
                        "question" if question else "info")]
        if question:  # its step already ended, for safety
            return self._end("left_paused", at, cues.LEFT_PAUSED)
        s = self.step
        return [StepEnded(at, self.idx, s.name, s.area, "left_paused", self.elapsed()),
                *self._end("left_paused", at, cues.LEFT_PAUSED)]

    # ----- steps ----------------------------------------------------------------------

    def start(self) -> list[Event]:
        now = self.clock.now()
        self.started = True
        out: list[Event] = [Cue(now, cues.intro(self.routine.title,
                                                   self.routine.duration_s + self.spoken_s),
                                "intro")]
        out += [Cue(now, note, "safety") for note in self.routine.safety]
        return out + self._begin(0, now)

    def _begin(self, idx: int, at: float) -> list[Event]:
        self.idx = idx
        s = self.step
        self.timer.begin(at, s.seconds)
        out: list[Event] = [StepStarted(at, idx, s.name, s.kind, s.area, s.seconds),
                            Cue(at, s.cue, "step")]
        if s.safety:
            out.append(Cue(at, s.safety, "safety"))
        return out

    def _goto(self, idx: int, reason: str, at: Optional[float] = None) -> list[Event]:
        """End the current step for `reason` and begin step idx (or end the session)."""
        at = self.clock.now() if at is None else at
        s = self.step
        ran = self.timer.ran(at)
        if reason != "done":  # the user moved on: a rating now is of where they are
            self._yes_at = None
            self.ratings.moved_on()
        out: list[Event] = [StepEnded(at, self.idx, s.name, s.area, reason, ran)]
        if idx >= len(self.plan):
            return out + self._end("completed", at, cues.COMPLETED)
        out += self._begin(max(0, idx), at)
        asked = self.ratings.ask(s, reason, ran, at)
        if asked:
            self._asked_again = False
        return out + asked

    def _end(self, reason: str, at: float, text: Optional[str]) -> list[Event]:
        self.ended = reason
        self._question = self._yes_at = None
        self.ratings.close()
        out: list[Event] = [Cue(at, text, "end")] if text else []
        return out + [SessionEnded(at, reason, self.ratings.count)]

    def finish(self, reason: str) -> list[Event]:
        """End from outside (end of input, Ctrl-C): close the current step and session."""
        if self.ended or not self.started:
            return []
        if self._question == "continue":
            return self._end(reason, self.clock.now(), None)
        now = self.clock.now()
        return [StepEnded(now, self.idx, self.step.name, self.step.area, reason,
                          self.timer.ran(now)),
                *self._end(reason, now, None)]

    # ----- intents --------------------------------------------------------------------

    def listening_for(self) -> frozenset[IntentKind]:
        """The intents that mean something now: a bare number only right after a rating
        was asked for, yes/no only while a question waits for its answer (a rating asked
        back is one; and no for CORRECT_WITHIN_S after a yes to the safety question),
        resume only while paused or as that answer."""
        if self._question == "continue":  # the step has ended: its moves mean nothing
            names = set(MOMENTS["question"])
        else:
            names = set(MOMENTS["paused" if self.paused else "session"])
        if self.ratings.open(self.clock.now()) is not None:
            names |= MOMENTS["rating"]
        if self.ratings.doubted(self.clock.now()) is not None:  # "Was that one?"
            names |= {K.YES, K.NO}
        if self._recent(self._yes_at):
            names.add(K.NO)
        return frozenset(names)

    def not_understood(self) -> list[Event]:
        """Someone spoke and nothing was understood. While a rating or the yes/no question
        waits for its answer, that was most likely the answer: ask once more (once per
        question, so chatter in the room does not keep the companion talking). Otherwise
        nothing: a command not heard is never guessed at."""
        if not self.started or self.ended or self._asked_again:
            return []
        if self._question == "continue":
            text, kind = cues.QUESTION_AGAIN, "question"
        elif self.ratings.open(self.clock.now()) is not None:
            text, kind = cues.RATE_AGAIN, "rating"
        else:
            return []
        self._asked_again = True
        return [Cue(self.clock.now(), text, kind)]

    def handles(self, kind: IntentKind) -> bool:
        """Whether a session acts on this kind of intent at all."""
        return kind in self._handlers

    def handle(self, intent: Intent) -> list[Event]:
        """Act on one intent. Unknown or irrelevant intents produce no events."""
        if not self.started or self.ended:
            return []
        out = self.tick()  # catch up first so the intent acts on the right step
        if self.ended:
            return out
        name = intent.name
        if self._question == "continue" and name in STEP_MOVES:
            # The step already ended for safety: the answer decides what happens next.
            if name in (K.NEXT, K.RESUME):
                name = K.YES
            else:
                return out + [Cue(self.clock.now(), cues.SAFETY_AFTER, "safety")]
        handler = self._handlers.get(name)
        return out + (handler(intent, self.clock.now()) if handler else [])

    def check(self, intent: Intent) -> list[Event]:
        """A rating heard only because one was asked for (the recognizer's model wrote no
        number: "on" taken for "one"): asked back ("Was that one?") rather than logged. A
        yes logs it, and so does the same number said again; another number said plainly
        is logged as said; a no lets it go and asks for the number again."""
        if (not self.started or self.ended or self._question is not None
                or intent.name not in RATING_INTENTS or not isinstance(intent.value, int)):
            return self.handle(intent)
        out = self.tick()
        now = self.clock.now()
        if self.ended or (intent.name == K.NUMBER and self.ratings.open(now) is None):
            return out
        if self.ratings.doubted(now) == intent.value:  # said twice: that is what was said
            return out + self.ratings.take(intent.value, self.step, now)
        return out + self.ratings.ask_back(intent.value, now)

    def _on_next(self, _: Intent, now: float) -> list[Event]:
        return self._goto(self.idx + 1, "next", now)

    def _on_back(self, _: Intent, now: float) -> list[Event]:
        if self.idx == 0:
            return [Cue(now, cues.NO_PREVIOUS, "info"), *self._goto(0, "back", now)]
        return self._goto(self.idx - 1, "back", now)

    def _on_skip(self, _: Intent, now: float) -> list[Event]:
        block = self.step.block
        nxt = next((p.index for p in self.plan[self.idx:] if not p.block.startswith(block)),
                   len(self.plan))
        return self._goto(nxt, "skip", now)

    def _on_pause(self, _: Intent, now: float) -> list[Event]:
        if self.paused:
            return []
        self.timer.pause(now)
        return [Paused(now, self.idx), Cue(now, cues.PAUSED, "info")]

    def _on_resume(self, intent: Intent, now: float) -> list[Event]:
        if self._question == "continue":
            return self._on_yes(intent, now)
        if not self.paused:
            return []
        self.timer.resume(now)
        return [Resumed(now, self.idx), Cue(now, cues.RESUMED, "info")]

    def _on_repeat(self, _: Intent, now: float) -> list[Event]:
        return [Cue(now, self.step.cue, "step")]

    def _on_hold_longer(self, intent: Intent, now: float) -> list[Event]:
        s = self.step
        if s.kind not in TIMED_EXTENSIBLE:
            return [Cue(now, cues.NOTHING_TO_LENGTHEN, "info")]
        limit = s.max_s if s.kind == "hold" else max(120, s.seconds)
        want = float(intent.value) if isinstance(intent.value, int) else self.hold_step_s
        changed = self.timer.lengthen(want, float(limit), s, now)
        if changed is None:
            return [Cue(now, cues.AT_LONGEST, "info")]
        delta, capped = changed
        return [HoldChanged(now, self.idx, delta, self.timer.length),
                Cue(now, cues.LONGER_TO_LIMIT if capped else cues.longer(delta), "info")]

    def _on_shorter(self, _: Intent, now: float) -> list[Event]:
        if self.step.kind not in TIMED_EXTENSIBLE:
            return [Cue(now, cues.NOTHING_TO_LENGTHEN, "info")]
        changed = self.timer.shorten(self.hold_step_s, self.step, now)
        if changed is None:
            return [Cue(now, cues.AT_SHORTEST, "info")]
        taken, capped = changed
        return [HoldChanged(now, self.idx, -taken, self.timer.length),
                Cue(now, cues.SHORTER_TO_LIMIT if capped else cues.shorter(taken), "info")]

    def _on_stop(self, _: Intent, now: float) -> list[Event]:
        if self._question == "continue":  # the step already ended: the stop is the answer
            return self._end("stopped", now, cues.STOPPED)
        ran = self.timer.ran(now)
        undoable = self.undo_stop_s > 0
        out = [StepEnded(now, self.idx, self.step.name, self.step.area, "stop", ran),
               *self._end("stopped", now, cues.STOPPED_UNDOABLE if undoable else cues.STOPPED)]
        self._stopped = (now, self.idx) if undoable else None
        return out

    @property
    def stop_undoable(self) -> bool:
        """Ended by "stop" less than undo_stop_s ago: a resume now takes the stop back."""
        return (self.ended == "stopped"
                and self._recent(self._stopped, self.undo_stop_s) is not None)

    def undo_stop(self) -> list[Event]:
        """A resume said soon after "stop": the stop was misheard. The step it ended begins
        again from its start (the ball has to be put back), and the session goes on."""
        if not self.stop_undoable or self._stopped is None:
            return []
        now, idx = self.clock.now(), self._stopped[1]
        self.ended = self._stopped = None
        return [TakenBack(now, "stop", by="resume"), Cue(now, cues.STOP_TAKEN_BACK, "info"),
                *self._begin(idx, now)]

    def _on_how_long(self, _: Intent, now: float) -> list[Event]:
        step, session = self.remaining(), self.session_remaining()
        if self._question == "continue":  # the step ended for safety: a yes goes on after it
            return [Cue(now, cues.how_long_after_safety(session - max(0.0, step)), "info")]
        text = cues.how_long(step, session)
        return [Cue(now, f"{cues.STILL_PAUSED} {text}" if self.paused else text, "info")]

    def _on_whats_next(self, _: Intent, now: float) -> list[Event]:
        if self.idx + 1 >= len(self.plan):
            return [Cue(now, cues.FINISHED_NEXT, "info")]
        n = self.plan[self.idx + 1]
        return [Cue(now, cues.whats_next(n), "info")]

    def _on_help(self, _: Intent, now: float) -> list[Event]:
        """What can be said now: the answer a question waits for first."""
        if self._question == "continue":
            return [Cue(now, cues.HELP_QUESTION, "question")]
        if self.paused:
            return [Cue(now, cues.HELP_PAUSED, "info")]
        doubted = self.ratings.doubted(now)
        if doubted is not None:  # the rating asked back: that question again
            return [Cue(now, cues.ask_back(doubted), "rating")]
        if self.ratings.open(self.clock.now()) is not None:
            return [Cue(now, cues.HELP_RATING, "rating")]
        return [Cue(now, cues.HELP, "info")]

    def _recent(self, mark: Optional[tuple[float, int]], within: float = CORRECT_WITHIN_S
                ) -> Optional[tuple[float, int]]:
        """A yes (_yes_at) or a stop (_stopped) while what is said now would take it back
        (within CORRECT_WITHIN_S, or as given)."""
        if mark is not None and self.clock.now() - mark[0] <= within:
            return mark
        return None

    def _on_pain(self, intent: Intent, now: float) -> list[Event]:
        assert isinstance(intent.value, int), intent  # the vocabulary only yields 0..10
        return self.ratings.take(intent.value, self.step, now)

    def _on_number(self, intent: Intent, now: float) -> list[Event]:
        # A bare number is a rating only right after we asked for one; otherwise it could
        # be anything (the TV, a count), so it is ignored rather than guessed.
        if self.ratings.open(now) is None:
            return []
        return self._on_pain(intent, now)

    def _on_safety(self, intent: Intent, now: float) -> list[Event]:
        s = self.step
        word = str(intent.value)
        out: list[Event] = [SafetyStop(now, word, s.index, s.name, s.area)]
        if self._question != "continue":
            out.append(self._ask_to_continue(now))
        return out + [Cue(now, cues.SAFETY.get(word, cues.SAFETY["sharp"]), "safety"),
                      Cue(now, cues.SAFETY_AFTER, "safety")]

    def _on_yes(self, _: Intent, now: float) -> list[Event]:
        if self._question != "continue":  # but a rating asked back is a question too
            if self.ratings.doubted(now) is not None:
                return self.ratings.take_doubted(self.step, now)
            return [Cue(now, cues.NO_QUESTION, "info")]
        self._question = None
        out: list[Event] = [Cue(now, cues.CONTINUE_AFTER_SAFETY, "info")]
        # Leave the step that hurt behind: carry on from the one after it.
        if self.idx + 1 >= len(self.plan):
            return out + self._end("completed", now, cues.COMPLETED)
        self._yes_at = (now, self.idx)
        return out + self._begin(self.idx + 1, now)

    def _on_no(self, _: Intent, now: float) -> list[Event]:
        if self._question == "continue":
            return self._end("safety", now, cues.STOPPED)
        if self.ratings.doubted(now) is not None:
            return self.ratings.refuse_doubted(now)
        yes = self._recent(self._yes_at)
        if yes is None:
            return [Cue(now, cues.NO_QUESTION, "info")]
        # Back to where the safety stop left things, and ask again rather than end: a
        # "no" from the room (dev negatives: 5 to 7 % of them are heard as "no") then costs
        # a question, and the user's own "no" ends the session when said again.
        ended = self._ask_to_continue(now)
        self.idx, self._yes_at = yes[1], None
        return [ended, TakenBack(now, "yes"), Cue(now, cues.YES_TAKEN_BACK, "question")]

    def _ask_to_continue(self, now: float) -> StepEnded:
        """End the current step at once for safety and freeze the clock until the user
        answers whether to go on."""
        s = self.step
        ran = self.timer.ran(now)
        self.timer.pause(now)
        self._question, self._asked_again = "continue", False
        self.ratings.close()
        return StepEnded(now, self.idx, s.name, s.area, "safety", ran)

