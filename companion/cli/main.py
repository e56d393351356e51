"""The `companion` command: a thin dispatcher. Each subcommand lives in the module named
for what it does and registers itself here."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from typing import Optional, Sequence

from companion import __version__
from companion.core.errors import CompanionError
from companion.cli.parsing import Parser

# Modules that add subcommands; each has register(subparsers, common_parent).
COMMAND_MODULES = (
    "companion.cli.routines",
    "companion.cli.log",
    "companion.cli.run",
    "companion.cli.voice",
    "companion.cli.config",
    "companion.cli.doctor",
    "companion.cli.hearing",
    "companion.cli.said",
    "companion.cli.enroll",
    "companion.cli.bench",
)


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


class _Stderr(logging.Handler):
    """Writes to whatever sys.stderr is at the time of the message (a test may swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except Exception:
            self.handleError(record)


def setup_logging() -> None:
    """Library code logs; the terminal gets its warnings as one "companion: ..." line each,
    as the CLI's own errors read. Once per process: main() may run many times in tests."""
    root = logging.getLogger("companion")
    if any(isinstance(h, _Stderr) for h in root.handlers):
        return
    handler = _Stderr(logging.WARNING)
    handler.setFormatter(logging.Formatter("companion: %(message)s"))
    root.addHandler(handler)


def main(argv: Optional[Sequence[str]] = None) -> int:
    setup_logging()
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
