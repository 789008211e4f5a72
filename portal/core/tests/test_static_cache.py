"""Static files are named by their content and cached for good; pages are never cached."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import AnonymousUser
from django.http import HttpResponse
from django.test import Client, RequestFactory
from django.utils.cache import add_never_cache_headers

from portal.core.middleware import PrivatePageCacheMiddleware

from .factories import UserFactory

pytestmark = pytest.mark.django_db


def test_a_static_file_a_page_links_is_hashed_and_immutable() -> None:
    page = Client().get("/accounts/login/").content.decode()
    links = re.findall(r'(?:href|src)="(/static/[^"]+)"', page)
    assert links, "the sign-in page links no static file"
    for link in links:
        assert re.search(r"\.[0-9a-f]{12}\.\w+$", link), f"{link} has no content hash"
        response = Client().get(link)
        response.close()  # the file it streams
        assert response.status_code == 200, link
        cache = response.headers["Cache-Control"]
        assert "immutable" in cache and "max-age=315360000" in cache, (link, cache)


def test_a_signed_in_page_carries_djangos_never_cache_headers() -> None:
    client = Client()
    client.force_login(UserFactory())
    page = client.get("/dashboard/")
    expected = HttpResponse()
    add_never_cache_headers(expected)
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == expected.headers["Cache-Control"]
    assert page.headers["Expires"]


def test_a_page_that_sets_its_own_cache_control_keeps_it() -> None:
    request = RequestFactory().get("/")
    request.user = UserFactory()
    own = HttpResponse()
    own["Cache-Control"] = "private, no-store"
    answered = PrivatePageCacheMiddleware(lambda _: own)(request)
    assert answered["Cache-Control"] == "private, no-store"
    assert "Expires" not in answered


def test_a_page_for_a_visitor_gets_no_never_cache_header() -> None:
    request = RequestFactory().get("/help/")
    request.user = AnonymousUser()
    answered = PrivatePageCacheMiddleware(lambda _: HttpResponse())(request)
    assert "Cache-Control" not in answered
    assert "Expires" not in answered
