"""Mass assignment: fields a form or an API body does not offer change nothing.

Every customer form that writes is posted with its own fields plus the ones an
attacker would add (``status``, ``customer``, ``is_staff``, ``amount``, …); the
record that comes out is checked field by field. Every API operation that takes
a body is sent the same extras and refuses them by name (422), changing nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from portal.accounts.models import User
from portal.billing.models import Invoice, Payment
from portal.customers.models import Invitation, Membership
from portal.customers.roles import Role
from portal.documents.models import Document
from portal.servicedesk.models import Comment, ServiceRequest
from portal.servicedesk.workflow import Status
from portal.tokens.models import PersonalAccessToken

from .routes import api_routes
from .world import World, build_world

pytestmark = pytest.mark.django_db


def extras(world: World) -> dict[str, Any]:
    """What an attacker adds: another owner, a finished status, privileges, money."""
    other = world.other
    return {
        "status": Status.RESOLVED.value,
        "customer": world.globex.pk,
        "customer_id": world.globex.pk,
        "user": other.pk,
        "user_id": other.pk,
        "owner": other.pk,
        "author": other.pk,
        "submitted_by": other.pk,
        "uploaded_by": other.pk,
        "assigned_to": world.staff.pk,
        "is_staff": "true",
        "is_superuser": "true",
        "is_active": "false",
        "role": Role.ADMIN.value,
        "email": "attacker@evil.example",
        "amount": "1",
        "amount_minor": "1",
        "amount_due_minor": "0",
        "currency": "XXX",
        "reference": "SR-1999-000001",
        "internal": "true",
        "rating": "5",
        "scope": "write",
        "source": "staff",
        "scan_status": "clean",
        "token_hash": "0" * 64,
    }


@pytest.fixture
def world(db: None, tmp_path: Path, settings: Any) -> World:
    settings.PORTAL_CONTENT_DIR = tmp_path / "content"
    return build_world(settings.PORTAL_CONTENT_DIR)


def _as(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _unchanged_people(world: World) -> None:
    for user in (world.admin, world.member, world.billing, world.other):
        user.refresh_from_db()
        assert (user.is_staff, user.is_superuser, user.is_active) == (False, False, True)
        assert not user.email.startswith("attacker")
    roles = dict(Membership.objects.filter(customer=world.acme).values_list("user_id", "role"))
    assert roles == {
        world.admin.pk: Role.ADMIN,
        world.member.pk: Role.MEMBER,
        world.billing.pk: Role.BILLING,
    }
    assert not Membership.objects.filter(customer=world.globex).exclude(user=world.other).exists()


def _unchanged_money(world: World, before: list[tuple[Any, ...]]) -> None:
    assert _money(world) == before


def _money(world: World) -> list[tuple[Any, ...]]:
    invoices = Invoice.objects.order_by("pk").values_list(
        "pk", "customer_id", "status", "total_minor", "currency"
    )
    payments = Payment.objects.order_by("pk").values_list("pk", "invoice_id", "amount_minor")
    return [*invoices, *payments]


def test_the_profile_form_sets_profile_fields_only(world: World) -> None:
    response = _as(world.member).post(
        "/accounts/profile/",
        {**extras(world), "first_name": "Maxine", "last_name": "M", "preferred_language": "en"},
    )
    assert response.status_code == 302
    world.member.refresh_from_db()
    assert world.member.first_name == "Maxine"
    _unchanged_people(world)


def test_submitting_a_request_sets_only_what_the_form_asks(world: World) -> None:
    before = _money(world)
    response = _as(world.member).post(
        f"/requests/new/{world.request_type.slug}/",
        {**extras(world), "title": "New card", "details": "Lost it.", "cards": "1"},
    )
    assert response.status_code == 302
    created = ServiceRequest.objects.latest("pk")
    assert (created.customer_id, created.submitted_by_id) == (world.acme.pk, world.member.pk)
    assert created.status == Status.SUBMITTED
    assert created.assigned_to_id is None and created.rating is None
    assert created.reference != "SR-1999-000001"
    assert {a["name"] for a in created.answers} == {"details", "cards"}
    _unchanged_people(world)
    _unchanged_money(world, before)


def test_a_comment_is_the_authors_and_public(world: World) -> None:
    client = _as(world.member)
    reference = world.service_request.reference
    response = client.post(f"/requests/{reference}/", {**extras(world), "body": "Any news?"})
    assert response.status_code == 302
    comment = Comment.objects.latest("pk")
    assert (comment.author_id, comment.internal) == (world.member.pk, False)
    assert comment.service_request_id == world.service_request.pk
    world.service_request.refresh_from_db()
    assert world.service_request.status == Status.SUBMITTED
    assert world.service_request.rating is None


def test_a_rating_and_a_transition_change_only_what_they_name(world: World) -> None:
    client = _as(world.member)
    reference = world.service_request.reference
    client.post(f"/requests/{reference}/rating/", {**extras(world), "rating": "4"})
    world.service_request.refresh_from_db()
    assert world.service_request.rating is None  # an open request cannot be rated yet
    fields = {**extras(world), "to_status": Status.CANCELLED.value, "note": "No longer needed"}
    client.post(f"/requests/{reference}/status/", fields)
    world.service_request.refresh_from_db()
    assert world.service_request.status == Status.CANCELLED
    assert world.service_request.customer_id == world.acme.pk
    assert world.service_request.assigned_to_id is None


def test_documents_stay_with_their_customer(world: World) -> None:
    client = _as(world.member)
    response = client.post(
        "/documents/upload/",
        {**extras(world), "files": SimpleUploadedFile("plan.txt", b"A plan.\n")},
    )
    assert response.status_code == 302
    uploaded = Document.objects.latest("pk")
    assert uploaded.customer_id == world.acme.pk
    assert uploaded.title == "plan.txt"
    response = client.post(
        f"/documents/{world.document_id}/edit/", {**extras(world), "title": "Contract 2"}
    )
    assert response.status_code == 302
    edited = Document.objects.get(pk=world.document_id)
    assert (edited.title, edited.customer_id) == ("Contract 2", world.acme.pk)
    assert not edited.is_shared_by_staff
    assert not Document.objects.filter(customer=world.globex, title="plan.txt").exists()


def test_member_administration_changes_the_role_it_names_only(world: World) -> None:
    client = _as(world.admin)
    response = client.post(
        "/customer/members/",
        {**extras(world), "email": "new.colleague@example.com", "role": Role.BILLING.value},
    )
    assert response.status_code == 302
    invitation = Invitation.objects.get(email="new.colleague@example.com")
    assert (invitation.customer_id, invitation.role) == (world.acme.pk, Role.BILLING)
    assert invitation.invited_by_id == world.admin.pk
    fields = {**extras(world), "role": Role.MEMBER.value}
    response = client.post(f"/customer/members/{world.membership.pk}/role/", fields)
    assert response.status_code == 302
    world.membership.refresh_from_db()
    assert (world.membership.role, world.membership.customer_id) == (Role.MEMBER, world.acme.pk)
    assert world.membership.user_id == world.billing.pk
    world.billing.refresh_from_db()
    assert not world.billing.is_staff


def test_a_token_acts_for_its_owner_at_one_of_their_customers(world: World) -> None:
    client = _as(world.member)
    fields = {"name": "ERP", "scope": "read", "expires_in_days": "30"}
    response = client.post(
        "/accounts/tokens/", {**extras(world), **fields, "customer": world.acme.pk}
    )
    assert response.status_code == 201
    token = PersonalAccessToken.objects.get(name="ERP")
    assert (token.user_id, token.customer_id, token.scope) == (
        world.member.pk,
        world.acme.pk,
        "read",
    )
    # Another customer is not among the choices: refused, nothing made.
    response = client.post(
        "/accounts/tokens/", {**fields, "name": "ERP 2", "customer": world.globex.pk}
    )
    assert response.status_code == 200
    assert not PersonalAccessToken.objects.filter(name="ERP 2").exists()


def test_the_api_refuses_fields_it_does_not_define_and_changes_nothing(world: World) -> None:
    """Every operation with a body, from the OpenAPI document: extras are a 422 naming them."""
    from portal.api import api

    document = api.get_openapi_schema()
    client = Client(headers={"Authorization": f"Bearer {world.write_secret}"})
    before = _money(world)
    requests_before = list(ServiceRequest.objects.values_list("pk", "status", "customer_id"))
    documents_before = list(Document.objects.values_list("pk", "customer_id", "title"))
    bodies: dict[str, dict[str, Any]] = {
        "me_update": {"city": "Bern"},
        "service_request_submit": {
            "request_type": world.request_type.slug,
            "title": "Two cards",
            "answers": {"details": "For the new starters."},
        },
        "service_request_comment": {"body": "Any news?"},
    }
    forms = {"document_upload", "document_version_add"}
    values = {
        "document_id": str(world.document_id),
        "reference": world.service_request.reference,
        "invoice_number": str(world.invoice.number),
        "notification_id": str(world.notification.pk),
    }
    sent = 0
    for route in api_routes():
        operation_id = route.key.removeprefix("api:")
        operation = document["paths"][route.pattern][route.method.lower()]
        if route.method == "GET" or "requestBody" not in operation:
            continue
        path = route.path(values)
        attack = {k: v for k, v in extras(world).items() if k != "customer_id"}
        if operation_id in forms:
            upload = SimpleUploadedFile("note.txt", b"A note.\n")
            response = client.post(path, {**attack, "file": upload})
        else:
            assert operation_id in bodies, f"{route.key}: give a valid body in bodies"
            response = client.generic(
                route.method,
                path,
                json.dumps({**bodies[operation_id], **attack}),
                content_type="application/json",
            )
        assert response.status_code == 422, (route.key, response.content[:300])
        named = {error["field"] for error in response.json()["errors"]}
        assert {"status", "is_staff", "amount"} <= named, (route.key, named)
        sent += 1
    assert sent >= 5
    _unchanged_people(world)
    _unchanged_money(world, before)
    assert list(ServiceRequest.objects.values_list("pk", "status", "customer_id")) == (
        requests_before
    )
    assert list(Document.objects.values_list("pk", "customer_id", "title")) == documents_before
