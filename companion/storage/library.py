"""Loading routine files: YAML in, validated Routine out, or errors that name the file,
the line and the field so a non-programmer can fix a typo."""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Optional

import yaml
from pydantic import BaseModel, ValidationError

if TYPE_CHECKING:
    from pydantic_core import ErrorDetails

from companion.host import paths
from companion.core.errors import CompanionError
from companion.core.routines import Routine
from companion.host.userfiles import read_limited

MAX_FILE_BYTES = 256 * 1024  # the longest shipped routine is 4.4 KB
# Values (mappings, lists, scalars) in a routine once YAML aliases are expanded: pydantic
# checks, and reports on, every one. The largest shipped routine has 270; a 1.1 KB file of
# aliases of aliases came to 1.5 million and took 4 s and 600 MB before this cap.
MAX_VALUES = 20_000
MAX_PROBLEMS = 50  # per file: more only scroll the first ones away


class RoutineError(Exception):
    """A routine file that cannot be used; str() is one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def _line_map(node: yaml.Node, path: tuple = (), out: Optional[dict] = None,
              seen: Optional[set[int]] = None) -> dict:
    """Map every field path (('steps', 3, 'hold_s')) to its 1-based line in the file.
    Each node is walked once: a YAML alias (*name) points back at its anchor's node, so
    walking every path would loop forever on a node that contains itself and take
    exponential time on aliases of aliases. A path through an alias gets the alias's line."""
    out = {} if out is None else out
    seen = set() if seen is None else seen
    out.setdefault(path, node.start_mark.line + 1)
    if id(node) in seen:
        return out
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            out[path + (k.value,)] = k.start_mark.line + 1
            _line_map(v, path + (k.value,), out, seen)
            out[path + (k.value,)] = k.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            _line_map(v, path + (i,), out, seen)
    return out


class _TooManyValues(Exception):
    """args[0]: whether aliases made the difference."""


class _SelfReference(Exception):
    pass


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [x for kv in node.value for x in kv]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _expanded_size(root: yaml.Node, cap: int) -> int:
    """How many values the document holds once every alias (*name) is replaced by what it
    points at, counted without expanding anything (each node once, memoised), and
    without recursion (a 5000-deep nesting is fine). _TooManyValues past `cap`;
    _SelfReference for a node that contains itself."""
    size: dict[int, int] = {}  # the nodes counted
    walking: set[int] = set()  # the nodes on the path being walked, not counted yet
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    shared = False  # a node reached twice: an alias
    while stack:
        node, done = stack.pop()
        if done:
            n = 1 + sum(size[id(c)] for c in _children(node))
            if n > cap:
                raise _TooManyValues(shared)
            walking.discard(id(node))
            size[id(node)] = n
            continue
        if id(node) in size or id(node) in walking:
            shared = True
            continue
        walking.add(id(node))
        stack.append((node, True))
        for c in _children(node):
            if id(c) in walking:
                raise _SelfReference
            stack.append((c, False))
    return size[id(root)]


class _Loader(yaml.SafeLoader):
    """yaml.safe_load, except that a value its constructors choke on (a date such as
    2024-02-30, `!!int` with nothing after it) is a YAML error at that value's line, not a
    ValueError or IndexError from deep inside PyYAML."""

    def construct_object(self, node, deep=False):
        try:
            return super().construct_object(node, deep)
        except yaml.YAMLError:
            raise
        except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError):
            kind = node.tag.rsplit(":", 1)[-1]
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read {node.value!r} as a {kind}; put it in quotes if it "
                "is meant as text", node.start_mark) from None


def _one_line(text: str) -> str:
    """Show line breaks and other control characters in a field name as escapes, so
    every problem stays on its own line, starting with the file name."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _format_loc(loc: tuple, data) -> tuple[tuple, str]:
    """Drop pydantic's union tags ("hold", "function-after[...]") so the path reads as the
    file does: steps[3].hold_s."""
    clean: list = []
    node = data
    for part in loc:
        if isinstance(part, int):
            if isinstance(node, list) and part < len(node):
                clean.append(part)
                node = node[part]
            continue
        if isinstance(node, dict) and part in _KINDS and node.get("kind") == part:
            continue  # the union tag, even where the step has a field of that name (sides)
        if isinstance(node, dict) and part in node:
            clean.append(part)
            node = node[part]
        elif isinstance(node, dict) and part not in node and "[" not in part and \
                part not in _KINDS:
            clean.append(part)  # a missing or unknown field: name it anyway
            node = None
    text = ""
    for part in clean:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return tuple(clean), _one_line(text) or "(top level)"


_KINDS = {"position", "press", "hold", "micro", "release", "stretch", "rest", "repeat", "sides"}


def _message(err: ErrorDetails, model_fields: Iterable[str]) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        field = str(err["loc"][-1])
        near = difflib.get_close_matches(field, list(model_fields), n=1)
        return "unknown field" + (f" (did you mean '{near[0]}'?)" if near else "")
    if kind == "missing":
        return "required field is missing"
    if kind == "union_tag_invalid":
        # Name the kinds allowed at this place (a repeat may not hold sides or repeat).
        expected = (err.get("ctx") or {}).get("expected_tags")
        kinds = sorted(t.strip(" '") for t in expected.split(",")) if expected else sorted(_KINDS)
        return f"kind must be one of: {', '.join(kinds)}"
    if kind == "union_tag_not_found":
        return "each step needs a 'kind'"
    msg = err["msg"]
    return msg[len("Value error, "):] if msg.startswith("Value error, ") else msg


def _all_fields() -> set[str]:
    from companion.core import routines as r

    names: set[str] = set()
    for obj in vars(r).values():
        if isinstance(obj, type) and issubclass(obj, BaseModel):
            names.update(obj.model_fields)
    return names


def parse_routine(text: str, source: str = "<routine>") -> Routine:
    """Validate routine YAML text; raise RoutineError naming source, line and field."""
    try:
        node = yaml.compose(text)
        data = yaml.load(text, Loader=_Loader)
    except yaml.reader.ReaderError as e:  # a character YAML does not allow; no mark
        line = text.count("\n", 0, e.position) + 1
        raise RoutineError([f"{source}:{line}: not valid YAML: character "
                            f"U+{e.character:04X} is not allowed ({e.reason})"]) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e)
        raise RoutineError([f"{source}{where}: not valid YAML: {_one_line(problem)}"]) \
            from None
    except RecursionError:
        raise RoutineError([f"{source}: not valid YAML: nested too deeply"]) from None
    if not isinstance(data, dict):
        raise RoutineError([f"{source}: a routine file must be a mapping of fields "
                            "(name:, title:, steps: ...)"])
    _check_size(node, source)
    lines = _line_map(node) if node is not None else {}
    try:
        return Routine.model_validate(data)
    except RecursionError:
        raise RoutineError([f"{source}: nested too deeply"]) from None
    except ValidationError as e:
        fields = _all_fields()
        problems = []
        for err in e.errors():
            loc, path = _format_loc(err["loc"], data)
            at = next((lines[loc[:n]] for n in range(len(loc), -1, -1) if loc[:n] in lines),
                      None)
            where = f"{source}:{at}" if at else source
            problems.append(f"{where}: {path}: {_message(err, fields)}")
        problems = list(dict.fromkeys(problems))
        if len(problems) > MAX_PROBLEMS:
            more = len(problems) - MAX_PROBLEMS
            problems = problems[:MAX_PROBLEMS] + [f"{source}: ... and {more} more problems"]
        raise RoutineError(problems) from None


def _check_size(node: Optional[yaml.Node], source: str) -> None:
    """Refuse a document that aliases (&name, *name) multiply past MAX_VALUES values,
    or that refers to itself, before pydantic walks (and reports on) every copy."""
    if node is None:
        return
    try:
        _expanded_size(node, MAX_VALUES)
    except _SelfReference:
        raise RoutineError([f"{source}: an alias (*name) refers to the block it is part "
                            "of, so the routine would never end"]) from None
    except _TooManyValues as e:
        if e.args[0]:
            raise RoutineError([f"{source}: its aliases (*name) repeat blocks inside "
                                f"blocks, to more than {MAX_VALUES} values; write the "
                                "steps out, or use a repeat or sides block"]) from None
        raise RoutineError([f"{source}: more than {MAX_VALUES} values; that is far more "
                            "than any routine needs"]) from None


def load_routine_file(path: Path) -> Routine:
    """A routine file, read only if it is a regular file of at most MAX_FILE_BYTES (a
    FIFO called x.yaml would hang every command, /dev/zero would fill memory)."""
    try:
        text = read_limited(path, MAX_FILE_BYTES, "routine file").decode("utf-8")
    except CompanionError as e:
        raise RoutineError([str(e)]) from None
    except UnicodeDecodeError as e:
        raise RoutineError([f"{path}: cannot read: {e}"]) from None
    return parse_routine(text, path.name)


def routine_files(dirs: Optional[list[Path]] = None) -> list[Path]:
    dirs = dirs if dirs is not None else [paths.builtin_routines_dir(), paths.user_routines_dir()]
    files: list[Path] = []
    for d in dirs:
        if d.is_dir():
            files += sorted(p for p in d.iterdir() if p.suffix in (".yaml", ".yml"))
    return files


def normalise(name: str) -> str:
    """How names and aliases are matched: case, '-', '_' and runs of spaces do not count,
    so `desk-break`, `Desk_Break` and `desk break` are one name."""
    return " ".join(re.split(r"[\s_-]+", name.strip().lower())).strip()


class Library:
    """All routines: the shipped ones, then the user's own (which win on a name clash).
    Files with mistakes are kept aside in `problems`, never silently dropped; two files
    with the same routine name are named in `warnings`, with the one that is used."""

    def __init__(self, dirs: Optional[list[Path]] = None) -> None:
        self.routines: dict[str, Routine] = {}
        self.files: dict[str, Path] = {}  # routine name -> the file it was loaded from
        self.problems: list[str] = []
        self.warnings: list[str] = []
        for f in routine_files(dirs):
            try:
                r = load_routine_file(f)
            except RoutineError as e:
                self.problems += e.problems
                continue
            before = self.files.get(r.name)
            if before is not None:
                self.warnings.append(_clash(r.name, before, f))
            self.routines[r.name] = r
            self.files[r.name] = f

    def aliases(self) -> dict[str, str]:
        """Spoken alias -> routine name. Only the files' own aliases: they are what goes
        into the recognizer grammar, so every word must be one a speech model knows
        (a routine's name, like "glutes", may not be)."""
        out: dict[str, str] = {}
        for r in self.routines.values():
            for a in r.aliases:
                out.setdefault(a.lower(), r.name)
        return out

    def find(self, name: str) -> Routine:
        """A routine by name or alias, however it is spelt in case, '-' and '_'; KeyError
        with the closest names ("did you mean neck?") and the choices if there is none."""
        key = normalise(name)
        names = {normalise(n): n for n in self.routines}
        if key in names:
            return self.routines[names[key]]
        spoken = {normalise(a): n for a, n in self.aliases().items()}
        if key in spoken:
            return self.routines[spoken[key]]
        every = {**spoken, **names}
        near = list(dict.fromkeys(every[m] for m in
                                  difflib.get_close_matches(key, list(every), n=3, cutoff=0.75)))
        hint = f"; did you mean {' or '.join(near)}?" if near else "."
        raise KeyError(f"no routine called '{name}'{hint} "
                       f"Known: {', '.join(sorted(self.routines))}")


def _clash(name: str, before: Path, after: Path) -> str:
    builtin = paths.builtin_routines_dir()
    if before.parent == builtin and after.parent != builtin:
        return (f"{after} replaces the built-in routine '{name}' ({before}); "
                "rename one to keep both")
    return (f"{before} and {after} both define the routine '{name}'; using {after.name}, "
            "rename one to keep both")


def load_routine(library: Library, name: Optional[str]) -> Routine:
    """The routine a command line named; CompanionError with the near names if none."""
    if not name:
        raise CompanionError("name a routine, e.g. `companion run neck --text` "
                             "(see `companion routines list`)")
    try:
        return library.find(name)
    except KeyError as e:
        raise CompanionError(str(e.args[0])) from None
