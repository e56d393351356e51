"""Which ways of saying each command are heard (`companion bench phrases`): every phrase of
the vocabulary's table (a number as "six", seconds as "thirty", a routine by its first
name), said by espeak-ng's voices and the Piper voice, clean and in room noise at 20 and 10
dB (renders.hear), each heard at the moment it would be said (vocabulary.moment_for). The
safety words have their own bench (`bench safety`).

A command has several phrases ("pause", "wait", "hold on"), and the model hears some far
better than others: the figures say which to teach (the help cue names one of each). The
voices are synthetic, so they rank phrases, they do not say how often a person is heard."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from companion.bench import renders
from companion.core.vocabulary import (COMMANDS, TAUGHT, Intent, IntentKind, Vocabulary,
                                       moment_for, normalize)
from companion.hearing.recognizer import Recognizer

FILL = {"{n}": "six", "{secs}": "thirty"}  # one value stands for a slot's every value


@dataclass(frozen=True)
class Way:
    """One way of saying a command, and where it is said."""

    phrase: str
    means: Intent
    moment: str   # vocabulary.MOMENTS' name: what is listened for when it is said
    taught: bool = False  # the phrase the companion tells the user to say (TAUGHT)


def ways(vocab: Vocabulary, routine: str = "neck",
         kinds: Optional[set[IntentKind]] = None) -> list[Way]:
    """Every phrase of COMMANDS but the safety words', in the table's order, its slot
    filled with FILL's value or the routine's first spoken name (`kinds`: only these)."""
    name = next((a for a, r in vocab.routine_aliases.items() if r == routine), routine)

    def filled(t: str) -> str:
        for slot, word in {**FILL, "{routine}": name}.items():
            t = t.replace(slot, word)
        return normalize(t)

    out: list[Way] = []
    for kind, _, templates in COMMANDS:
        if kind == IntentKind.SAFETY or (kinds is not None and kind not in kinds):
            continue
        for t in templates:
            phrase = filled(t)
            means = vocab.parse(phrase)
            if means is not None and all(w.phrase != phrase for w in out):
                taught = filled(TAUGHT.get(kind, "")) == phrase
                out.append(Way(phrase, means, moment_for(means.name), taught))
    return out


def run(rec: Recognizer, vocab: Vocabulary, cache: Path, noises: list[Path], piper: bool,
        said: list[Way], voices: Optional[list[tuple[str, int]]] = None
        ) -> list[tuple[Way, renders.Render]]:
    """Each way said by each voice (renders.voices) in each noise, heard at its moment."""
    by_phrase = {w.phrase: w for w in said}
    heard = renders.hear(rec, vocab, cache, noises,
                         [(w.phrase, vocab.phrases_at(w.moment)) for w in said],
                         voices if voices is not None else renders.voices(piper))
    return [(by_phrase[r.phrase], r) for r in heard]


def _other(w: Way, r: renders.Render) -> bool:
    return r.got is not None and r.got != w.means


def _count(rs: list[tuple[Way, renders.Render]]) -> dict:
    """Heard as meant; ranked first by the engine (acted on or not: what the model heard,
    the rest of a miss is the rules' rejection); heard as another command, and of those the
    ratings the loop asks back ("Was that one?": a no drops it) rather than acts on."""
    return {"said": len(rs), "right": sum(r.got == w.means for w, r in rs),
            "ranked_first": sum(w.means in r.ranked for w, r in rs),
            "other_command": sum(_other(w, r) for w, r in rs),
            "asked_back": sum(_other(w, r) and r.unsure for w, r in rs)}


def figures(results: list[tuple[Way, renders.Render]]) -> dict:
    """Heard as meant, and acted on as another command: per phrase (grouped by command, by
    voice: espeak-ng's and the Piper voice's), for phrases of several words, for the phrases
    the companion teaches (vocabulary.TAUGHT), in all."""
    def family(r: renders.Render) -> str:
        return "piper" if r.voice.startswith("piper") else "espeak-ng"

    families = sorted({family(r) for _, r in results})
    kinds = list(dict.fromkeys(w.means.name.value for w, _ in results))
    commands = {}
    for k in kinds:
        mine = [(w, r) for w, r in results if w.means.name.value == k]
        commands[k] = {p: {"all": _count([x for x in mine if x[0].phrase == p]),
                           **{f: _count([x for x in mine if x[0].phrase == p
                                         and family(x[1]) == f])
                              for f in sorted({family(r) for _, r in mine})}}
                       for p in dict.fromkeys(w.phrase for w, _ in mine)}
    return {"all": _count(results),
            "several_words": _count([x for x in results if " " in x[0].phrase]),
            # The multi-word figure is espeak-ng's; the Piper voice's is nearer a
            # person's, so each is shown.
            "several_words_by_voice": {f: _count([x for x in results if " " in x[0].phrase
                                                  and family(x[1]) == f]) for f in families},
            "taught": _count([x for x in results if x[0].taught]),
            "by_voice": {f: _count([x for x in results if family(x[1]) == f])
                         for f in families},
            "commands": commands,
            "other_commands": dict(Counter(
                f"{w.phrase} -> {r.heard}{' (asked back)' if r.unsure else ''}"
                for w, r in results if _other(w, r)).most_common()),
            "voices": sorted({r.voice for _, r in results})}


def best(fig: dict) -> dict[str, str]:
    """Each command's best-heard phrase (most heard as meant, then fewest acted on as
    another command, then the table's order)."""
    return {k: max(ps, key=lambda p: (ps[p]["all"]["right"], -ps[p]["all"]["other_command"],
                                      -list(ps).index(p)))
            for k, ps in fig["commands"].items()}


def _others(c: dict) -> str:
    if not c["other_command"]:
        return ""
    return f"{c['other_command']}" + (f" ({c['asked_back']} asked back)" if c["asked_back"]
                                      else "")


def _by(counts: dict) -> str:
    """Counts by voice family as a reader wants them: "espeak-ng 1304 / 1656, piper ..." """
    return ", ".join(f"{f} {c['right']} / {c['said']}" for f, c in counts.items())


def table(fig: dict) -> str:
    def cell(c: dict) -> str:
        return f"{c['right']:>3d} / {c['said']:<3d}" if c["said"] else "     -   "

    families = list(fig["by_voice"])
    tops = best(fig)
    lines = [f"commands heard as meant, by phrase, said by {renders.who(fig['voices'])}; "
             "clean, 20 and 10 dB; * the command's best-heard phrase",
             f"{'command':13s} {'phrase':34s} {'all':>9s}  "
             + "  ".join(f"{f:>9s}" for f in families) + "  other command"]
    for k, ps in fig["commands"].items():
        for p, c in ps.items():
            mark = "*" if tops[k] == p else " "
            lines.append(f"{k:13s}{mark}{p:34s} {cell(c['all'])}  "
                         + "  ".join(cell(c.get(f, {"said": 0})) for f in families)
                         + f"  {_others(c['all'])}")
    a, m = fig["all"], fig["several_words"]
    lines.append(f"all: {a['right']} / {a['said']} ({a['right'] / max(a['said'], 1):.1%}), "
                 f"phrases of several words {m['right']} / {m['said']} "
                 f"({m['right'] / max(m['said'], 1):.1%}: {_by(fig['several_words_by_voice'])}"
                 f"); by voice {_by(fig['by_voice'])}; heard as another command: {_others(a)}")
    lines.append(f"ranked first by the engine (the model's own choice; the rest of a miss is "
                 f"the rules' rejection): all {a['ranked_first']} / {a['said']}, of several "
                 f"words {m['ranked_first']} / {m['said']}")
    t = fig["taught"]
    lines.append(f"the phrases the companion tells you to say (vocabulary.TAUGHT): {t['right']}"
                 f" / {t['said']} ({t['right'] / max(t['said'], 1):.1%}), heard as another "
                 f"command {_others(t) or 0}")
    lines += [f"  {x}: {n}" for x, n in list(fig["other_commands"].items())[:20]]
    return "\n".join(lines)
