"""Every line this install can say, and rendering what is not cached yet: used by
`companion voice prepare` and, in the background, by a live run."""

from __future__ import annotations

from typing import Callable, Iterable, Optional

from companion.core import cues
from companion.core.engine import HOLD_STEP_S
from companion.core.errors import CompanionError


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
        lines += [cues.whats_next(n.label, n.kind, n.seconds) for n in plan[1:]]
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
