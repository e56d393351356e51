"""Whether this machine's clock can date what is logged. A Raspberry Pi has no clock that
runs while it is off: with no network it starts at the time it was last shut down
(fake-hwclock) or at 1970, so a session logged then is dated in the past, sorted among
older ones, and the trend of its days is wrong. Nothing can tell the right time offline;
a clock earlier than the log's own newest entry is surely wrong, and is said."""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Optional, Protocol

from companion.core.errors import CompanionError

logger = logging.getLogger(__name__)

# Entries this much newer than the clock are still believed (a clock set back a little by a
# time server, a log written on a machine whose clock ran a few minutes ahead).
SLACK_S = 600.0
FIX = ("set the time (sudo date -s 'YYYY-MM-DD HH:MM'), let the machine reach a time server "
       "once, or fit a real-time clock module")


class _Dated(Protocol):
    def latest_at(self) -> Optional[float]: ...


def shown(t: float) -> str:
    """A time as the clock's messages say it (local time, to the minute)."""
    return datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M")


def behind(latest: Optional[float], now: float) -> Optional[str]:
    """What is wrong when `now` is earlier than the log's newest entry `latest` by more than
    SLACK_S; None when the clock is believable (or nothing is logged yet)."""
    if latest is None or now >= latest - SLACK_S:
        return None
    return (f"the system clock says {shown(now)}, earlier than the last entry in the pain "
            f"log ({shown(latest)}): what is logged now would be dated in the past")


def warn_if_behind(log: _Dated, now: Optional[float] = None) -> Optional[str]:
    """At the start of a run: a clock behind the log is written to the companion's log (the
    service's journal) with its fix, and returned. A session is never held up for it."""
    if not getattr(log, "opened", True):  # a log that cannot be opened was already said
        return None
    try:
        said = behind(log.latest_at(), time.time() if now is None else now)
    except CompanionError:
        return None  # the log's own trouble is said where it is written
    if said:
        logger.warning("%s; %s (`companion doctor` checks it)", said, FIX)
    return said
