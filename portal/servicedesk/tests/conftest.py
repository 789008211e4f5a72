from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from allauth.mfa.models import Authenticator
from django.utils import translation

from portal.accounts.models import User
from portal.core.tests.factories import UserFactory
from portal.customers.models import Customer
from portal.customers.roles import Role
from portal.customers.tests.factories import make_customer, make_member
from portal.servicedesk.models import RequestType, ServiceRequest

from .factories import make_request, make_request_type, make_staff


@pytest.fixture(autouse=True)
def _media_in_tmp(settings: Any, tmp_path: Path) -> None:
    """Uploaded files go to a fresh folder per test."""
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    """Messages are asserted in English, whatever language an earlier test left active."""
    with translation.override("en"):
        yield


@dataclass
class World:
    acme: Customer
    globex: Customer
    admin: User
    member: User
    billing: User
    other_admin: User
    outsider: User
    staff: User
    request_type: RequestType
    acme_request: ServiceRequest
    globex_request: ServiceRequest


@pytest.fixture
def world(db: None) -> World:
    acme = make_customer("Acme Ltd")
    globex = make_customer("Globex")
    admin = make_member(acme, Role.ADMIN)
    member = make_member(acme, Role.MEMBER)
    billing = make_member(acme, Role.BILLING)
    other_admin = make_member(globex, Role.ADMIN)
    staff = make_staff(first_name="Sam", last_name="Staff", is_superuser=True)
    Authenticator.objects.create(user=staff, type=Authenticator.Type.TOTP, data={"secret": "x"})
    request_type = make_request_type()
    return World(
        acme=acme,
        globex=globex,
        admin=admin,
        member=member,
        billing=billing,
        other_admin=other_admin,
        outsider=UserFactory(),
        staff=staff,
        request_type=request_type,
        acme_request=make_request(customer=acme, submitted_by=member, request_type=request_type),
        globex_request=make_request(
            customer=globex,
            submitted_by=other_admin,
            request_type=request_type,
            title="Globex secret project",
        ),
    )
