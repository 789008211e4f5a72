"""Lists and help pages cached whole (``cached_page``): served again until what they
show changes, and a search or filter is rendered for its own answer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from portal.accounts.models import User
from portal.billing import services as billing
from portal.billing.tests.factories import make_invoice
from portal.content import services as content
from portal.content.tests.factories import write_page
from portal.customers.models import Customer
from portal.customers.roles import Role
from portal.customers.tests.factories import make_customer, make_member
from portal.documents.models import Category, Document, DocumentVersion, ScanStatus
from portal.servicedesk.models import Comment
from portal.servicedesk.services import service_request_transition
from portal.servicedesk.tests.factories import make_request, make_staff
from portal.servicedesk.workflow import ActorKind, Status

from .. import fragments

pytestmark = pytest.mark.django_db


def _view(client: Client, path: str) -> tuple[str, int]:
    """The page's HTML and the queries its answer cost."""
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    assert response.status_code == 200, path
    return response.content.decode(), len(captured)


def _signed_in(customer: Customer, role: Role = Role.ADMIN) -> tuple[User, Client]:
    user = make_member(customer, role)
    client = Client()
    client.force_login(user)
    client.get("/dashboard/")  # the session's first answer writes more than the others
    return user, client


def _document(customer: Customer, user: User, category: Category) -> DocumentVersion:
    document = Document.objects.create(
        customer=customer, title="Signed contract", category=category, created_by=user
    )
    version = DocumentVersion.objects.create(
        document=document, number=1, storage_key=f"test/{document.pk}", file_name="a.pdf",
        size=10, content_type="application/pdf", sha256="0" * 64, uploaded_by=user,
        scan_status=ScanStatus.PENDING,
    )  # fmt: skip
    document.current_version = version
    document.save(update_fields=["current_version"])
    return version


def test_the_request_list_is_served_again_until_one_of_its_requests_changes() -> None:
    acme, other = make_customer("Acme"), make_customer("Other")
    admin, client = _signed_in(acme)
    service_request = make_request(customer=acme, submitted_by=admin)
    page, rendered = _view(client, "/requests/")
    assert service_request.reference in page and "Submitted" in page
    again, cached = _view(client, "/requests/")
    assert cached == 0 < rendered  # the whole answer from the cache
    assert again.count(service_request.reference) == page.count(service_request.reference)

    # Another customer's request is not on this list and keeps it cached.
    make_request(customer=other, submitted_by=make_member(other, Role.ADMIN))
    assert _view(client, "/requests/")[1] == 0

    service_request.status = Status.IN_PROGRESS
    service_request.save(update_fields=["status"])
    page, queries = _view(client, "/requests/")
    assert queries == rendered and "In progress" in page


def test_a_requests_page_shows_each_new_message_and_status_at_once() -> None:
    acme = make_customer()
    admin, client = _signed_in(acme)
    service_request = make_request(customer=acme, submitted_by=admin)
    path = f"/requests/{service_request.reference}/"
    rendered = _view(client, path)[1]
    assert _view(client, path)[1] < rendered  # only finding the request, then the cache

    # A message saved on its own, without touching the request's row.
    Comment.objects.create(
        service_request=service_request, author=make_staff(), author_kind=ActorKind.STAFF,
        body="We have ordered a new card.",
    )  # fmt: skip
    assert "We have ordered a new card." in _view(client, path)[0]

    service_request_transition(
        service_request=service_request, to_status=Status.WAITING_FOR_CUSTOMER,
        actor=make_staff(email="agent@example.com"), as_staff=True,
        note="Which building do you work in?",
    )  # fmt: skip
    assert "Which building do you work in?" in _view(client, path)[0]


def test_a_renamed_request_type_shows_on_every_cached_list() -> None:
    acme = make_customer()
    admin, client = _signed_in(acme)
    request_type = make_request(customer=acme, submitted_by=admin).request_type
    _view(client, "/requests/")
    request_type.name = "Badge renewal"
    request_type.save(update_fields=["name"])  # a site-wide row: no customer's version
    assert "Badge renewal" in _view(client, "/requests/")[0]


def test_a_filtered_or_searched_list_is_rendered_for_each_answer() -> None:
    acme = make_customer()
    admin, client = _signed_in(acme)
    make_request(customer=acme, submitted_by=admin)
    for path in ("/requests/?status=open", "/requests/?q=card", "/documents/?q=contract"):
        first = _view(client, path)[1]
        assert _view(client, path)[1] == first > 0, path
    # A page number alone is the list as it comes: cached.
    _view(client, "/requests/?page=1")
    assert _view(client, "/requests/?page=1")[1] == 0


def test_the_invoice_list_shows_a_payment_at_once() -> None:
    acme = make_customer()
    _billing_user, client = _signed_in(acme, Role.BILLING)
    invoice = make_invoice(acme)
    page, _ = _view(client, "/billing/invoices/")
    assert invoice.number and invoice.number in page and "to pay on" in page
    assert _view(client, "/billing/invoices/")[1] == 0
    billing.payment_record_manual(invoice=invoice, actor=None, notify=False)
    page, _ = _view(client, "/billing/invoices/")
    assert "Nothing to pay" in page


def test_the_document_library_shows_a_finished_scan_and_a_renamed_category() -> None:
    acme = make_customer()
    member, client = _signed_in(acme, Role.MEMBER)
    category = Category.objects.create(name="Signed papers", slug="signed-papers")
    version = _document(acme, member, category)
    page, _ = _view(client, "/documents/")
    assert "Checking" in page and "Signed papers" in page
    assert _view(client, "/documents/")[1] == 0

    # The version is the document's row, not the customer's: it moves the customer on.
    version.scan_status = ScanStatus.CLEAN
    version.save(update_fields=["scan_status"])
    page, _ = _view(client, "/documents/")
    assert "Clean" in page and "Checking" not in page

    category.name = "Countersigned papers"
    category.save(update_fields=["name"])
    assert "Countersigned papers" in _view(client, "/documents/")[0]


def test_a_document_versions_owners_are_its_documents() -> None:
    acme = make_customer()
    member = make_member(acme, Role.MEMBER)
    version = _document(
        acme, member, Category.objects.create(name="Test category", slug="test-category")
    )
    assert fragments.owners_of(version) == fragments.owners_of(version.document)
    assert fragments.owners_of(version)[0] == [acme.pk]


@pytest.fixture
def content_dir(tmp_path: Path, settings: Any, monkeypatch: pytest.MonkeyPatch) -> Path:
    settings.PORTAL_CONTENT_DIR = tmp_path
    settings.PORTAL_CONTENT_CHECK_INTERVAL = 0  # look at the files on every request
    monkeypatch.setattr(content, "_next_check", 0.0)
    return tmp_path


def test_a_help_page_is_cached_for_visitors_and_members_until_its_file_changes(
    content_dir: Path,
) -> None:
    write_page(content_dir, "opening-hours", body="We answer from 8 to 18.\n")
    visitor, other_visitor = Client(), Client()
    _member, member = _signed_in(make_customer())
    for client in (visitor, member):
        page, rendered = _view(client, "/pages/opening-hours/")
        assert "We answer from 8 to 18." in page
        assert _view(client, "/pages/opening-hours/")[1] < rendered
    # Visitors who are not signed in all see the same page.
    assert _view(other_visitor, "/pages/opening-hours/")[1] < rendered

    write_page(content_dir, "opening-hours", body="We answer from 7 to 19.\n")
    for client in (visitor, other_visitor, member):
        page, _ = _view(client, "/pages/opening-hours/")
        assert "We answer from 7 to 19." in page and "8 to 18" not in page


def test_a_staff_only_page_is_never_served_to_a_visitor_from_the_cache(
    content_dir: Path,
) -> None:
    write_page(content_dir, "draft-notes", status="draft", body="Not yet.\n")
    staff = User.objects.create_user(email="staff@example.com", password="x", is_staff=True)
    client = Client()
    client.force_login(staff)
    assert client.get("/pages/draft-notes/").status_code == 200
    assert Client().get("/pages/draft-notes/").status_code == 404
