"""The shapes the layers hand each other, each defined once. Adapters implement them
(hearing makes Frames and Utterances, speech is a Speaker, storage is a Log); the loop joins
them. Pure data and protocols: nothing here touches a device, a file or a clock."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Protocol, runtime_checkable

RATE = 16000   # every Frame is 16 kHz mono int16: what the recognizers are fed


@dataclass(frozen=True)
class Frame:
    """30 ms (the last of a file may be shorter) of 16 kHz mono int16 little-endian audio."""

    pcm: bytes
    start: float  # audio seconds since the source began

    @property
    def end(self) -> float:
        return self.start + len(self.pcm) / (2 * RATE)


@dataclass(frozen=True)
class Utterance:
    """One endpointed stretch of speech as heard: the grammar phrase ("" when rejected: the
    recognizer never guesses), how sure, and its audio-time bounds."""

    text: str
    confidence: float
    start: float
    end: float
    raw: str = ""   # the engine's best guess before rejection (for diagnosis only)
    best: str = ""  # the grammar phrase ranked first, accepted or not (diagnosis)
    unsure: bool = False  # a rating taken for the question, not as its words: ask it back


@runtime_checkable
class Speaker(Protocol):
    """Speech out. Times are in the speaker's clock: time.monotonic() for a real device,
    audio time for a FileSpeaker, whatever clock a NullSpeaker was given."""

    def say(self, text: str, at: Optional[float] = None) -> float:
        """Queue text to be said (after whatever is still playing) and return how long it
        plays, in seconds. Does not wait for playback; renders first if not cached."""

    def stop(self, at: Optional[float] = None) -> None:
        """Stop at once (barge-in): cut the cue that is playing and drop queued ones."""

    def busy(self) -> bool:
        """True until busy_until(): speech is playing, queued or still ringing."""

    def busy_until(self) -> float:
        """When playback really ends (output latency included) plus the gate tail."""

    def busy_for(self) -> float:
        """Seconds from now until busy_until() (0 when quiet): clock-free, for the loop."""

    def close(self) -> None:
        """Stop and release the device or finish the file. Safe to call twice."""


@runtime_checkable
class Reopenable(Protocol):
    """A speaker whose device can go away (a DeviceSpeaker): `error` says why it failed,
    reopen() tries the device again."""

    @property
    def error(self) -> Optional[BaseException]: ...

    def reopen(self) -> None: ...


@runtime_checkable
class Amplified(Protocol):
    """A speaker whose loudness can change as it plays ("louder", "quieter"): every cue
    queued after a change plays gain_db dB over the level it was rendered at."""

    gain_db: float


class Log(Protocol):
    """Where a session's record goes (storage.store.PainLog, or SafeLog around it)."""

    def start_session(self, routine: str, at: float) -> int: ...
    def log_event(self, session_id: int, at: float, kind: str, step_index: Optional[int] = None,
                  step: Optional[str] = None, area: Optional[str] = None,
                  detail: Optional[str] = None) -> None: ...
    def log_rating(self, session_id: int, at: float, value: int, step_index: int, step: str,
                   area: str, corrects: bool = False) -> int: ...
    def end_session(self, session_id: int, at: float, reason: str) -> None: ...
    def reopen_session(self, session_id: int) -> None: ...
