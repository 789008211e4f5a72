"""Each main page costs the same number of queries whatever the amount of data behind it.

One customer's data is grown from a few rows to more than a page's worth; the
count of queries per page view must not change (no query per row, no query per
timeline entry). The figures for 10 and 100,000 requests come from ``make bench``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from portal.accounts.models import User
from portal.billing.models import Invoice, InvoiceStatus
from portal.customers.models import Customer
from portal.customers.roles import Role
from portal.customers.tests.factories import make_customer, make_member
from portal.documents.models import Category, Document, DocumentVersion, ScanStatus
from portal.servicedesk.models import Comment, ServiceRequest, StatusChange
from portal.servicedesk.tests.factories import make_request_type
from portal.servicedesk.workflow import ActorKind, Status
from portal.tokens.models import TokenScope
from portal.tokens.services import token_create

pytestmark = pytest.mark.django_db

SMALL, LARGE = 2, 30  # LARGE is more than one page of every list


def _requests(customer: Customer, user: User, count: int) -> None:
    request_type = make_request_type(slug=f"type-{customer.pk}-{count}")
    now = timezone.now()
    ServiceRequest.objects.bulk_create(
        [
            ServiceRequest(
                reference=f"SR-T-{customer.pk}-{count}-{n:04d}", customer=customer,
                request_type=request_type, submitted_by=user, title=f"Request {n}",
                status=[Status.SUBMITTED, Status.IN_PROGRESS, Status.CLOSED][n % 3],
                created_at=now - dt.timedelta(hours=n),
                first_response_due_at=now, resolution_due_at=now,
            )
            for n in range(count)
        ]
    )  # fmt: skip


def _timeline(service_request: ServiceRequest, user: User, count: int) -> None:
    StatusChange.objects.bulk_create(
        [
            StatusChange(service_request=service_request, actor=user,
                         actor_kind=ActorKind.CUSTOMER, from_status=Status.SUBMITTED,
                         to_status=Status.IN_REVIEW, note=f"Change {n}")
            for n in range(count)
        ]
    )  # fmt: skip
    Comment.objects.bulk_create(
        [
            Comment(service_request=service_request, author=user,
                    author_kind=ActorKind.CUSTOMER, body=f"Message {n}")
            for n in range(count)
        ]
    )  # fmt: skip


def _invoices(customer: Customer, count: int) -> None:
    today = timezone.localdate()
    Invoice.objects.bulk_create(
        [
            Invoice(number=f"INV-T-{customer.pk}-{n:04d}", customer=customer,
                    status=[InvoiceStatus.OPEN, InvoiceStatus.PAID][n % 2],
                    issue_date=today - dt.timedelta(days=n), due_date=today,
                    total_minor=1000 + n)
            for n in range(count)
        ]
    )  # fmt: skip


def _documents(customer: Customer, user: User, count: int) -> None:
    category = Category.objects.create(name=f"Cat {customer.pk}", slug=f"cat-{customer.pk}")
    for n in range(count):
        document = Document.objects.create(
            customer=customer, title=f"Document {n}", category=category, created_by=user
        )
        version = DocumentVersion.objects.create(
            document=document, number=1, storage_key=f"test/{customer.pk}/{n}", file_name="a.txt",
            size=10, content_type="text/plain", sha256="0" * 64, uploaded_by=user,
            scan_status=ScanStatus.CLEAN,
        )  # fmt: skip
        Document.objects.filter(pk=document.pk).update(current_version=version)


def _world(rows: int) -> tuple[Customer, User]:
    customer = make_customer(f"Customer with {rows}")
    admin = make_member(customer, Role.ADMIN)
    _requests(customer, admin, rows)
    first = ServiceRequest.objects.filter(customer=customer).order_by("reference").first()
    assert first is not None
    _timeline(first, admin, rows)
    _invoices(customer, rows)
    _documents(customer, admin, rows)
    return customer, admin


def _queries(client: Client, path: str, **headers: str) -> tuple[int, int]:
    """Queries of the first view (nothing cached yet) and of the one after it."""
    cache.clear()
    counts = []
    for _view in range(2):
        with CaptureQueriesContext(connection) as captured:
            response = client.get(path, headers=headers)
        assert response.status_code == 200, path
        counts.append(len(captured))
    return counts[0], counts[1]


def _first_reference(customer: Customer) -> str:
    return ServiceRequest.objects.filter(customer=customer).order_by("reference")[0].reference


PAGES: dict[str, Callable[[Customer], str]] = {
    "dashboard": lambda c: "/dashboard/",
    "request list": lambda c: "/requests/",
    "open requests": lambda c: "/requests/?status=open",
    "request detail": lambda c: f"/requests/{_first_reference(c)}/",
    "invoice list": lambda c: "/billing/invoices/",
    "document library": lambda c: "/documents/",
}


@pytest.mark.parametrize("page", PAGES)
def test_a_page_costs_the_same_queries_for_few_and_many_rows(page: str) -> None:
    counts = []
    for rows in (SMALL, LARGE):
        customer, admin = _world(rows)
        client = Client()
        client.force_login(admin)
        counts.append(_queries(client, PAGES[page](customer)))
    assert counts[0] == counts[1], (
        f"{page}: {counts[0]} queries with {SMALL} rows, {counts[1]} with {LARGE}"
    )


def test_the_request_list_shows_more_than_when_it_stops_counting(settings: Any) -> None:
    customer, admin = _world(SMALL)
    _requests(customer, admin, 30)
    client = Client()
    client.force_login(admin)
    from portal.core import paging

    original = paging.PAGES_AHEAD
    paging.PAGES_AHEAD = 0  # count only up to the page asked for
    try:
        page = client.get("/requests/").content.decode()
    finally:
        paging.PAGES_AHEAD = original
    assert "More than 20 requests" in page
    assert "Page 1 of more than 1" in page
    cache.clear()  # the data is the same; what changed is how far the list counts
    assert "32 requests" in client.get("/requests/").content.decode()


def test_the_api_list_costs_the_same_queries_for_few_and_many_rows() -> None:
    counts = []
    for rows in (SMALL, LARGE):
        customer, admin = _world(rows)
        _token, secret = token_create(
            user=admin, customer=customer, name="t", scope=TokenScope.READ, expires_in_days=30
        )
        headers = {"Authorization": f"Bearer {secret}"}
        counts.append(_queries(Client(), "/api/v1/service-requests", **headers))
    assert counts[0] == counts[1]


def test_a_content_page_costs_the_same_queries_for_few_and_many_pages(
    settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from portal.content import services
    from portal.content.tests.factories import write_page

    # Look at the files on every request (as portal/content/tests do), so each
    # directory below is read before its page is counted.
    settings.PORTAL_CONTENT_CHECK_INTERVAL = 0
    monkeypatch.setattr(services, "_next_check", 0.0)
    counts = []
    for pages in (SMALL, LARGE):
        directory = tmp_path / f"content-{pages}"
        directory.mkdir()
        settings.PORTAL_CONTENT_DIR = directory
        for n in range(pages):
            write_page(
                directory, f"page-{n}",
                relationships=[{"type": "association", "target": f"page-{m}"}
                               for m in range(pages) if m != n][:pages],
            )  # fmt: skip
        customer, admin = _world(SMALL)
        client = Client()
        client.force_login(admin)
        # The first view reads the changed files in (a sync, as after a deploy).
        counts.append(_queries(client, "/pages/page-0/")[1])
    assert counts[0] == counts[1]
