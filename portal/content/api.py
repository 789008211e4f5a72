"""``/api/v1/pages``: the portal's content pages (help, policies, the system record), by id
and by search, as the caller may see them on the website."""

# No ``from __future__ import annotations`` here: ninja reads these annotations at run time.

import copy
from datetime import date

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from ninja.params.functions import Path as PathParam

from portal.apikit.auth import ApiPrincipal, principal
from portal.apikit.schemas import Text

from . import selectors, services
from .models import ContentPage
from .schema import DOC_ID_PATTERN
from .selectors import Reader

router = Router(tags=["pages"])


class PageSummaryOut(Schema):
    id: str = Field(description="The page's id, e.g. `help-submit-request`.")
    title: str
    summary: str
    tags: list[str]
    last_updated: date
    url: str = Field(description="The page on the website.")


class RelatedItemOut(Schema):
    id: str
    description: str
    title: str | None = Field(description="The related page's title; null if you cannot see it.")


class RelatedGroupOut(Schema):
    type: str = Field(description="The relationship, e.g. `serves` or `depends-on`.")
    items: list[RelatedItemOut]


class PageOut(PageSummaryOut):
    version: str
    owner: str
    html: str = Field(description="The page's body as sanitised HTML, links resolved for you.")
    related: list[RelatedGroupOut]


class SearchFilters(Schema):
    q: Text(200, min_length=1) = Field(description="Words to look for.")  # type: ignore[valid-type]
    limit: int = Field(selectors.SEARCH_LIMIT, ge=1, le=selectors.SEARCH_LIMIT)


class SearchHitOut(Schema):
    page: PageSummaryOut
    snippet: str = Field(description="Where the words matched, as HTML with `<mark>`.")
    title_match: bool


class SearchOut(Schema):
    query: str
    results: list[SearchHitOut]


def _reader(caller: ApiPrincipal) -> Reader:
    # A token acts as a customer's member: it reads what signed-in customers read, never
    # the drafts its owner may see as staff.
    if caller.token is None or not caller.user.is_staff:
        return caller.user
    reader = copy.copy(caller.user)
    reader.is_staff = False
    return reader


def _summary(request: HttpRequest, page: ContentPage) -> PageSummaryOut:
    return PageSummaryOut(
        id=page.doc_id,
        title=page.title,
        summary=page.summary,
        tags=list(page.tags),
        last_updated=page.last_updated,
        url=request.build_absolute_uri(page.get_absolute_url()),
    )


@router.get("/pages/search", response=SearchOut, summary="Search the pages")
def page_search(request: HttpRequest, filters: Query[SearchFilters]) -> SearchOut:
    """The best matches first, at most `limit`; pages you may not see are never found."""
    services.content_refresh_if_changed()
    hits = selectors.page_search(
        user=_reader(principal(request)), query=filters.q, limit=filters.limit
    )
    return SearchOut(
        query=filters.q,
        results=[
            SearchHitOut(
                page=_summary(request, hit.page),
                snippet=str(hit.snippet),
                title_match=hit.title_match,
            )
            for hit in hits
        ],
    )


@router.get("/pages/{doc_id}", response=PageOut, summary="Get a page")
def page_get(
    request: HttpRequest,
    doc_id: str = PathParam(
        ..., pattern=DOC_ID_PATTERN, max_length=100, description="The page's id."
    ),
) -> PageOut:
    services.content_refresh_if_changed()
    reader = _reader(principal(request))
    page = selectors.page_get_for_user(user=reader, doc_id=doc_id)
    related = selectors.page_related(user=reader, page=page)
    return PageOut(
        **_summary(request, page).model_dump(),
        version=page.version,
        owner=page.owner,
        html=str(selectors.page_body_for_user(user=reader, page=page)),
        related=[
            RelatedGroupOut(
                type=group.type,
                items=[
                    RelatedItemOut(
                        id=item.target_id,
                        description=item.description,
                        title=item.page.title if item.page is not None else None,
                    )
                    for item in group.items
                ],
            )
            for group in related
        ],
    )
