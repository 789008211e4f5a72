"""SQLite: an FTS5 table ``content_contentpage_fts`` (created by migration 0001)."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import DatabaseError, connection
from django.db.models import QuerySet

from ..models import ContentPage
from . import PREFIX_MIN_LENGTH, SearchHit, highlight

TABLE = "content_contentpage_fts"
# bm25 column weights: doc_id (not indexed), title, body.
_WEIGHTS = "0.0, 10.0, 1.0"
_SNIPPET_TOKENS = 24


def match_expression(terms: Sequence[str]) -> str:
    """Every term as a quoted FTS5 string (no query syntax gets through), the last as a prefix."""
    parts = [f'"{term}"' for term in terms]
    if terms and len(terms[-1]) >= PREFIX_MIN_LENGTH:
        parts[-1] += "*"
    return " ".join(parts)


class SQLiteSearch:
    def rebuild(self) -> None:
        rows = list(ContentPage.objects.values_list("doc_id", "title", "body_text"))
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {TABLE}")  # noqa: S608 # nosec B608 - constant name
            cursor.executemany(
                f"INSERT INTO {TABLE} (doc_id, title, body) VALUES (%s, %s, %s)",  # noqa: S608 # nosec B608
                rows,
            )

    def search(
        self, pages: QuerySet[ContentPage], terms: Sequence[str], *, limit: int
    ) -> list[SearchHit]:
        if not terms:
            return []
        match = match_expression(terms)
        sql = (
            f"SELECT doc_id, snippet({TABLE}, 2, char(2), char(3), '…', {_SNIPPET_TOKENS}),"  # noqa: S608 # nosec B608
            f" doc_id IN (SELECT doc_id FROM {TABLE} WHERE {TABLE} MATCH %s) AS title_hit"
            f" FROM {TABLE} WHERE {TABLE} MATCH %s"
            f" ORDER BY title_hit DESC, bm25({TABLE}, {_WEIGHTS}), doc_id"
        )
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql, [f"title : ({match})", match])
                rows = cursor.fetchall()
        except DatabaseError:
            return []
        # The matches of the whole index, narrowed to what the reader may see
        # (``pages`` is already scoped by the selector).
        allowed = pages.filter(doc_id__in=[row[0] for row in rows]).in_bulk(field_name="doc_id")
        hits = []
        for doc_id, snippet, title_hit in rows:
            page = allowed.get(doc_id)
            if page is not None:
                hits.append(
                    SearchHit(page=page, snippet=highlight(snippet), title_match=bool(title_hit))
                )
            if len(hits) >= limit:
                break
        return hits
