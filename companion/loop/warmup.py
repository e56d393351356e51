"""Every line this install can say, and rendering what is not cached yet: used by
`companion voice prepare` and by a live run, at its start and in the background (in a child
process of its own: `python -m companion.loop.warmup`)."""

from __future__ import annotations

import argparse
import ctypes
import json
import logging
import os
import signal
import subprocess
import sys
from typing import Callable, Iterable, Optional, Sequence

from companion.core import cues
from companion.core.engine import HOLD_STEP_S
from companion.core.errors import CompanionError

logger = logging.getLogger(__name__)


def all_lines(hold_step_s: float = HOLD_STEP_S) -> list[str]:
    """The fixed lines, every line each installed routine says (built-in and the user's
    own), the answers a session gives when asked ("how long left", "what's next", "hold
    longer" by hold_step_s or a number the user may name) and the prompts of the default
    voice lesson (`companion enroll`), once each."""
    from companion.core.rehearsal import spoken_lines
    from companion.core.vocabulary import SECONDS_WORDS, Vocabulary, spoken_names
    from companion.loop.enroll import lesson, lesson_lines
    from companion.storage.library import Library
    from companion.core.cues import speaking_seconds

    library = Library()
    lines = list(cues.fixed())
    longest = 0.0
    for routine in library.routines.values():
        lines += spoken_lines(routine, speaking_seconds)
        plan = routine.plan()
        lines += [cues.whats_next(n) for n in plan[1:]]
        longest = max(longest, sum(n.seconds for n in plan))
    # Room for what "hold longer" adds to a session, and for the cues said between steps.
    lines += cues.answer_lines(longest * 1.5, {round(hold_step_s), *SECONDS_WORDS.values()})
    aliases = Vocabulary(library.aliases()).routine_aliases
    lines += lesson_lines(lesson(aliases)) + [cues.waiting_help(spoken_names(aliases), ask)
                                              for ask in (False, True)]
    return list(dict.fromkeys(t.strip() for t in lines if t.strip()))


def uncached(renderer, lines: Iterable[str]) -> list[str]:
    """The lines the renderer's cache lacks: what warm() would render."""
    return [t for t in lines if not renderer.is_cached(t)]


def warm(renderer, lines: Iterable[str],
         progress: Optional[Callable[[int, int], None]] = None) -> int:
    """Render what is not cached yet; the number rendered. Used by `voice prepare` and, in
    the background, by a live run (user routines may have changed since setup)."""
    todo = uncached(renderer, lines)
    for i, text in enumerate(todo, 1):
        try:
            renderer.render(text, whole=True)
        except CompanionError:
            raise
        if progress:
            progress(i, len(todo))
    return len(todo)


def _die_with_parent() -> None:
    """In the child, before it runs: ended when the companion ends, however it ends (Linux)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _spawn(renderer, todo: list[str], now: bool = False) -> subprocess.Popen:
    """A child process rendering `todo` with the renderer's own voice, rate, volume and
    cache: in the background at the lowest priority, or now (the run waits for it)."""
    cmd = [sys.executable, "-m", "companion.loop.warmup", "--engine", renderer.engine,
           "--rate", str(renderer.rate), "--volume", repr(renderer.volume),
           "--cache-dir", str(renderer.dir)]
    if renderer.voice:
        cmd += ["--voice", renderer.voice]
    if now:
        cmd += ["--now"]
    # The lines by a pipe, not the command line, which any user can read in /proc: the
    # summary speaks of the user's pain.
    child = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                             preexec_fn=_die_with_parent)
    assert child.stdin is not None
    try:
        child.stdin.write(json.dumps(todo).encode("utf-8"))
        child.stdin.close()
    except OSError:   # the child is gone already: it reported why
        pass
    return child


def start(renderer, hold_step_s: float, extra: Sequence[str] = ()) -> Optional[subprocess.Popen]:
    """Render the lines the cache lacks in a child process at the lowest priority, with the
    renderer's own voice, rate, volume and cache (None when nothing is missing). A child, not
    a thread: the Piper voice (+120-300 MB while rendering) and its heap go when it exits
    instead of swelling the listening process, and its rendering never holds the hearing
    thread's interpreter lock. extra: lines of this moment to render too (the summary)."""
    todo = uncached(renderer, [*all_lines(hold_step_s), *extra])
    return _spawn(renderer, todo) if todo else None


def prerender(renderer, lines: Iterable[str]) -> list:
    """Before anything plays (a render while a cue plays competes with the player): every
    line found in the cache or rendered now. With Piper, what the cache lacks (lines of a
    release or routine newer than the last `voice prepare`) is rendered by a child the run
    waits for, so the voice never loads into the listening process (361 MB there until the
    idle unload, measured). Then the renderer's own prerender finds them, and renders any
    the child could not."""
    lines = list(lines)
    todo = uncached(renderer, lines) if renderer.engine == "piper" else []
    if todo:
        _spawn(renderer, todo, now=True).wait()
    return renderer.prerender(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """The child start() and prerender() run: renders the lines (a JSON list on standard
    input), for start() with one thread at the lowest priority (hearing a command matters
    more than a cue that may never be said); a failure is reported, not raised (a line that
    fails now is rendered, or reported, when said)."""
    from companion.speech.render import CueRenderer

    p = argparse.ArgumentParser(prog="python -m companion.loop.warmup")
    p.add_argument("--engine", required=True)
    p.add_argument("--voice", default=None)
    p.add_argument("--rate", type=int, required=True)
    p.add_argument("--volume", type=float, required=True)
    p.add_argument("--cache-dir", required=True)
    p.add_argument("--now", action="store_true",
                   help="the run waits for these lines: normal priority, two threads")
    args = p.parse_args(argv)
    if not args.now:
        try:
            os.nice(19)
        except OSError:
            pass
    try:
        renderer = CueRenderer(args.voice, args.rate, args.volume, cache_dir=args.cache_dir,
                               engine=args.engine,
                               threads=min(2, os.cpu_count() or 1) if args.now else 1)
        warm(renderer, [str(t) for t in json.load(sys.stdin)])
    except Exception as e:  # noqa: BLE001 - reported, the run goes on without these lines
        logger.warning("cue warm-up stopped: %s", e)  # to stderr: the run's journal
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
