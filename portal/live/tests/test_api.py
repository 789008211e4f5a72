from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from portal.apikit.tests.client import ApiClient
from portal.apikit.tests.world import World, build_world
from portal.live.models import LiveEvent, Notification

pytestmark = pytest.mark.django_db


@pytest.fixture
def world() -> World:
    return build_world()


def _notify(world: World, n: int, **fields: object) -> list[Notification]:
    return [
        Notification.objects.create(
            user=world.member, customer=world.acme, kind="invoice", title=f"Invoice {i}", **fields
        )
        for i in range(n)
    ]


def test_list_newest_first_with_filters(world: World) -> None:
    older = world.mine
    newer = _notify(world, 1)[0]
    personal = Notification.objects.create(user=world.member, kind="customer", title="Personal")
    api = ApiClient(world.read_token)
    body = api.get("notifications").json()
    assert [n["id"] for n in body["results"]] == [personal.pk, newer.pk, older.pk]
    assert body["results"][0]["customer_id"] is None
    Notification.objects.filter(pk=newer.pk).update(title="Read one")
    api_writer = ApiClient(world.write_token)
    assert api_writer.post(f"notifications/{newer.pk}/read").json()["read_at"] is not None
    unread = api.get("notifications", unread="true").json()["results"]
    assert newer.pk not in [n["id"] for n in unread]
    read = api.get("notifications", unread="false").json()["results"]
    assert [n["id"] for n in read] == [newer.pk]


def test_pages_link_to_each_other(world: World) -> None:
    _notify(world, 5)
    api = ApiClient(world.read_token)
    page = api.get("notifications", page_size=2, unread="true").json()
    assert page["count"] == 6
    assert page["next"] == "http://testserver/api/v1/notifications?page_size=2&unread=true&page=2"
    second = api.client.get(page["next"]).json()
    assert second["previous"].endswith("page=1")
    assert len(second["results"]) == 2


def test_marking_one_read_is_idempotent_and_emits_the_unread_count(world: World) -> None:
    api = ApiClient(world.write_token)
    Notification.objects.filter(user=world.member).exclude(pk=world.mine.pk).delete()
    before = LiveEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    first = api.post(f"notifications/{world.mine.pk}/read").json()
    again = api.post(f"notifications/{world.mine.pk}/read").json()
    assert first["read_at"] == again["read_at"] is not None
    event = LiveEvent.objects.filter(kind="notifications.changed", pk__gt=before).get()
    assert event.data == {"unread": 0} and event.user_id == world.member.pk


def test_marking_all_read_touches_only_what_the_token_sees(world: World) -> None:
    from portal.customers.models import Membership

    Membership.objects.create(user=world.member, customer=world.other, role="member")
    elsewhere = Notification.objects.create(
        user=world.member, customer=world.other, kind="invoice", title="Other customer"
    )
    _notify(world, 2)
    assert ApiClient(world.write_token).post("notifications/read").json() == {"marked": 3}
    assert ApiClient(world.write_token).post("notifications/read").json() == {"marked": 0}
    elsewhere.refresh_from_db()
    assert elsewhere.read_at is None
    world.foreign.refresh_from_db()
    assert world.foreign.read_at is None


def test_listing_notifications_costs_the_same_queries_for_one_or_many(world: World) -> None:
    api = ApiClient(world.read_token)
    api.get("notifications")
    with CaptureQueriesContext(connection) as one:
        api.get("notifications")
    _notify(world, 30)
    api.get("notifications")  # the new rows moved the cached memberships on: read them again
    with CaptureQueriesContext(connection) as many:
        body = api.get("notifications").json()
    assert body["count"] == 31 and len(body["results"]) == 25
    assert len(many) == len(one) <= 6, [q["sql"] for q in many]
