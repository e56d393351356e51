"""Drives one session: turns heard or typed text into intents, engine events into speech
and log rows. Used by the typed front end and the voice loop alike, so both behave the same."""

from __future__ import annotations

import queue
import time
from typing import Callable, Optional

from companion.core import cues
from companion.core.engine import Session
from companion.core.interfaces import Log
from companion.core.events import (Cue, Event, PainLogged, Paused, Resumed, SafetyStop,
                                   SessionEnded, StepEnded, StepStarted, TakenBack)
from companion.core.vocabulary import LOUDNESS_INTENTS, Intent, IntentKind, Vocabulary

EOF = object()  # put on the input queue when input ends


class Runner:
    """Wires a Session to a log and a voice. `say` speaks (or prints) a cue; `wall` turns
    engine clock time into the wall-clock time stored in the log."""

    def __init__(self, session: Session, log: Log, say: Callable[[Cue], object],
                 vocabulary: Vocabulary, wall: Optional[Callable[[float], float]] = None,
                 on_event: Optional[Callable[[Event], None]] = None,
                 on_unknown: Optional[Callable[[str], None]] = None) -> None:
        self.session = session
        self.log = log
        self.say = say
        self.vocabulary = vocabulary
        # Rows are written as events happen, so by default they carry the real time: a
        # --speed clock runs ahead of it, and a crashed session must not end before it began.
        self.wall = wall or (lambda _t: time.time())
        self.on_event = on_event
        self.on_unknown = on_unknown
        self.session_id: Optional[int] = None

    def start(self) -> None:
        self.session_id = self.log.start_session(self.session.routine.name,
                                                 self.wall(self.session.clock.now()))
        self.dispatch(self.session.start())

    def feed(self, text: str) -> Optional[Intent]:
        """Act on one utterance or typed line; unknown text is reported and ignored."""
        intent = self.vocabulary.parse(text)
        if intent is not None and intent.name in LOUDNESS_INTENTS:
            # Typed: there is no voice to make louder, and nothing was misheard either.
            if self.on_unknown:
                self.on_unknown(text)
            return None
        if intent is None:
            if text.strip():
                if self.on_unknown:
                    self.on_unknown(text)
                self.not_understood()
            return None
        self.dispatch(self.session.handle(intent))
        return intent

    def handle(self, intent: Intent) -> None:
        """Act on an intent already understood (the voice loop parses with the recognizer's
        context); its events are logged and spoken like a typed line's."""
        self.dispatch(self.session.handle(intent))

    def check(self, intent: Intent) -> None:
        """A rating heard only because one was asked for: asked back (Session.check)."""
        self.dispatch(self.session.check(intent))

    def not_understood(self) -> None:
        """Something was said and not understood: an open question may be asked again."""
        self.dispatch(self.session.not_understood())

    def pause(self) -> None:
        """Pause a running session (a device went away); nothing if paused or over."""
        if not self.session.ended and not self.session.paused:
            self.handle(Intent(IntentKind.PAUSE))

    @property
    def over(self) -> bool:
        return bool(self.session.ended)

    @property
    def stop_undoable(self) -> bool:
        """Just ended by "stop": a resume now takes the stop back (Session.undo_stop)."""
        return self.session.stop_undoable

    def undo_stop(self) -> None:
        self.dispatch(self.session.undo_stop())

    def listening_for(self) -> frozenset[IntentKind]:
        return self.session.listening_for()

    def tick(self) -> None:
        self.dispatch(self.session.tick())

    def finish(self, reason: str) -> None:
        self.dispatch(self.session.finish(reason))

    def dispatch(self, events: list[Event]) -> None:
        """Log, then speak, in order: a rating is on disk before its confirmation is said.
        If the disk refuses it, the confirmation says so instead of claiming it is saved."""
        unsaved = getattr(self.log, "unsaved_ratings", lambda: 0)
        for e in events:
            self._record(e)
            if self.on_event:
                self.on_event(e)
            if isinstance(e, Cue) and e.kind == "confirm" and unsaved() > 0:
                e = Cue(e.at, cues.confirm_unsaved(e.text), "confirm")
            elif isinstance(e, SessionEnded) and unsaved() > 0:
                self.say(Cue(e.at, cues.lost(unsaved()), "advice"))
            if isinstance(e, Cue):
                self.say(e)

    def _record(self, e: Event) -> None:
        sid, at = self.session_id, self.wall(e.at)
        assert sid is not None, "start() first"
        if isinstance(e, PainLogged):
            self.log.log_rating(sid, at, e.value, e.index, e.step, e.area,
                                corrects=e.corrects is not None)
        elif isinstance(e, StepStarted):
            self.log.log_event(sid, at, "started", e.index, e.step, e.area)
        elif isinstance(e, StepEnded):
            self.log.log_event(sid, at, "ended", e.index, e.step, e.area,
                               f"{e.reason} after {e.ran_s:.1f}s")
        elif isinstance(e, SafetyStop):
            self.log.log_event(sid, at, "safety", e.index, e.step, e.area, e.word)
        elif isinstance(e, TakenBack):
            if e.answer == "stop":  # the session goes on: it has not ended after all
                self.log.reopen_session(sid)
            self.log.log_event(sid, at, "corrected", detail=f"{e.answer} -> {e.by}")
        elif isinstance(e, (Paused, Resumed)):
            self.log.log_event(sid, at, e.type.lower(), e.index)
        elif isinstance(e, SessionEnded):
            self.log.end_session(sid, at, e.reason)

    def run_queue(self, inbox: "queue.Queue[object]", real_seconds: Callable[[float], float]
                  ) -> str:
        """Run in real (or scaled) time: wait for input or the engine's next deadline,
        whichever comes first. Items are text lines or EOF. Returns the end reason."""
        self.start()
        s = self.session
        while not s.ended:
            deadline = s.next_deadline()
            timeout = None if deadline is None else max(0.0, real_seconds(deadline - s.clock.now()))
            try:
                item = inbox.get(timeout=timeout)
            except queue.Empty:
                self.tick()
                continue
            if item is EOF:
                self.tick()
                self.finish("end_of_input")
                break
            self.feed(str(item))
        return s.ended or "end_of_input"
