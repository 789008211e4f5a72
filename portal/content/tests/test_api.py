from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from portal.apikit.tests.client import ApiClient
from portal.apikit.tests.world import (
    DRAFT_PAGE,
    MEMBERS_PAGE,
    PUBLIC_PAGE,
    World,
    build_world,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(content_dir: Path, settings: Any) -> World:
    return build_world(content_dir=content_dir)


def test_get_a_page_with_its_body_and_relationships(world: World) -> None:
    response = ApiClient(world.read_token).get(f"pages/{PUBLIC_PAGE}")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"] == PUBLIC_PAGE and body["title"] == "API basics"
    assert "Tokens and invoices explained." in body["html"]
    assert body["url"] == f"http://testserver/pages/{PUBLIC_PAGE}/"
    assert body["related"] == [
        {
            "type": "serves",
            "items": [{"id": MEMBERS_PAGE, "description": "x", "title": "Members handbook"}],
        }
    ]


def test_a_page_for_signed_in_people_is_there_and_a_draft_is_not(world: World) -> None:
    api = ApiClient(world.read_token)
    assert api.get(f"pages/{MEMBERS_PAGE}").status_code == 200
    assert api.get(f"pages/{DRAFT_PAGE}").status_code == 404
    assert api.get("pages/no-such-page").status_code == 404


def test_an_id_that_cannot_be_a_page_id_is_a_validation_error(world: World) -> None:
    response = ApiClient(world.read_token).get("pages/Not_An-ID!")
    assert response.status_code in {404, 422}
    assert response["Content-Type"] == "application/problem+json"


def test_search_finds_what_the_caller_may_see_best_first(world: World) -> None:
    api = ApiClient(world.read_token)
    body = api.get("pages/search", q="invoices").json()
    assert body["query"] == "invoices"
    found = [hit["page"]["id"] for hit in body["results"]]
    assert set(found) == {PUBLIC_PAGE, MEMBERS_PAGE}
    assert "<mark>" in body["results"][0]["snippet"]
    assert api.get("pages/search", q="Draft").json()["results"] == []
    assert len(api.get("pages/search", q="invoices", limit=1).json()["results"]) == 1


def test_search_needs_words(world: World) -> None:
    response = ApiClient(world.read_token).get("pages/search")
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "q"
    assert ApiClient(world.read_token).get("pages/search", q="!!!").json()["results"] == []
