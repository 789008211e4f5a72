from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from portal.apikit.tests.client import ApiClient
from portal.apikit.tests.world import World, build_world
from portal.core.models import AuditAction, AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def world() -> World:
    return build_world()


def test_me_shows_the_profile_and_the_token_used(world: World) -> None:
    body = ApiClient(world.read_token).get("me").json()
    assert body["email"] == world.member.email
    assert body["preferred_language"] == "en"
    assert body["memberships"] == [
        {
            "customer": {
                "id": world.acme.pk,
                "number": world.acme.number,
                "name": "Acme Ltd",
                "kind": "organisation",
            },
            "role": "member",
            "permissions": [
                "documents.upload",
                "documents.view",
                "requests.submit",
                "requests.view",
            ],
        }
    ]
    token = body["authentication"]["token"]
    assert token["customer_id"] == world.acme.pk and token["name"] == "Integration"
    assert body["authentication"]["scopes"] == ["read"]


def test_changing_the_profile_is_audited_like_the_page(world: World) -> None:
    response = ApiClient(world.write_token).patch(
        "me", {"first_name": "Ada", "city": "  London ", "preferred_language": "de"}
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["first_name"], body["city"], body["preferred_language"]) == ("Ada", "London", "de")
    world.member.refresh_from_db()
    assert world.member.first_name == "Ada" and world.member.last_name  # untouched
    event = AuditEvent.objects.get(action=AuditAction.PROFILE_UPDATED)
    assert sorted(event.data["fields"]) == ["city", "first_name", "preferred_language"]


def test_null_or_absent_fields_stay_as_they_are(world: World) -> None:
    before = world.member.last_name
    response = ApiClient(world.write_token).patch("me", {"last_name": None})
    assert response.status_code == 200
    world.member.refresh_from_db()
    assert world.member.last_name == before
    assert not AuditEvent.objects.filter(action=AuditAction.PROFILE_UPDATED).exists()


def test_me_costs_a_fixed_number_of_queries(world: World) -> None:
    api = ApiClient(world.read_token)
    api.get("me")  # token use recorded once a minute: not counted below
    with CaptureQueriesContext(connection) as queries:
        assert api.get("me").status_code == 200
    assert len(queries) <= 4, [q["sql"] for q in queries]
