"""The `companion` command: one module per command group; `main` decides what reaches the
terminal."""

from __future__ import annotations

from typing import Optional, Sequence


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point (kept here too, so an older install's `companion.cli:main` still runs)."""
    from companion.cli.main import main as run
    return run(argv)
