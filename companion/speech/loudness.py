"""How loud the companion speaks as the user asked by voice ("louder", "quieter"): a gain in
dB over the configured volume, applied as each cue plays (companion.audio.gain), kept in a
small file beside the pain log so the next run speaks as loud as the last one ended.

Steps of STEP_DB: about the smallest change heard as clearly louder in a room. Up to
LIMITS_DB[1] over the -20 dBFS cues (the limiter takes the peaks, the speech gets louder),
down to LIMITS_DB[0] (quiet, still over a Pi's idle hiss)."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Optional

logger = logging.getLogger(__name__)

STEP_DB = 4.0
LIMITS_DB = (-16.0, 8.0)


class Loudness:
    """The gain said louder or quieter moves; saved at each change when given a path
    (a replay is given none: reproducing a session must not change the user's setting)."""

    def __init__(self, db: float = 0.0, path: Optional[Path] = None) -> None:
        self.db = min(max(float(db), LIMITS_DB[0]), LIMITS_DB[1])
        self.path = path

    @classmethod
    def load(cls, path: Path, save: bool = True) -> "Loudness":
        """The setting saved at `path`; 0 dB when there is none. A file that cannot be read
        is named in a warning and left for the next change to replace: a setting is never
        worth failing a start over."""
        db = 0.0
        try:
            db = float(json.loads(path.read_text(encoding="utf-8"))["gain_db"])
            if db != db:  # NaN
                raise ValueError("not a number")
        except FileNotFoundError:
            pass
        except (OSError, ValueError, KeyError, TypeError) as e:
            logger.warning("ignoring the saved loudness in %s (%s); speaking at 0 dB", path, e)
            db = 0.0
        return cls(db, path if save else None)

    def louder(self) -> bool:
        """One step up; False (unchanged) at the top already."""
        return self._move(STEP_DB)

    def quieter(self) -> bool:
        """One step down; False (unchanged) at the bottom already."""
        return self._move(-STEP_DB)

    def _move(self, step: float) -> bool:
        db = min(max(self.db + step, LIMITS_DB[0]), LIMITS_DB[1])
        if db == self.db:
            return False
        self.db = db
        self._save()
        return True

    def _save(self) -> None:
        """Written whole, private (it sits beside the health log), then renamed. A disk
        that refuses it costs only the setting's lasting: the change itself holds."""
        if self.path is None:
            return
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(json.dumps({"gain_db": self.db}) + "\n")
            os.replace(tmp, self.path)
        except OSError as e:
            logger.warning("cannot save the loudness to %s (%s): it lasts until the companion "
                           "stops", self.path, e.strerror)
