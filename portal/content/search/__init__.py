"""Full-text search over the content index, one backend per database.

SQLite uses an FTS5 table (``sqlite.py``), PostgreSQL a weighted ``tsvector``
column with a GIN index (``postgres.py``). Both rank a page whose title
matches the whole query above pages that match only in their text, then by
the database's relevance score, and both return a highlighted snippet made
safe the same way: the database marks matches with control characters, the
text is HTML-escaped, then the marks become ``<mark>``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from django.db import connection
from django.db.models import QuerySet
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from ..models import ContentPage
from ..rendering import MARK_END, MARK_START

MAX_TERMS = 8
MAX_TERM_LENGTH = 50
# A last word this long or longer also matches as a prefix ("invoi" finds "invoices").
PREFIX_MIN_LENGTH = 2
_WORD = re.compile(r"\w+")
_BLOCK_BREAK = re.compile(r"\s*\n\s*")
_MARKED = re.compile(f"{MARK_START}(.*?){MARK_END}", re.DOTALL)


@dataclass(frozen=True)
class SearchHit:
    page: ContentPage
    snippet: SafeString
    title_match: bool


class SearchBackend(Protocol):
    def rebuild(self) -> None:
        """Index every ``ContentPage`` anew (called inside ``content_sync``'s transaction)."""

    def search(
        self, pages: QuerySet[ContentPage], terms: Sequence[str], *, limit: int
    ) -> list[SearchHit]:
        """The best ``limit`` of ``pages`` matching all ``terms``, best first."""


def search_terms(query: str) -> list[str]:
    """The words of a query, lowercased; punctuation and search syntax are dropped."""
    words = [word[:MAX_TERM_LENGTH] for word in _WORD.findall(query.lower())]
    return words[:MAX_TERMS]


def highlight(marked: str) -> SafeString:
    """Escape a snippet, then turn its match marks into ``<mark>`` elements."""
    # Blocks (headings, paragraphs, list items) are lines in the indexed text.
    marked = _BLOCK_BREAK.sub(" · ", marked.strip())
    escaped = _MARKED.sub(r"<mark>\1</mark>", str(escape(marked)))
    escaped = escaped.replace(MARK_START, "").replace(MARK_END, "")
    # Safe: the text was HTML-escaped above; the only markup is our own <mark>.
    return mark_safe(escaped)  # noqa: S308 # nosec B308 B703 - escaped above


def backend() -> SearchBackend:
    if connection.vendor == "postgresql":
        from .postgres import PostgresSearch

        return PostgresSearch()
    if connection.vendor == "sqlite":
        from .sqlite import SQLiteSearch

        return SQLiteSearch()
    raise NotImplementedError(
        f"content search supports SQLite and PostgreSQL, not {connection.vendor}"
    )
