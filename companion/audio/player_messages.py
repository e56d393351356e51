"""The messages between the companion (companion.speech.device) and its playback process
(companion.audio.player): one JSON object a line, defined here once for both sides.

Commands go to the player's stdin and carry their kind under "op"; events come back on
its stdout under "ev". Times are time.monotonic() seconds (the same clock in both
processes). Only the standard library: the player imports this before it opens a stream.

    encode(Play(id=3, path="/x.wav"))   -> '{"op":"play","id":3,"path":"/x.wav"}\\n'
    decode(b'{"ev":"hb","t":1.5,...}')  -> Heartbeat(t=1.5, ...)
    decode(b'garbage')                  -> Junk(line='garbage')

A line that is not JSON, names no known kind, lacks a field or holds one of the wrong type
decodes to Junk rather than raising: the reader of a pipe has no one to raise to.
Unknown extra fields are ignored.
"""

from __future__ import annotations

import json
from dataclasses import MISSING, dataclass, fields
from typing import Any, ClassVar, Union, get_type_hints

# --- commands: companion -> player ---------------------------------------------------


@dataclass(slots=True)
class Play:
    """Queue a cue (a WAV file) after the others, `gain_db` louder (audio.gain)."""
    op: ClassVar[str] = "play"
    id: int
    path: str
    gain_db: float = 0.0


@dataclass(slots=True)
class Stop:
    """Cut cues up to id `upto`; `flush` also drops what the device has buffered."""
    op: ClassVar[str] = "stop"
    upto: int = 0
    flush: bool = True


@dataclass(slots=True)
class Quit:
    """Close the stream and exit (the end of stdin does the same)."""
    op: ClassVar[str] = "quit"


# --- events: player -> companion -----------------------------------------------------


@dataclass(slots=True)
class Ready:
    """The output stream is open and its callback is running."""
    ev: ClassVar[str] = "ready"
    device: str
    index: int
    samplerate: int
    channels: int
    latency: float          # PortAudio's output latency, seconds
    blocksize: int
    pid: int
    t: float


@dataclass(slots=True)
class Started:
    """Cue `id`'s first sample went to the device at `t`; it reaches the DAC at `dac`."""
    ev: ClassVar[str] = "started"
    id: int
    t: float
    dac: float


@dataclass(slots=True)
class Done:
    """Cue `id`'s last sample went to the device at `t`; it leaves the DAC at `dac`."""
    ev: ClassVar[str] = "done"
    id: int
    t: float
    dac: float


@dataclass(slots=True)
class Stopped:
    """A stop cut these cues (the one playing and the queued ones)."""
    ev: ClassVar[str] = "stopped"
    ids: list[int]
    t: float
    dac: float


@dataclass(slots=True)
class Failed:
    """Cue `id` could not be loaded; the player carries on."""
    ev: ClassVar[str] = "failed"
    id: int
    message: str


@dataclass(slots=True)
class Error:
    """The player cannot go on (no device, stream stalled...) and exits."""
    ev: ClassVar[str] = "error"
    kind: str
    message: str


@dataclass(slots=True)
class Heartbeat:
    """Every 0.25 s, so a silent player is known to be stuck."""
    ev: ClassVar[str] = "hb"
    t: float
    callbacks: int
    underflows: int


@dataclass(slots=True)
class Flushed:
    """A stop dropped the device's buffer: began at `t`, took `took` seconds."""
    ev: ClassVar[str] = "flushed"
    t: float
    took: float


@dataclass(slots=True)
class Bye:
    """The last event before the player exits."""
    ev: ClassVar[str] = "bye"


@dataclass(slots=True)
class Junk:
    """A line that is not a message this module knows (never encoded)."""
    line: str = ""


Command = Union[Play, Stop, Quit]
Event = Union[Ready, Started, Done, Stopped, Failed, Error, Heartbeat, Flushed, Bye]
Message = Union[Command, Event]

_COMMANDS: dict[str, type] = {c.op: c for c in (Play, Stop, Quit)}
_EVENTS: dict[str, type] = {c.ev: c for c in (Ready, Started, Done, Stopped, Failed, Error,
                                               Heartbeat, Flushed, Bye)}


def _fields_of(cls: type) -> list[tuple[str, Any, Any]]:
    hints = get_type_hints(cls)
    return [(f.name, hints[f.name], f.default) for f in fields(cls)]


# Resolved once: decode runs for every event, and the player starts on every session.
_FIELDS: dict[type, list[tuple[str, Any, Any]]] = {
    cls: _fields_of(cls) for cls in (*_COMMANDS.values(), *_EVENTS.values())}


def encode(msg: Message) -> str:
    """One JSON line, its kind first ("op" for a command, "ev" for an event)."""
    obj: dict[str, Any] = ({"op": msg.op} if isinstance(msg, (Play, Stop, Quit))
                           else {"ev": msg.ev})
    for name, _, _ in _FIELDS[type(msg)]:
        obj[name] = getattr(msg, name)
    return json.dumps(obj, separators=(",", ":")) + "\n"


def _value(v: Any, kind: Any) -> Any:
    """v if it is of the field's type (an int passes for a float), else ValueError."""
    if kind is float and isinstance(v, (int, float)) and not isinstance(v, bool):
        return float(v)
    if kind is int and isinstance(v, int) and not isinstance(v, bool):
        return v
    if kind in (str, bool) and type(v) is kind:
        return v
    if kind == list[int] and isinstance(v, list):
        return [_value(x, int) for x in v]
    raise ValueError(f"{v!r} is not {kind}")


def decode(line: Union[bytes, str]) -> Message | Junk:
    """The message a line holds, or Junk (see the module's docstring)."""
    text = line.decode("utf-8", "replace") if isinstance(line, bytes) else line
    try:
        obj = json.loads(text)
    except ValueError:
        return Junk(text)
    if not isinstance(obj, dict):
        return Junk(text)
    op, ev = obj.get("op"), obj.get("ev")
    cls = (_COMMANDS.get(op) if isinstance(op, str) else
           _EVENTS.get(ev) if isinstance(ev, str) else None)
    if cls is None:
        return Junk(text)
    args = {}
    try:
        for name, kind, default in _FIELDS[cls]:
            if name in obj:
                args[name] = _value(obj[name], kind)
            elif default is MISSING:
                return Junk(text)
    except ValueError:
        return Junk(text)
    return cls(**args)
