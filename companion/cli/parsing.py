"""Shared argparse pieces for the command modules (kept apart from `main`, which imports
the command modules)."""

from __future__ import annotations

import argparse
from typing import NoReturn


def nested_subcommands(sub, name: str, help_text: str) -> argparse._SubParsersAction:
    """The subcommand group `name` (e.g. `bench`), created here or reused if another module
    already registered it, so several modules can add verbs to one group."""
    parser = sub.choices.get(name) if hasattr(sub, "choices") else None
    if parser is None:
        parser = sub.add_parser(name, help=help_text)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return parser.add_subparsers(dest=f"{name}_command", metavar="WHAT", required=True)


class Parser(argparse.ArgumentParser):
    """Usage mistakes in one line that names the fix, not a screen of usage."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see `{self.prog} --help`)\n")
