"""The pipe messages between DeviceSpeaker and its playback process: every message survives
encode/decode unchanged, and whatever else comes down the pipe decodes to Junk."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from companion.audio.player_messages import (Bye, Done, Error, Failed, Flushed, Heartbeat,
                                             Junk, Play, Quit, Ready, Started, Stop, Stopped,
                                             decode, encode)

EVERY_MESSAGE = [
    Play(id=3, path="/tmp/cue é.wav", gain_db=-4.0),
    Stop(upto=7, flush=False),
    Quit(),
    Ready(device="pipewire", index=4, samplerate=22050, channels=2, latency=0.0928,
          blocksize=512, pid=1234, t=12.5),
    Started(id=3, t=100.25, dac=100.5),
    Done(id=3, t=101.0, dac=101.25),
    Stopped(ids=[4, 5], t=102.0, dac=102.1),
    Failed(id=6, message="cannot read /x.wav"),
    Error(kind="stalled", message="the output device stopped taking audio"),
    Heartbeat(t=103.0, callbacks=99, underflows=1),
    Flushed(t=104.0, took=0.003),
    Bye(),
]


@pytest.mark.parametrize("msg", EVERY_MESSAGE, ids=lambda m: type(m).__name__)
def test_round_trip(msg) -> None:
    line = encode(msg)
    assert line.endswith("\n") and line.count("\n") == 1
    assert decode(line) == msg
    assert decode(line.encode("utf-8")) == msg   # the pipe hands over bytes


def test_the_wire_format_is_what_both_sides_always_spoke() -> None:
    assert json.loads(encode(Play(id=3, path="/a.wav", gain_db=4.0))) == {
        "op": "play", "id": 3, "path": "/a.wav", "gain_db": 4.0}
    assert json.loads(encode(Stopped(ids=[1], t=1.0, dac=2.0))) == {
        "ev": "stopped", "ids": [1], "t": 1.0, "dac": 2.0}
    assert json.loads(encode(Heartbeat(t=1.0, callbacks=2, underflows=0)))["ev"] == "hb"
    assert json.loads(encode(Bye())) == {"ev": "bye"}


def test_defaults_and_widening() -> None:
    assert decode('{"op":"stop"}') == Stop(upto=0, flush=True)
    # A play without a gain (as before "louder" by voice) plays at the cue's own level.
    assert decode('{"op":"play","id":3,"path":"/a.wav"}') == Play(id=3, path="/a.wav",
                                                                  gain_db=0.0)
    assert decode('{"op":"quit","extra":1}') == Quit()      # unknown fields are ignored
    got = decode('{"ev":"done","id":1,"t":5,"dac":6}')        # an integral time is a float
    assert got == Done(id=1, t=5.0, dac=6.0) and isinstance(got.t, float)


@pytest.mark.parametrize("line", [
    b"", b"not json", b"\xff\xfe", b"[1, 2]", b"3", b'{"ev": "junk"}', b'{"op": "dance"}',
    b'{"ev": ["hb"]}', b'{"ev": "started", "id": 1, "t": 2.0}',          # dac missing
    b'{"ev": "started", "id": "1", "t": 2.0, "dac": 3.0}',               # id a string
    b'{"ev": "done", "id": true, "t": 2.0, "dac": 3.0}',                 # a bool is no id
    b'{"ev": "stopped", "ids": [1, "x"], "t": 2.0, "dac": 3.0}',
    b'{"op": "stop", "flush": 1}', b'{"op": "play", "id": 1}',
])
def test_anything_else_is_junk(line: bytes) -> None:
    got = decode(line)
    assert isinstance(got, Junk)
    assert got.line == line.decode("utf-8", "replace")


def test_the_player_side_imports_no_numpy() -> None:
    # The player process imports the messages before it opens a stream: stdlib only.
    code = ("import sys, companion.audio.player_messages, companion.audio.player; "
            "sys.exit('numpy' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
