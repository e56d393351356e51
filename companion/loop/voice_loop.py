"""The hands-free loop: microphone (or a recorded session) in, recognizer, session engine,
speech out, pain log. Time is audio time: every frame's sample count moves the session
clock, so a replayed file and a live microphone go through exactly the same code."""

from __future__ import annotations

import json
import time
from collections import deque
from typing import IO, Any, Callable, Iterable, Iterator, Optional, Sequence, Union

from companion.core.clock import ManualClock, SpeechAwareClock
from companion.loop.echo import OwnVoice
from companion.loop.enroll import Teach
from companion.loop.lessons import Lessons
from companion.core import cues
from companion.core.cues import speaking_seconds
from companion.core.engine import HOLD_STEP_S, Session
from companion.core.events import Cue, Event, PainLogged, Record, SessionEnded, TakenBack
from companion.core.interfaces import Amplified, Frame, Log, Reopenable, Speaker, Utterance
from companion.hearing.endpoint import EndpointConfig
from companion.storage.library import Library
from companion.core.routines import Routine
from companion.loop.records import (Acted, Heard, MicrophoneBack, MicrophoneLost, Said,
                                    SpeakerBack, SpeakerLost, VoiceUsed)
from companion.loop.runner import Runner
from companion.speech.base import GATE_TAIL_S  # the room still rings after playback ends
from companion.speech.loudness import Loudness
from companion.core.vocabulary import (LOUDNESS_INTENTS, RATING_INTENTS, Intent, IntentKind,
                                       Vocabulary, spoken_names)

# Said over the companion's own voice, these still act (and cut the cue short).
BARGE_IN = frozenset({IntentKind.STOP, IntentKind.PAUSE, IntentKind.SAFETY})
# An utterance reaches back a pre-roll before its first voiced frame, so our own echo can
# appear to begin that much before we began speaking.
ONSET_SLACK_S = EndpointConfig().pre_roll + 0.05
# The device may run this far behind the cue schedule before our echo's expected times move
# (jitter of a healthy player stays well under it).
LATE_PLAYBACK_S = 0.15
# Cues that say what to do next: the session clock waits until they have been said, so a
# step's time is the user's, not eaten by speech queued before it.
INSTRUCTION_KINDS = frozenset({"intro", "safety", "step"})
REOPEN_EVERY_S = 2.0  # audio seconds between tries to get a lost speaker back


Expect = Callable[[], frozenset[str]]


class VoiceLoop:
    """Waits for "start <routine>", runs that session, returns to waiting; or runs one
    given routine. `recognize(frames, expect)` yields utterances, asking expect() which
    phrases make sense at that moment; frames move the clock."""

    def __init__(self, library: Library, log: Log, speaker: Speaker,
                 recognize: Callable[[Iterable[Frame], Expect], Iterator[Utterance]],
                 hold_step_s: float = HOLD_STEP_S, events_out: Optional[IO[str]] = None,
                 summary: Optional[Callable[[], str]] = None,
                 reminders: Optional[Callable[[], list[str]]] = None,
                 greeting: Sequence[str] = (cues.LISTENING,),
                 clock: Optional[ManualClock] = None,
                 transcript: Optional[Callable[[dict[str, Any]], None]] = None,
                 mic_backlog: Callable[[], float] = lambda: 0.0,
                 acted_on: Callable[[Utterance], None] = lambda utt: None,
                 misheard: Callable[[Utterance], None] = lambda utt: None,
                 teach: Optional[Teach] = None,
                 ahead: Callable[[list[str]], None] = lambda lines: None,
                 loudness: Optional[Loudness] = None) -> None:
        self.library = library
        self.vocab = Vocabulary(library.aliases())
        self.log = log
        self.speaker = speaker
        self.recognize = recognize
        self.hold_step_s = hold_step_s
        self.events_out = events_out
        self.transcript = transcript
        # Audio captured but not yet read (MicSource.backlog_s): while a command is decoded
        # the room goes on, so "now" in the audio's time is that much later than the clock.
        self.mic_backlog = mic_backlog
        # Told of each utterance acted on (Recognizer.acted_on: Whisper learns the voice in
        # use from them); not of our own echo, nor of words over our voice that were gated.
        self.acted_on = acted_on
        # Told of an utterance that gave a rating, or a yes to the safety question, that the
        # user then put right (Recognizer.misheard: what Whisper learned from it goes).
        self.misheard = misheard
        # The voice lesson asked for by voice (teach: enroll.voice_lesson, None where the
        # recognizer cannot be taught).
        self.lessons = Lessons(teach, self._say, lambda: self.clock.now(),
                               lambda: self._speech_end,
                               lambda: self.clock.now() + max(0.0, self.mic_backlog()))
        self._frames: Optional[Iterator[Frame]] = None  # what the recognizer is reading
        self._acting: Optional[Utterance] = None  # the utterance being acted on
        self._rated_by: Optional[Utterance] = None  # the one that gave the last rating
        self._doubted_by: Optional[Utterance] = None  # the rating asked back, if any
        self._answered_by: Optional[Utterance] = None  # the last answer to the safety question
        self._stopped_by: Optional[Utterance] = None  # the one that stopped the last session
        self.summary = summary
        # Lines worth rendering before they are asked for: the summary a session has just
        # changed ("how am I doing" is asked between sessions; rendered when asked, the user
        # waited a second here, several on a Pi).
        self.ahead = ahead
        self.greeting = greeting  # the lines said when it starts listening, in order
        self.reminders = reminders
        # "louder" / "quieter": the speaker's gain, as the user last set it (saved by
        # Loudness when it has a file).
        self.loudness = loudness or Loudness()
        self._apply_loudness()
        self.clock = clock or ManualClock()           # audio time
        self.session_clock = SpeechAwareClock(self.clock)  # what the session's timers see
        self.runner: Optional[Runner] = None
        # The recent utterances only: an always-on service must not grow without end.
        self.heard: deque[Heard] = deque(maxlen=500)
        self.sessions = 0
        self._gate_until = 0.0
        self._speech_end = 0.0  # audio time the queued speech will have been said by
        self._speaking_since = 0.0  # audio time that stretch of speech began
        self.own_voice = OwnVoice()
        self._wall0 = time.time()
        self._speaker_lost = False
        self._next_reopen = 0.0
        self._phrase_sets: dict[Union[str, frozenset[IntentKind]], frozenset[str]] = {}
        self._opening: "Routine | str | None" = None  # what run() does at the first frame

    # ----- output ---------------------------------------------------------------------

    def _emit(self, record: Record) -> None:
        line = record.to_dict()
        if self.transcript:
            self.transcript(line)
        if self.events_out:
            self.events_out.write(json.dumps(line) + "\n")
            self.events_out.flush()

    def _say(self, text: str, kind: str = "info") -> float:
        now = self.clock.now()
        # A speaker that plays nothing (--no-speaker) reports 0 s; gate as if it had spoken,
        # so a replay of a recording that holds the companion's voice behaves as live did.
        began = time.monotonic()
        seconds = self.speaker.say(text, now) or speaking_seconds(text)
        if getattr(self.speaker, "realtime", False):
            # A cue not in the cache was rendered first (Piper: up to a second): a live
            # device starts it that much later in the microphone's time, and our echo with it.
            now += time.monotonic() - began
        # A cue starts now in the room, which the microphone's reader has not reached yet
        # (on a Pi, decoding a command takes a few hundred ms): our echo comes that late.
        now += max(0.0, self.mic_backlog())
        if now >= self._speech_end:  # quiet until now: this cue starts a stretch of speech
            self._speaking_since = now
        self.own_voice.said(text, max(self._speech_end, now), seconds)
        self._speech_end = max(self._speech_end, now) + seconds
        self._gate_until = self._speech_end + GATE_TAIL_S
        if kind in INSTRUCTION_KINDS:
            self.session_clock.hold_until(self._speech_end)
        self._emit(Said(now, text, kind, seconds))
        return seconds

    def _on_event(self, e: Event) -> None:
        if not isinstance(e, Cue):  # cues are written when said
            self._emit(Acted(self.clock.now(), e, self.session_clock.now()))
        if isinstance(e, PainLogged):
            if e.corrects is not None and self._rated_by is not None:
                self.misheard(self._rated_by)
            # The utterance that said it: not the yes that confirmed a rating asked back,
            # but the one asked back, now the user's voice (learned, and unlearned if put
            # right); one said twice is confirmed by itself.
            said = self.vocab.parse(self._acting.text) if self._acting else None
            rating = said is not None and said.name in RATING_INTENTS
            confirmed = said is not None and said.name == IntentKind.YES
            by = self._acting if rating else self._doubted_by if confirmed else None
            self._rated_by, self._doubted_by = by, None
            if by is not None and by.unsure:
                self.acted_on(by)
        if isinstance(e, TakenBack):
            by = self._stopped_by if e.answer == "stop" else self._answered_by
            if by is not None:
                self.misheard(by)
        if isinstance(e, Cue) and e.text == cues.RATE_AGAIN:
            self.lessons.rating_missed()
        if isinstance(e, SessionEnded):  # after the session's closing words
            self.lessons.session_ended()
            if self.summary:
                self.ahead([self.summary()])

    # ----- sessions -------------------------------------------------------------------

    def start_session(self, routine: Routine) -> None:
        session = Session(routine, self.session_clock, self.hold_step_s,
                          speech_s=speaking_seconds)
        self.lessons.session_started()
        # Rows are stored as they happen, so the wall time is the audio clock's.
        self.runner = Runner(session, self.log, lambda c: self._say(c.text, c.kind),
                             self.vocab, wall=lambda _t: self._wall0 + self.clock.now(),
                             on_event=self._on_event)
        self.sessions += 1
        for line in (self.reminders() if self.reminders else []):
            self._say(line, "reminder")
        self.runner.start()

    def expected_phrases(self) -> frozenset[str]:
        """What the recognizer should listen for now: a routine's start while waiting (and
        a resume just after "stop"); in a session, what the session says makes sense (a
        bare number only after "rate your pain", yes/no only while its question is open)."""
        runner = self._running()
        if runner:
            return self._phrases(runner.listening_for())
        if self.lessons.offered():
            return self._phrases("offered")
        return self._phrases("stopped" if self.runner is not None and self.runner.stop_undoable
                             else "waiting")

    def _phrases(self, at: Union[str, frozenset[IntentKind]]) -> frozenset[str]:
        """The phrases of a moment of MOMENTS by name, or of a set of intents (a session's
        own moment), each set made once."""
        if at not in self._phrase_sets:
            self._phrase_sets[at] = (self.vocab.phrases_at(at) if isinstance(at, str)
                                     else self.vocab.phrases_for(at))
        return self._phrase_sets[at]

    def _running(self) -> Optional[Runner]:
        """The runner of a session still going, else None (waiting for a start)."""
        return self.runner if self.runner is not None and not self.runner.over else None

    def _session_over(self) -> bool:
        return self._running() is None

    def finish(self, reason: str) -> None:
        runner = self._running()
        if runner:
            runner.finish(reason)

    # ----- the loop -------------------------------------------------------------------

    def _clocked(self, frames: Iterable[Frame]) -> Iterator[Frame]:
        """Pass frames on to the recognizer, moving the clock and the session timers."""
        for f in frames:
            self.clock.set(f.start)
            self._open()
            self._check_speaker()
            self._gate_to_playback(f.end)
            runner = self._running()
            if runner:
                runner.tick()
            yield f
            self.clock.set(f.end)

    def _open(self) -> None:
        """Greet, or start the routine run() was given: once, at the first frame."""
        what, self._opening = self._opening, None
        if isinstance(what, str):
            for line in self.greeting:
                self._say(line)
        elif what is not None:
            self.start_session(what)

    def _gate_to_playback(self, audio_now: float) -> None:
        """Keep the gate shut until the speaker has really finished: its output latency
        (and a sound server's) comes on top of the cue lengths the gate was set from."""
        busy_for = getattr(self.speaker, "busy_for", None)
        left = busy_for() if busy_for else 0.0
        if left > 0:
            self._gate_until = max(self._gate_until, audio_now + left)
            # Playing behind the schedule (a starved player on a busy machine, a slow sound
            # server): our words reach the microphone that much later too. Without this the
            # safety note's own "tingling" fell outside the echo check's slack and stopped
            # the hold (seen on the virtual card under load).
            late = audio_now + left - getattr(self.speaker, "tail", 0.0) - self._speech_end
            if late > LATE_PLAYBACK_S:
                self.own_voice.delay(late, audio_now)
                self._speech_end += late

    def hear(self, utt: Utterance) -> Optional[Intent]:
        """Act on one utterance. Over our own voice only barge-in words count. A rejected
        one (text "") is recorded, and may have an open question asked again."""
        self.clock.set(utt.end)
        intent = self.vocab.parse(utt.text) if utt.text else None
        # Only what began while we spoke can be our own voice: a user who was already
        # talking when a cue started is heard.
        over_us = self._speaking_since - ONSET_SLACK_S <= utt.start < self._gate_until
        echo = (over_us and intent is not None and intent.name in BARGE_IN
                and self.own_voice.is_echo(utt.text, utt.start, utt.end))
        gated = over_us and (intent is None or intent.name not in BARGE_IN or echo)
        heard = Heard(self.clock.now(), utt.text, intent, float(utt.confidence), utt.start,
                      utt.end, gated, echo, "" if utt.text else utt.best, utt.unsure)
        self.heard.append(heard)
        runner = self._running()
        # Rejected speech is worth a record in a session (why was my "six" missed?); while
        # waiting, hours of room noise and talk would fill the journal with it.
        if utt.text or runner:
            self._emit(heard)
        if not utt.text and not over_us:  # an answer we asked for, perhaps: ask once more
            if runner:
                runner.not_understood()
            else:
                self.lessons.not_understood()
        if intent is None or gated:
            return None
        if over_us:  # barge-in: cut our own cue short
            self.speaker.stop()
            self.own_voice.cut(self.clock.now())
            self._gate_until = self._speech_end = self.clock.now()
            self.session_clock.release()
        self._acting = utt
        if intent.name in LOUDNESS_INTENTS:  # in a session or not, the session goes on
            self._louder_or_quieter(intent.name)
        elif runner:
            if IntentKind.YES in runner.session.listening_for():  # the question is open
                self._answered_by = utt
            if intent.name == IntentKind.STOP:
                self._stopped_by = utt
            if utt.unsure:
                self._doubted_by = utt
                runner.check(intent)
            else:
                runner.handle(intent)
        else:
            self._waiting(intent)
        self._acting = None
        if not utt.unsure:  # a rating asked back is not the user's voice until confirmed
            self.acted_on(utt)
        return intent

    def _louder_or_quieter(self, kind: IntentKind) -> None:
        """One step louder or quieter, said at the new loudness (or that it is at its end)."""
        louder = kind == IntentKind.LOUDER
        moved = self.loudness.louder() if louder else self.loudness.quieter()
        self._apply_loudness()
        self._say((cues.LOUDER if louder else cues.QUIETER) if moved
                  else (cues.LOUDEST if louder else cues.QUIETEST))

    def _apply_loudness(self) -> None:
        """The speaker plays every cue from now on at the loudness asked for."""
        if isinstance(self.speaker, Amplified):
            self.speaker.gain_db = self.loudness.db

    def _waiting(self, intent: Intent) -> None:
        if self.lessons.answer(intent, self._frames):
            return
        if intent.name == IntentKind.RESUME:
            if self.runner is not None and self.runner.stop_undoable:
                self.runner.undo_stop()  # the stop was misheard: the session goes on
        elif intent.name == IntentKind.START_ROUTINE:
            self.start_session(self.library.routines[str(intent.value)])
        elif intent.name == IntentKind.HOW_AM_I_DOING:
            self._say(self.summary() if self.summary else cues.HOW_AM_I_NO_DATA)
        elif intent.name == IntentKind.HELP:
            self._say(cues.waiting_help(spoken_names(self.vocab.routine_aliases),
                                        lesson=self.lessons.available))
        elif intent.name == IntentKind.TEACH:
            self.lessons.offer(str(intent.value))

    def _check_speaker(self) -> None:
        """A speaker that vanished: pause (nobody hears the cues), keep trying to get it
        back, and say so once it is there again. Cheap when all is well."""
        error = getattr(self.speaker, "error", None)
        now = self.clock.now()
        if error is not None and not self._speaker_lost:
            self._speaker_lost, self._next_reopen = True, now + REOPEN_EVERY_S
            runner = self._running()
            if runner:
                runner.pause()
            self._emit(SpeakerLost(now, str(error)))
        elif self._speaker_lost and now >= self._next_reopen:
            self._next_reopen = now + REOPEN_EVERY_S
            try:
                if isinstance(self.speaker, Reopenable):
                    self.speaker.reopen()
            except Exception:  # still gone; try again later
                return
            if getattr(self.speaker, "error", None) is None:
                self._speaker_lost = False
                self._emit(SpeakerBack(now))
                self._say(cues.SPEAKER_BACK if not self._session_over() else cues.LISTENING,
                          "fault")

    def microphone_lost(self, reason: str) -> None:
        """Nothing can be heard: pause the session (its clock froze anyway) and say so."""
        runner = self._running()
        if runner:
            runner.pause()
        self._emit(MicrophoneLost(self.clock.now(), reason))
        self._say(cues.MIC_LOST, "fault")

    def microphone_back(self) -> None:
        if isinstance(self.speaker, Reopenable) and self.speaker.error is not None:
            try:  # same server, same fate
                self.speaker.reopen()
            except Exception:  # still gone: the cue below is lost, the session is not
                pass
        self._emit(MicrophoneBack(self.clock.now()))
        self._say(cues.MIC_BACK if not self._session_over() else cues.LISTENING, "fault")

    def run(self, frames: Iterable[Frame], routine: Optional[Routine] = None) -> None:
        """Listen until the frames end (a file) or forever (a microphone)."""
        renderer = getattr(self.speaker, "renderer", None)
        if renderer is not None:  # who speaks, for the events file and the transcript
            self._emit(VoiceUsed(self.clock.now(), renderer.engine_name, renderer.voice))
        # Opened on the first frame, on the microphone's clock: a live stream starts when
        # the recognizer first asks for audio, and a cue said before that would be placed
        # seconds early in the audio's time (its echo then passes for the user's voice).
        self._opening = routine if routine is not None else "greeting"
        self._frames = self._clocked(iter(frames))
        try:
            for utt in self.recognize(self._frames, self.expected_phrases):
                self.hear(utt)
            self._open()  # no audio at all: still greet, or start and end the session
            runner = self._running()
            if runner:
                runner.tick()
        except KeyboardInterrupt:  # Ctrl-C or SIGTERM: closed as interrupted, then out
            self.finish("interrupted")
            raise
        finally:
            self.finish("end_of_input")
