"""The package layout is the architecture: each layer imports only layers below it (and
itself), the core imports nothing outside the core, and no modules import each other in a
loop. Read from the source with `ast`, so a lazy import inside a function counts too."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "companion"

# Lowest first. Layers on one rank are siblings: they may not import each other.
LAYERS = {
    "core": 0,
    "host": 1,
    "audio": 2,
    "hearing": 3, "speech": 3, "storage": 3,
    "loop": 4,
    "bench": 5,
    "cli": 6,
}


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    """Every `companion...` module a file imports, at top level or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("companion")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("companion"):
            found.add(node.module)
            # `from companion.hearing import whisper_model` imports a module too
            for a in node.names:
                if (PACKAGE.parent / (node.module + "." + a.name).replace(".", "/")).with_suffix(".py").exists():
                    found.add(f"{node.module}.{a.name}")
    return found


def modules() -> dict[str, set[str]]:
    return {module_name(p): imports_of(p) for p in sorted(PACKAGE.rglob("*.py"))}


def layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else None


def test_every_module_lives_in_a_layer() -> None:
    loose = [m for m in modules() if layer(m) is None
             and m not in ("companion", "companion.__main__")]
    assert loose == [], f"modules outside the layer packages: {loose}"


def test_no_import_climbs_or_crosses_a_layer() -> None:
    wrong = []
    for mod, imported in modules().items():
        here = layer(mod)
        if here is None:
            continue
        for target in imported:
            there = layer(target)
            if there is None or there == here:
                continue
            if LAYERS[there] >= LAYERS[here]:
                wrong.append(f"{mod} ({here}) imports {target} ({there})")
    assert wrong == [], "\n".join(wrong)


def test_core_imports_nothing_outside_the_core() -> None:
    outside = [f"{m} imports {t}" for m, imported in modules().items() if layer(m) == "core"
               for t in imported if layer(t) != "core"]
    assert outside == []


def test_no_import_cycle() -> None:
    graph = modules()
    # a package's __init__ is entered before its modules; `from pkg import x` names pkg
    # only as a route, so cycles are looked for among the modules themselves
    edges = {m: {t for t in imported if t in graph and t != m and not _is_package(t)}
             for m, imported in graph.items()}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)
    assert cycles == [], "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def _is_package(module: str) -> bool:
    return (PACKAGE.parent / module.replace(".", "/") / "__init__.py").exists()


def test_the_checker_sees_a_climbing_import(tmp_path: Path) -> None:
    """The rules above read real imports: a lazy import inside a function is found."""
    f = tmp_path / "x.py"
    f.write_text("def f():\n    from companion.cli.main import main\n    import companion.loop.runner\n")
    assert imports_of(f) == {"companion.cli.main", "companion.loop.runner"}


def test_the_readme_names_every_module_of_the_runtime_layers():
    """The README's "How the code is laid out" names each module of the layers a running
    companion is made of (bench and cli are described as wholes): wall_clock.py, sounds.py
    and ten more were missing from it."""
    readme = (PACKAGE.parent / "README.md").read_text()
    layout = readme.split("## How the code is laid out", 1)[1].split("\n## ", 1)[0]
    missing = [f"{p.parent.name}/{p.name}" for layer, rank in LAYERS.items() if rank < 5
               for p in sorted((PACKAGE / layer).glob("*.py"))
               if p.name != "__init__.py" and f"`{p.name}`" not in layout]
    assert not missing, missing
