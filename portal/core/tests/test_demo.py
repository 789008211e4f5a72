from __future__ import annotations

import pytest
from allauth.account.models import EmailAddress
from django.core.management import call_command
from django.test import Client

from portal.accounts.models import User
from portal.core.demo import DEFAULT_DEMO_PASSWORD, DEMO_USERS, demo_password, load_demo_data
from portal.customers.models import Customer, Membership
from portal.documents.models import Document, DocumentVersion
from portal.servicedesk.models import (
    Comment,
    FieldDefinition,
    RequestType,
    ServiceRequest,
    StatusChange,
)
from portal.servicedesk.workflow import Status

pytestmark = pytest.mark.django_db

EXPECTED = {
    "admin@acme.example",
    "member@acme.example",
    "billing@acme.example",
    "jane@example.org",
    "staff@portal.example",
}


def test_demo_data_holds_the_documented_users() -> None:
    load_demo_data(password="a-demo-password-1")
    assert set(User.objects.values_list("email", flat=True)) == EXPECTED
    assert {u.email for u in DEMO_USERS} == EXPECTED
    staff = User.objects.get(email="staff@portal.example")
    assert staff.is_staff
    assert not User.objects.get(email="member@acme.example").is_staff
    assert EmailAddress.objects.filter(verified=True, primary=True).count() == len(EXPECTED)


def test_demo_customers_and_roles() -> None:
    load_demo_data(password="a-demo-password-1")
    roles = {
        (m.user.email, m.customer.name, m.role)
        for m in Membership.objects.select_related("user", "customer")
    }
    assert roles == {
        ("admin@acme.example", "Acme Ltd", "admin"),
        ("member@acme.example", "Acme Ltd", "member"),
        ("billing@acme.example", "Acme Ltd", "billing"),
        ("jane@example.org", "Jane Doe", "admin"),
    }
    assert Customer.objects.get(name="Jane Doe").kind == "individual"
    assert not Membership.objects.filter(user__email="staff@portal.example").exists()


DEMO_MODELS = (
    User,
    Customer,
    Membership,
    RequestType,
    FieldDefinition,
    ServiceRequest,
    StatusChange,
    Comment,
    Document,
    DocumentVersion,
)


def test_loading_twice_changes_nothing() -> None:
    assert load_demo_data(password="a-demo-password-1") > 0
    before = [list(model.objects.order_by("pk").values()) for model in DEMO_MODELS]
    assert load_demo_data(password="a-demo-password-1") == 0
    after = [list(model.objects.order_by("pk").values()) for model in DEMO_MODELS]
    assert after == before


def test_demo_service_desk_is_lived_in() -> None:
    load_demo_data(password="a-demo-password-1")
    assert RequestType.objects.filter(active=True).count() >= 6
    assert RequestType.objects.filter(fee_amount__isnull=False).exists()
    assert not RequestType.objects.filter(fields__isnull=True).exists()
    for name in ("Acme Ltd", "Jane Doe"):
        requests = ServiceRequest.objects.filter(customer__name=name)
        assert set(requests.values_list("status", flat=True)) == set(Status.values), name
        assert Comment.objects.filter(service_request__customer__name=name).exists()
        assert all(r.status_changes.exists() for r in requests)
    assert Comment.objects.filter(internal=True).exists()
    assert ServiceRequest.objects.filter(rating__isnull=False).exists()
    # Staff did the staff work.
    staff_changes = StatusChange.objects.filter(actor_kind="staff")
    assert set(staff_changes.values_list("actor__email", flat=True)) == {"staff@portal.example"}


def test_demo_documents_for_acme_and_jane() -> None:
    load_demo_data(password="a-demo-password-1")
    titles = {(d.customer.name, d.title, d.source) for d in Document.objects.all()}
    assert ("Acme Ltd", "Framework contract 2026", "staff") in titles
    assert ("Acme Ltd", "Meter readings", "customer") in titles
    assert ("Jane Doe", "Proof of address", "customer") in titles
    assert ("Jane Doe", "Welcome letter", "staff") in titles
    assert DocumentVersion.objects.count() == len(titles)


def test_a_new_demo_password_is_applied_on_the_next_load() -> None:
    load_demo_data(password="first-demo-password")
    load_demo_data(password="second-demo-password")
    assert User.objects.get(email="jane@example.org").check_password("second-demo-password")


def test_demo_password_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PORTAL_DEMO_PASSWORD", raising=False)
    assert demo_password() == DEFAULT_DEMO_PASSWORD
    monkeypatch.setenv("PORTAL_DEMO_PASSWORD", "from-the-environment")
    assert demo_password() == "from-the-environment"


def test_a_demo_user_can_sign_in(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTAL_DEMO_PASSWORD", "sign-in-demo-password")
    call_command("load_demo")
    response = client.post(
        "/accounts/login/",
        {"login": "member@acme.example", "password": "sign-in-demo-password"},
    )
    assert response.status_code == 302
    assert client.get("/dashboard/").status_code == 200


def test_the_api_walkthrough_submits_a_request_against_the_demo_data() -> None:
    """docs/api.md step 6 is copied by people: its body must work on `make run`'s data."""
    import json
    import re
    from pathlib import Path

    from portal.apikit.tests.client import ApiClient
    from portal.tokens.models import TokenScope
    from portal.tokens.services import token_create

    load_demo_data(password="a-demo-password-1")
    doc = (Path(__file__).resolve().parents[3] / "docs" / "api.md").read_text()
    match = re.search(r"-d '(\{\"request_type\".*?\})' \\", doc, re.DOTALL)
    assert match, "docs/api.md no longer shows a request submission"
    member = User.objects.get(email="member@acme.example")
    customer = Membership.objects.filter(user=member).get().customer
    _, secret = token_create(
        user=member, customer=customer, name="walkthrough", scope=TokenScope.WRITE,
        expires_in_days=7,
    )  # fmt: skip
    response = ApiClient(secret).post("service-requests", json.loads(match.group(1)))
    assert response.status_code == 201, response.json()
    assert response.json()["reference"].startswith("SR-")
