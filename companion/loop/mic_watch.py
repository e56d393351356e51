"""Keep listening through a microphone that vanishes: when audio stops, say so and pause;
retry until it is back, then carry on. The audio clock resumes where it stopped, so the
session's timers simply froze while nothing could be heard."""

from __future__ import annotations

import time
from typing import Callable, Iterator

from companion.core.errors import CompanionError
from companion.hearing.sources import Frame, Source, streams_closing

RETRY_S = 2.0


def _rescan() -> None:
    """PortAudio lists devices once; a microphone plugged back in needs a fresh list. Not
    while the lost stream is still closing: restarting PortAudio would wait for that close,
    which may never return. The next try rescans; until then the list we have still holds
    "default", which finds a sound server that came back."""
    import sounddevice as sd

    if streams_closing():
        return
    try:
        sd._terminate()
        sd._initialize()
    except Exception:  # nothing to rescan with: the next open attempt says why
        pass


def watched(first: Source, reopen: Callable[[], Source],
            on_lost: Callable[[str], None], on_back: Callable[[], None],
            retry_s: float = RETRY_S, sleep: Callable[[float], None] = time.sleep
            ) -> Iterator[Frame]:
    """Frames from the microphone, across losses. on_lost(reason) is called once per loss,
    on_back() when audio flows again."""
    source, offset, last, lost = first, 0.0, 0.0, False
    while True:
        try:
            for f in source.frames():
                if lost:
                    lost = False
                    on_back()
                yield Frame(f.pcm, f.start + offset)
                last = f.end + offset
            return  # closed on purpose
        except CompanionError as e:
            offset = last  # a new stream counts from zero: continue the clock instead
            if not lost:
                lost = True
                on_lost(str(e))
        while True:
            sleep(retry_s)
            _rescan()
            try:
                source = reopen()
                break
            except CompanionError:
                continue
