from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from portal.apikit.tests.client import ApiClient
from portal.apikit.tests.world import World, build_world
from portal.billing.tests.factories import make_invoice

pytestmark = pytest.mark.django_db


@pytest.fixture
def world() -> World:
    return build_world()


def test_billing_lists_and_gets_its_customers_invoices(world: World) -> None:
    api = ApiClient(world.billing_token)
    body = api.get("invoices").json()
    (invoice,) = body["results"]
    assert invoice["number"] == world.invoice_number and invoice["status"] == "open"
    assert invoice["total_minor"] == 100_00 and invoice["amount_due_minor"] == 100_00
    detail = api.get(f"invoices/{world.invoice_number}").json()
    assert detail["lines"][0]["description"] == "Consulting"
    assert api.get("invoices", status="paid").json()["count"] == 0
    assert api.get(f"invoices/{world.foreign_invoice_number}").status_code == 404


def test_a_role_that_may_not_see_invoices_gets_403(world: World) -> None:
    assert ApiClient(world.read_token).get("invoices").status_code == 403
    assert ApiClient(world.read_token).get(f"invoices/{world.invoice_number}").status_code == 404


def test_listing_invoices_costs_the_same_queries_for_one_or_many(world: World) -> None:
    api = ApiClient(world.billing_token)
    api.get("invoices")
    with CaptureQueriesContext(connection) as one:
        api.get("invoices")
    for _ in range(5):
        make_invoice(world.acme)
    api.get("invoices")  # the new rows moved the cached memberships on: read them again
    with CaptureQueriesContext(connection) as many:
        assert api.get("invoices").json()["count"] == 6
    assert len(many) == len(one) <= 7, [q["sql"] for q in many]


def test_starting_a_payment_returns_what_the_providers_card_form_needs(
    world: World, stripe_test: Any
) -> None:
    from tests.localstripe import PUBLISHABLE_KEY

    api = ApiClient(world.billing_token)
    response = api.post(f"invoices/{world.invoice_number}/payments")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["amount_minor"] == 100_00 and body["currency"] == "EUR"
    assert body["client_secret"] and body["publishable_key"] == PUBLISHABLE_KEY
    again = api.post(f"invoices/{world.invoice_number}/payments").json()
    assert again["payment_id"] == body["payment_id"]  # the unfinished payment is reused


def test_paying_needs_write_access_and_the_pay_permission(world: World) -> None:
    from portal.customers.models import Membership

    read_only = ApiClient(world.read_token)
    assert read_only.post(f"invoices/{world.invoice_number}/payments").status_code in {403, 404}
    Membership.objects.filter(user=world.member, customer=world.acme).update(role="admin")
    response = ApiClient(world.write_token).post(f"invoices/{world.invoice_number}/payments")
    assert response.status_code == 503  # no provider configured in this test
    assert response["Content-Type"] == "application/problem+json"


def test_a_paid_or_void_invoice_cannot_be_paid(world: World, stripe_test: Any) -> None:
    from portal.billing.models import Invoice

    Invoice.objects.filter(number=world.invoice_number).update(status="void")
    response = ApiClient(world.billing_token).post(f"invoices/{world.invoice_number}/payments")
    assert response.status_code in {404, 409}
