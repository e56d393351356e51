"""A microphone that vanishes: the device list is rescanned only once the lost stream has
closed. Seen on a busy machine: abort() of a stream whose sound server died did not return,
and the rescan (Pa_Terminate) then waited for it forever, so the session never heard the
microphone come back and ignored SIGTERM. The hung close is the injected fault here; the
real unplug and replug is tests/test_live_loop.py's."""

from __future__ import annotations

import threading
import time

import pytest

from companion.hearing.sources import close_in_background, streams_closing
from companion.loop import mic_watch



@pytest.fixture
def sd():
    """Imported here, not at collection: PortAudio lists devices once, at import, and the
    sound card tests start theirs first (tests/audio_env.py)."""
    return pytest.importorskip("sounddevice", reason="PortAudio (libportaudio2) not installed")


def settled(want: int = 0) -> int:
    """Wait until this many streams are closing (another test's real stream may still be
    closing when this one starts): counted, not timed; the loop only bounds a hang."""
    for _ in range(3000):
        if streams_closing() == want:
            break
        time.sleep(0.01)
    return streams_closing()


class HungStream:
    """A stream of a vanished device: abort() returns only when the test lets it."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.closed = threading.Event()

    def abort(self) -> None:
        self.release.wait(60)

    def close(self) -> None:
        self.closed.set()


def test_no_rescan_while_a_lost_stream_is_still_closing(monkeypatch, sd) -> None:
    calls: list[str] = []
    monkeypatch.setattr(sd, "_terminate", lambda: calls.append("terminate"))
    monkeypatch.setattr(sd, "_initialize", lambda: calls.append("initialize"))
    assert settled() == 0
    stream = HungStream()
    close_in_background(stream)
    assert streams_closing() == 1            # counted at once, not when the thread runs
    mic_watch._rescan()
    assert calls == []                       # PortAudio left alone under the hung close
    stream.release.set()
    assert stream.closed.wait(30)
    assert settled() == 0                    # the count drops right after close() returns
    mic_watch._rescan()
    assert calls == ["terminate", "initialize"]


def test_a_close_that_fails_is_still_counted_as_done(sd) -> None:
    class Gone:
        def abort(self) -> None:
            raise sd.PortAudioError("device unavailable")

        def close(self) -> None:  # never reached
            raise AssertionError

    assert settled() == 0
    close_in_background(Gone())
    assert settled() == 0


def test_exit_skips_portaudio_shutdown_only_under_a_hung_close(monkeypatch, sd) -> None:
    """sounddevice's exit handler (Pa_Terminate) would wait for the hung close forever: the
    companion then did not end on SIGTERM."""
    import atexit

    from companion.hearing.sources import release_portaudio_at_exit

    unregistered: list = []
    monkeypatch.setattr(atexit, "unregister", unregistered.append)
    assert settled() == 0
    release_portaudio_at_exit(wait_s=0.1)      # nothing closing: PortAudio shuts down as usual
    assert unregistered == []
    stream = HungStream()
    close_in_background(stream)
    try:
        release_portaudio_at_exit(wait_s=0.1)
        assert unregistered == [sd._exit_handler]
    finally:
        stream.release.set()
    unregistered.clear()
    release_portaudio_at_exit(wait_s=30)       # the close returns: nothing to skip
    assert unregistered == []


def test_letting_a_stream_go_starts_no_thread_where_it_is_let_go(monkeypatch) -> None:
    """A frames() generator nobody closed is finalized wherever the garbage collector runs:
    once, after Ctrl-C, the thread it started there to close the stream never ran, and the
    companion hung waiting for it. Letting a stream go now only hands it over; the closing
    thread is started beforehand, where the stream was opened. The fault injected: no thread
    may be started by the thread that lets the stream go."""
    from companion.hearing import sources

    sources.start_closer()            # as MicSource.frames() does on opening
    here = threading.current_thread()
    start = threading.Thread.start

    def start_elsewhere(self) -> None:
        if threading.current_thread() is here:
            raise AssertionError("a thread started where the stream was let go")
        start(self)

    class Stream:
        closed = threading.Event()

        def abort(self) -> None:
            pass

        def close(self) -> None:
            self.closed.set()

    monkeypatch.setattr(threading.Thread, "start", start_elsewhere)
    stream = Stream()
    sources.close_in_background(stream)
    assert stream.closed.wait(20)
    assert settled(0) == 0
