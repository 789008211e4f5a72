from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from portal.core.fragments import cached_page
from portal.core.text import search_words

from . import selectors, services
from .models import Audience, ContentStatus

HELP_TAG = "help"
MAX_QUERY_LENGTH = 200
TOC_MIN_ENTRIES = 3


def _query(request: HttpRequest) -> str:
    return search_words(request.GET.get("q", ""), max_length=MAX_QUERY_LENGTH)


def _is_staff(request: HttpRequest) -> bool:
    return selectors.audience_of(request.user) == Audience.STAFF


@require_safe
def index(request: HttpRequest) -> HttpResponse:
    services.content_refresh_if_changed()
    pages = list(selectors.pages_for_user(user=request.user))
    context = {
        "help_pages": [page for page in pages if HELP_TAG in page.tags],
        "other_pages": [page for page in pages if HELP_TAG not in page.tags],
        "problems": selectors.content_problems(user=request.user),
        "show_staff_info": _is_staff(request),
        "today": timezone.localdate(),
        "production": ContentStatus.PRODUCTION,
    }
    return render(request, "content/index.html", context)


@require_safe
def page(request: HttpRequest, doc_id: str) -> HttpResponse:
    services.content_refresh_if_changed()
    user = request.user

    def context() -> dict[str, Any]:
        page = selectors.page_get_for_user(user=user, doc_id=doc_id)
        staff = _is_staff(request)
        return {
            "page": page,
            "body": selectors.page_body_for_user(user=user, page=page),
            "related": selectors.page_related(user=user, page=page),
            "referenced_by": selectors.page_referenced_by(user=user, page=page),
            "show_toc": len(page.toc) >= TOC_MIN_ENTRIES,
            "show_staff_info": staff,
            "review_overdue": staff and page.review_overdue(timezone.localdate()),
            "production": ContentStatus.PRODUCTION,
        }

    # Pages are site-wide rows (a sync saves them); who may read one depends on the
    # visitor, whose key the cached page holds.
    return cached_page(request, "content/page.html", context, site=True)


@require_safe
def search(request: HttpRequest) -> HttpResponse:
    services.content_refresh_if_changed()
    query = _query(request)
    hits = selectors.page_search(user=request.user, query=query) if query else []
    return render(request, "content/search.html", {"query": query, "hits": hits})


@require_safe
def suggest(request: HttpRequest) -> JsonResponse:
    """Help articles for what someone is typing (e.g. a request's subject), as JSON.

    Used by ``static/content/help-suggest.js`` on any page whose input has a
    ``data-help-suggest`` attribute.
    """
    services.content_refresh_if_changed()
    query = _query(request)
    hits = (
        selectors.page_search(user=request.user, query=query, limit=selectors.SUGGEST_LIMIT)
        if query
        else []
    )
    return JsonResponse(
        {
            "query": query,
            "label": _("Help articles that may answer your question"),
            "results": [
                {
                    "id": hit.page.doc_id,
                    "title": hit.page.title,
                    "url": hit.page.get_absolute_url(),
                    "summary": hit.page.summary,
                }
                for hit in hits
            ],
        }
    )
