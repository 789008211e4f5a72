"""Static files are named by their content and cached for good; pages are never cached."""

from __future__ import annotations

import re

import pytest
from django.test import Client

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
