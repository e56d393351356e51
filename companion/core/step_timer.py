"""The running step's clock, apart from what the step means to the session: when it began
(moved on by every pause), how long it is now after "hold longer" and "shorter", whether
it is paused, and which of its timed cues (breaths, halfway, ten seconds left) were said.
Pure arithmetic on the times the session passes in."""

from __future__ import annotations

from typing import Optional

from companion.core import cues
from companion.core.routines import PlannedStep

MIN_STEP_S = 5.0  # "shorter" never leaves less than this of the step


class StepTimer:
    """One step's time. The session begins it with each step and asks it what is due."""

    def __init__(self) -> None:
        self.start = 0.0                       # when the step began, moved on by pauses
        self.length = 0.0                      # its length now, after longer / shorter
        self.paused_at: Optional[float] = None
        self.reminded = False                  # the pause under way was reminded of
        self.fired: set[str] = set()           # timed cues already said

    def begin(self, at: float, seconds: float) -> None:
        """A step begins at `at`, running: whatever was paused or said belongs to the last."""
        self.start, self.length, self.fired = at, float(seconds), set()
        self.paused_at, self.reminded = None, False

    @property
    def paused(self) -> bool:
        return self.paused_at is not None

    @property
    def end(self) -> float:
        """When the step is over, if it keeps running."""
        return self.start + self.length

    def ran(self, now: float) -> float:
        """How long the step has run: its clock stands still while paused."""
        return (self.paused_at if self.paused_at is not None else now) - self.start

    def pause(self, now: float) -> None:
        self.paused_at, self.reminded = now, False

    def resume(self, now: float) -> None:
        """Run again; the time paused is not the step's."""
        if self.paused_at is not None:
            self.start += now - self.paused_at
            self.paused_at = None

    def markers(self, step: PlannedStep) -> list[tuple[float, str, str]]:
        """(time, key, text) of the step's timed cues still to say, from its length now."""
        if step.kind not in ("hold", "stretch"):
            return []
        out: list[tuple[float, str, str]] = []
        if step.kind == "hold" and step.breaths > 1:
            period = step.seconds / step.breaths
            for k in range(1, step.breaths):
                t = k * period
                # Keep breath prompts clear of the halfway and ten-seconds lines.
                if abs(t - self.length / 2) > 3 and self.length - t > 13:
                    out.append((self.start + t, f"breath{k}", cues.BREATHE))
        if self.length >= 30:
            out.append((self.start + self.length / 2, "halfway", cues.HALFWAY))
        if self.length >= 20:
            out.append((self.start + self.length - 10, "ten_left", cues.TEN_LEFT))
        return sorted(m for m in out if m[1] not in self.fired)

    def lengthen(self, want: float, limit: float, step: PlannedStep, now: float
                 ) -> Optional[tuple[float, bool]]:
        """Add `want` seconds, up to `limit` in all: (seconds added, whether the limit cut
        it short), or None when the step is as long as it may be."""
        new = min(self.length + want, limit)
        if new <= self.length:
            return None
        delta, self.length = new - self.length, new
        self.fired.discard("ten_left")  # it is ten seconds from a new end now
        self._passed(step, now)
        return delta, delta < want

    def shorten(self, by: float, step: PlannedStep, now: float) -> Optional[tuple[float, bool]]:
        """Take `by` seconds off, leaving at least MIN_STEP_S from now: (seconds taken,
        whether that floor cut it short), or None when nothing can be taken."""
        floor = min(self.length, self.ran(now) + MIN_STEP_S)
        new = max(self.length - by, floor)
        if new >= self.length:
            return None
        delta, self.length = self.length - new, new
        self._passed(step, now)
        return delta, delta < by

    def _passed(self, step: PlannedStep, now: float) -> None:
        """Timed cues a new length moved into the past are not worth saying late: a breath
        kept clear of the old end, or "ten seconds left" when fewer are."""
        self.fired.update(key for t, key, _ in self.markers(step) if t < now)
