"""The `companion` command: a thin dispatcher. Each subcommand lives in the module named
for what it does and registers itself here."""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Optional, Sequence

from companion import __version__
from companion.errors import CompanionError

# Modules that add subcommands; each has register(subparsers, common_parent).
COMMAND_MODULES = (
    "companion.cmd_routines",
    "companion.cmd_log",
    "companion.cmd_run",
    "companion.cmd_voice",
    "companion.cmd_config",
    "companion.doctor",
    "companion.cmd_hearing",
    "companion.cmd_bench",
)


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

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    common = Parser(add_help=False)
    common.add_argument("--data-dir", metavar="DIR",
                        help="where the pain log lives; the first of: this flag, "
                             "$COMPANION_DATA_DIR, data_dir in config.toml, the XDG data dir "
                             "(usually ~/.local/share/companion)")
    parser = Parser(
        prog="companion", description="Voice-guided trigger-point self-massage companion.")
    parser.add_argument("--version", action="version", version=f"companion {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub, common)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except CompanionError as e:
        print(f"companion: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
