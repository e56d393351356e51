"""The voice loop's own lines of the events file, beside the engine's events. Each is a
Record, so every line is written by Record.to_dict: the file's format lives in one place.
`at` is audio time in all of them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from companion.core.events import Event, Record
from companion.core.vocabulary import Intent


@dataclass(frozen=True)
class Said(Record):
    """A cue the loop started saying, and how long saying it takes."""

    TYPE = "cue"
    text: str
    kind: str
    seconds: float


@dataclass(frozen=True)
class Heard(Record):
    """What the loop did with one utterance; `at` is when it acted on it."""

    TYPE = "heard"
    text: str
    intent: Optional[Intent]
    confidence: float
    start: float
    end: float
    gated: bool
    echo: bool = False  # a barge-in word we were saying ourselves at that moment
    # Speech the recognizer rejected (text ""): the command it ranked first, not sure
    # enough to act on. A phrase of the grammar, never the free transcript of the room.
    nearest: str = ""
    unsure: bool = False  # a rating taken only because one was asked for: asked back

    def fields(self) -> dict[str, Any]:
        # The intent is written flat, as its plain name and its value.
        return {"at": self.at, "text": self.text,
                "intent": self.intent.name.value if self.intent else None,
                "value": self.intent.value if self.intent else None,
                "confidence": self.confidence, "start": self.start, "end": self.end,
                "gated": self.gated, "echo": self.echo, "nearest": self.nearest,
                "unsure": self.unsure}


@dataclass(frozen=True)
class Acted(Record):
    """An engine event as the loop met it: `due` is the event's own time and `acted` the
    time it was acted on, both on the session's clock (which stands still while
    instructions are said)."""

    event: Event
    acted: float

    @property
    def type(self) -> str:
        return self.event.type

    def fields(self) -> dict[str, Any]:
        return {**self.event.fields(), "at": self.at, "due": self.event.at,
                "acted": self.acted}


@dataclass(frozen=True)
class VoiceUsed(Record):
    """Who speaks: the text-to-speech engine and its voice."""

    TYPE = "voice"
    engine: str
    voice: Optional[str]


@dataclass(frozen=True)
class SpeakerLost(Record):
    TYPE = "speaker_lost"
    reason: str


@dataclass(frozen=True)
class SpeakerBack(Record):
    TYPE = "speaker_back"


@dataclass(frozen=True)
class MicrophoneLost(Record):
    TYPE = "microphone_lost"
    reason: str


@dataclass(frozen=True)
class MicrophoneBack(Record):
    TYPE = "microphone_back"
