"""Rows of the pain log as plain dicts, their text columns always text."""

from __future__ import annotations

import sqlite3
from typing import Any

_TEXT_COLUMNS = ("routine", "step", "area", "end_reason", "kind", "detail", "key")


def rows(db: sqlite3.Connection, sql: str, args: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    return [_as_text(dict(row)) for row in db.execute(sql, args)]


def _as_text(row: dict[str, Any]) -> dict[str, Any]:
    """Text columns as str or None, whatever SQLite held (a number, a blob): every command
    that shows them can rely on it. Times and numbers are left as stored (see
    store.usable_time)."""
    for name in _TEXT_COLUMNS:
        value = row.get(name)
        if value is not None and not isinstance(value, str):
            row[name] = (value.decode("utf-8", "replace") if isinstance(value, bytes)
                         else str(value))
    return row
