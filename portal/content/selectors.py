"""Every read of content pages, from the point of view of the reader.

Visibility: a page tagged ``public`` is for anyone, any other page for
signed-in users, and a page whose status is not ``production`` for staff
only. A page the reader may not see is a 404 exactly like a missing one, and
it is never linked, listed, suggested or found by search for them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db.models import QuerySet
from django.http import Http404
from django.utils.safestring import SafeString

from .loader import Problem, Severity
from .models import (
    Audience,
    ContentIndexState,
    ContentPage,
    ContentReference,
    ReferenceKind,
    visible_q,
)
from .search import SearchHit, backend, search_terms

Reader = AbstractBaseUser | AnonymousUser

SEARCH_LIMIT = 20
SUGGEST_LIMIT = 5


def audience_of(user: Reader) -> Audience:
    if not user.is_authenticated:
        return Audience.ANONYMOUS
    if getattr(user, "is_staff", False) and user.is_active:
        return Audience.STAFF
    return Audience.SIGNED_IN


def pages_for_user(*, user: Reader) -> QuerySet[ContentPage]:
    return ContentPage.objects.filter(visible_q(audience_of(user)))


def page_get_for_user(*, user: Reader, doc_id: str) -> ContentPage:
    page = pages_for_user(user=user).filter(doc_id=doc_id).first()
    if page is None:
        raise Http404("No such page.")
    return page


def page_body_for_user(*, user: Reader, page: ContentPage) -> SafeString:
    return page.html_for(audience_of(user))


@dataclass(frozen=True)
class RelatedItem:
    target_id: str
    description: str
    page: ContentPage | None  # None: not published (or not visible to this reader)


@dataclass
class RelatedGroup:
    type: str
    items: list[RelatedItem] = field(default_factory=list)


def page_related(*, user: Reader, page: ContentPage) -> list[RelatedGroup]:
    """The page's front-matter relationships, grouped by type in the order written."""
    relationships = list(
        ContentReference.objects.filter(source=page, kind=ReferenceKind.RELATIONSHIP).order_by(
            "position"
        )
    )
    targets = pages_for_user(user=user).in_bulk(
        {r.target_id for r in relationships}, field_name="doc_id"
    )
    groups: dict[str, RelatedGroup] = {}
    for relationship in relationships:
        group = groups.setdefault(
            relationship.relationship_type, RelatedGroup(type=relationship.relationship_type)
        )
        group.items.append(
            RelatedItem(
                target_id=relationship.target_id,
                description=relationship.description,
                page=targets.get(relationship.target_id),
            )
        )
    return list(groups.values())


def page_referenced_by(*, user: Reader, page: ContentPage) -> list[ContentPage]:
    """Pages the reader may see that link to this one or name it in a relationship."""
    sources = (
        ContentReference.objects.filter(target_id=page.doc_id)
        .exclude(source=page)
        .values("source_id")
    )
    return list(pages_for_user(user=user).filter(pk__in=sources).order_by("title"))


def page_search(*, user: Reader, query: str, limit: int = SEARCH_LIMIT) -> list[SearchHit]:
    terms = search_terms(query)
    if not terms:
        return []
    return backend().search(pages_for_user(user=user), terms, limit=limit)


def content_problems(*, user: Reader) -> list[Problem]:
    """What the last sync found wrong with the files; staff only."""
    if audience_of(user) != Audience.STAFF:
        return []
    state = ContentIndexState.objects.filter(pk=ContentIndexState.SINGLETON_PK).first()
    if state is None:
        return []
    return [
        Problem(
            path=str(item["path"]),
            line=int(item["line"]),
            severity=Severity(item["severity"]),
            message=str(item["message"]),
        )
        for item in state.problems
    ]
