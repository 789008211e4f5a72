from __future__ import annotations

import datetime as dt
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import Http404
from django.utils import timezone

from portal.accounts.services import account_export
from portal.servicedesk import selectors, services
from portal.servicedesk.models import Attachment, ServiceRequest
from portal.servicedesk.selectors import RequestFilters
from portal.servicedesk.workflow import Status

from .conftest import World
from .factories import make_request, make_request_type

pytestmark = pytest.mark.django_db


def test_a_request_is_found_only_by_those_who_may_see_it(world: World) -> None:
    ref = world.acme_request.reference
    for user in (world.member, world.admin):
        assert (
            selectors.service_request_get_for_user(user=user, reference=ref) == world.acme_request
        )
    for user in (world.billing, world.other_admin, world.outsider, world.staff):
        with pytest.raises(Http404) as missing:
            selectors.service_request_get_for_user(user=user, reference=ref)
        with pytest.raises(Http404) as unknown:
            selectors.service_request_get_for_user(user=user, reference="SR-1999-000001")
        assert str(missing.value) == str(unknown.value)  # existence is never confirmed


def test_list_filters_and_search(world: World) -> None:
    printer = make_request_type(name="Printer", slug="printer", category="IT")
    waiting = make_request(
        customer=world.acme,
        submitted_by=world.admin,
        request_type=printer,
        title="Toner empty",
        details="Third floor printer HP-4411",
        status=Status.WAITING_FOR_CUSTOMER,
    )
    closed = make_request(
        customer=world.acme, submitted_by=world.admin, title="Old one", status=Status.CLOSED
    )
    ServiceRequest.objects.filter(pk=closed.pk).update(
        created_at=timezone.now() - dt.timedelta(days=40)
    )

    def refs(**filters: object) -> set[str]:
        found = selectors.service_request_list(
            user=world.member,
            customer=world.acme,
            filters=RequestFilters(**filters),  # type: ignore[arg-type]
        )
        return {r.reference for r in found}

    everything = {world.acme_request.reference, waiting.reference, closed.reference}
    assert refs() == everything  # never Globex's
    assert refs(status="open") == {world.acme_request.reference, waiting.reference}
    assert refs(status="closed") == {closed.reference}
    assert refs(request_type="printer") == {waiting.reference}
    assert refs(search="hp-4411") == {waiting.reference}  # the answers are searched too
    assert refs(search=waiting.reference.lower()) == {waiting.reference}
    assert refs(search="toner floor") == {waiting.reference}
    assert refs(submitted_from=timezone.localdate() - dt.timedelta(days=1)) == everything - {
        closed.reference
    }
    assert refs(submitted_to=timezone.localdate() - dt.timedelta(days=30)) == {closed.reference}
    assert not selectors.service_request_list(user=world.billing, customer=world.acme).exists()
    assert not selectors.service_request_list(user=world.other_admin, customer=world.acme).exists()


def test_counts_for_the_dashboard(world: World) -> None:
    make_request(customer=world.acme, submitted_by=world.admin, status=Status.WAITING_FOR_CUSTOMER)
    make_request(customer=world.acme, submitted_by=world.admin, status=Status.RESOLVED)
    make_request(customer=world.acme, submitted_by=world.admin, status=Status.CANCELLED)
    counts = selectors.service_request_counts(user=world.member, customer=world.acme)
    assert counts == {"open": 2, "waiting": 1, "resolved": 1, "any": 1}
    assert selectors.service_request_counts(user=world.billing, customer=world.acme)["any"] == 0


def test_the_catalog_lists_offered_types_and_searches_them(world: World) -> None:
    make_request_type(name="Office move", slug="move", category="Facilities", active=False)
    make_request_type(
        name="VPN access", slug="vpn", category="IT", description="Remote access for laptops"
    )
    assert [t.slug for t in selectors.request_types_for_catalog()] == ["access-card", "vpn"]
    assert [t.slug for t in selectors.request_types_for_catalog(search="laptops")] == ["vpn"]
    assert [t.slug for t in selectors.request_types_for_catalog(search="facil card")] == [
        "access-card"
    ]
    with pytest.raises(Http404):
        selectors.request_type_get_for_submit(slug="move")


def test_customers_never_get_internal_notes_or_their_files(world: World) -> None:
    sr = world.acme_request
    services.service_request_comment_add(
        service_request=sr, author=world.staff, body="Visible reply", as_staff=True
    )
    note = services.service_request_comment_add(
        service_request=sr,
        author=world.staff,
        body="Internal: check credit",
        as_staff=True,
        internal=True,
        uploads=[SimpleUploadedFile("credit.txt", b"x")],
    )
    bodies = [c.body for c in selectors.conversation_for_customer(service_request=sr)]
    assert bodies == ["Visible reply"]
    staff_bodies = [c.body for c in selectors.conversation_for_staff(service_request=sr)]
    assert staff_bodies == ["Visible reply", "Internal: check credit"]
    note_file = Attachment.objects.get(comment=note)
    with pytest.raises(Http404):
        selectors.attachment_get_for_user(
            user=world.member, reference=sr.reference, attachment_id=note_file.pk
        )


def test_the_account_export_holds_own_requests_without_internal_notes(world: World) -> None:
    sr = world.acme_request
    services.service_request_comment_add(
        service_request=sr, author=world.staff, body="We are on it", as_staff=True
    )
    services.service_request_comment_add(
        service_request=sr, author=world.staff, body="TOP SECRET note", as_staff=True, internal=True
    )
    exported = account_export(user=world.member)
    text = json.dumps(exported)
    assert "TOP SECRET" not in text
    (entry,) = exported["service_requests"]
    assert entry["reference"] == sr.reference
    assert [c["message"] for c in entry["conversation"]] == ["We are on it"]
    assert entry["timeline"][0]["to"] == "submitted"
    # Only what they submitted: a colleague's export does not include it.
    assert account_export(user=world.admin)["service_requests"] == []
    assert sr.reference not in json.dumps(account_export(user=world.other_admin))
