from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from portal.apikit.tests.client import ApiClient
from portal.apikit.tests.world import World, build_world
from portal.customers.models import Membership
from portal.customers.roles import Role
from portal.customers.tests.factories import make_customer

pytestmark = pytest.mark.django_db


@pytest.fixture
def world() -> World:
    return build_world()


def test_a_token_lists_its_customer_with_the_role_and_permissions(world: World) -> None:
    body = ApiClient(world.billing_token).get("customers").json()
    assert body["count"] == 1 and body["next"] is None and body["previous"] is None
    (item,) = body["results"]
    assert item["customer"]["id"] == world.acme.pk
    assert item["role"] == "billing"
    assert item["permissions"] == ["invoices.pay", "invoices.view"]


def test_get_a_customer(world: World) -> None:
    api = ApiClient(world.admin_token)
    body = api.get(f"customers/{world.acme.pk}").json()
    assert body["customer"]["number"] == world.acme.number
    assert api.get(f"customers/{world.other.pk}").status_code == 404
    assert api.get("customers/987654").status_code == 404


def test_the_session_lists_every_customer_of_the_person_in_pages(world: World) -> None:
    for n in range(4):
        Membership.objects.create(
            user=world.member, customer=make_customer(f"C{n}"), role=Role.MEMBER
        )
    client = Client()
    client.force_login(world.member)
    api = ApiClient(client=client)
    first = api.get("customers", page_size=2).json()
    assert first["count"] == 5 and len(first["results"]) == 2
    assert first["previous"] is None
    assert first["next"] == "http://testserver/api/v1/customers?page_size=2&page=2"
    last = api.get("customers", page=3, page_size=2).json()
    assert len(last["results"]) == 1 and last["next"] is None
    assert "page=2" in last["previous"]
    assert api.get("customers", page=4, page_size=2).status_code == 404


def test_listing_customers_costs_the_same_queries_for_one_or_many(world: World) -> None:
    client = Client()
    client.force_login(world.member)
    api = ApiClient(client=client)
    api.get("customers")
    with CaptureQueriesContext(connection) as one:
        api.get("customers")
    for n in range(10):
        Membership.objects.create(
            user=world.member, customer=make_customer(f"C{n}"), role=Role.MEMBER
        )
    api.get("customers")  # the new rows moved the cached memberships on: read them again
    with CaptureQueriesContext(connection) as many:
        assert api.get("customers").json()["count"] == 11
    # The session itself costs a few (session, user, session tracking); the list costs none more.
    assert len(many) == len(one) <= 10, [q["sql"] for q in many]
