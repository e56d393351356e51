"""Library code logs through `logging`; only the CLI decides what reaches the terminal. The
warnings users read on stderr keep their words ("companion: ...") through the CLI's handler."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "companion"


def _writes_to_stderr(node: ast.AST) -> bool:
    """print(..., file=sys.stderr) or sys.stderr.write(...)."""
    if not isinstance(node, ast.Call):
        return False
    f = node.func
    if isinstance(f, ast.Name) and f.id == "print":
        return any(k.arg == "file" and ast.unparse(k.value) == "sys.stderr"
                   for k in node.keywords)
    return isinstance(f, ast.Attribute) and ast.unparse(f) == "sys.stderr.write"


def test_library_code_does_not_print_to_stderr() -> None:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        if rel.parts[0] == "cli" or rel.name == "__main__.py":
            continue   # the terminal is the CLI's to write
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if _writes_to_stderr(node):
                found.append(f"{rel}:{node.lineno}")
    assert found == [], f"log through logging.getLogger(__name__) instead: {found}"


def test_a_skipped_routine_file_reads_as_before(tmp_path: Path) -> None:
    # voice_run logs it; the CLI's handler prints it as the print() did.
    config = tmp_path / "config"
    (config / "routines").mkdir(parents=True)
    (config / "routines" / "broken.yaml").write_text("name: broken\ntitle: [oops\n")
    wav = REPO / "tests" / "audio" / "next__espeak-en-us-f2-130-10dB.wav"
    res = subprocess.run(
        [sys.executable, "-m", "companion", "run", "--mic-file", str(wav), "--no-speaker",
         "--quiet", "--engine", "pocketsphinx", "--data-dir", str(tmp_path / "data")],
        capture_output=True, text=True, cwd=REPO, timeout=120,
        env=dict(os.environ, COMPANION_CONFIG_DIR=str(config)))
    assert "Traceback" not in res.stderr, res.stderr
    lines = [s for s in res.stderr.splitlines() if "skipping" in s]
    assert lines == ["companion: skipping routine file: broken.yaml:3: not valid YAML: "
                     "expected ',' or ']', but got '<stream end>'"], res.stderr
