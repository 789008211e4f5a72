"""Text from outside, made fit for the database."""

from __future__ import annotations


def search_words(value: str, *, max_length: int) -> str:
    """Search words from a query string: trimmed, capped, without NUL characters.

    PostgreSQL refuses NUL in any text it is given (SQLite takes it), so an
    unchecked ``?q=%00`` would be a server error there; nobody searches for one.
    """
    return value.replace("\x00", "").strip()[:max_length]
