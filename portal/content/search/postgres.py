"""PostgreSQL: a weighted ``tsvector`` column (title A, text B) with a GIN index."""

from __future__ import annotations

from collections.abc import Sequence

from django.contrib.postgres.search import (
    SearchHeadline,
    SearchQuery,
    SearchRank,
    SearchVector,
)
from django.db.models import BooleanField, Case, F, QuerySet, Value, When

from ..models import ContentPage
from ..rendering import MARK_END, MARK_START
from . import PREFIX_MIN_LENGTH, SearchHit, highlight

# The content is written in English: stemming makes "invoices" find "invoice".
CONFIG = "english"


def tsquery(terms: Sequence[str]) -> str:
    """All terms ANDed, each quoted (terms are word characters only), the last as a prefix."""
    parts = [f"'{term}'" for term in terms]
    if terms and len(terms[-1]) >= PREFIX_MIN_LENGTH:
        parts[-1] += ":*"
    return " & ".join(parts)


class PostgresSearch:
    def rebuild(self) -> None:
        ContentPage.objects.update(
            search_vector=SearchVector("title", weight="A", config=CONFIG)
            + SearchVector("body_text", weight="B", config=CONFIG)
        )

    def search(
        self, pages: QuerySet[ContentPage], terms: Sequence[str], *, limit: int
    ) -> list[SearchHit]:
        if not terms:
            return []
        query = SearchQuery(tsquery(terms), search_type="raw", config=CONFIG)
        results = (
            pages.filter(search_vector=query)
            .annotate(
                rank=SearchRank(F("search_vector"), query),
                title_vector=SearchVector("title", config=CONFIG),
            )
            .annotate(
                title_hit=Case(
                    When(title_vector=query, then=Value(True)),
                    default=Value(False),
                    output_field=BooleanField(),
                ),
                headline=SearchHeadline(
                    "body_text",
                    query,
                    config=CONFIG,
                    start_sel=MARK_START,
                    stop_sel=MARK_END,
                    max_words=30,
                    min_words=12,
                    max_fragments=2,
                    fragment_delimiter=" … ",
                ),
            )
            .order_by("-title_hit", "-rank", "doc_id")[:limit]
        )
        return [
            SearchHit(
                page=page,
                snippet=highlight(page.headline),
                title_match=bool(page.title_hit),
            )
            for page in results
        ]
