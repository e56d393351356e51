"""Subcommands (being written)."""


def register(sub, common) -> None:
    """Add this module's subcommands to the parser."""
