"""Customer pages: who may open what, submission, conversation, and query counts.

Every route of the app must appear in ACCESS: a new URL cannot skip the matrix.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import get_resolver

from portal.customers.access import SESSION_KEY as ACTIVE_CUSTOMER_KEY
from portal.customers.models import Membership
from portal.customers.roles import Role
from portal.documents.tests import samples
from portal.servicedesk import services
from portal.servicedesk.models import (
    Attachment,
    FieldDefinition,
    FieldKind,
    RequestDraft,
    ServiceRequest,
)
from portal.servicedesk.workflow import Status

from .conftest import World
from .factories import make_request

pytestmark = pytest.mark.django_db


def _attachment(world: World) -> Attachment:
    comment = services.service_request_comment_add(
        service_request=world.acme_request,
        author=world.member,
        body="see the photo",
        uploads=[SimpleUploadedFile("photo.jpg", samples.JPEG, "image/jpeg")],
    )
    return comment.attachments.get()


LIST_LIKE = {
    "anonymous": "login",
    "outsider": 404,  # belongs to no customer
    "staff": 404,  # staff work in the back office
    "other_admin": 200,  # their own customer's page
    "billing": 403,
    "member": 200,
    "admin": 200,
}
ONE_REQUEST = {
    "anonymous": "login",
    "outsider": 404,
    "staff": 404,
    "other_admin": 404,  # another customer's request is not found, on every URL
    "billing": 404,  # may not see requests: reported like a missing one
    "member": 200,
    "admin": 200,
}
ONE_REQUEST_POST = {**ONE_REQUEST, "member": 302, "admin": 302}

Route = tuple[str, Callable[[World], str], dict[str, Any]]
ACCESS: dict[str, Route] = {
    "list": ("get", lambda w: "/requests/", LIST_LIKE),
    "catalog": ("get", lambda w: "/requests/new/", LIST_LIKE),
    "submit": ("get", lambda w: f"/requests/new/{w.request_type.slug}/", LIST_LIKE),
    "draft_discard": (
        "post",
        lambda w: f"/requests/new/{w.request_type.slug}/discard-draft/",
        {**LIST_LIKE, "other_admin": 302, "member": 302, "admin": 302},
    ),
    "detail": ("get", lambda w: f"/requests/{w.acme_request.reference}/", ONE_REQUEST),
    "submitted": ("get", lambda w: f"/requests/{w.acme_request.reference}/submitted/", ONE_REQUEST),
    "transition": (
        "post",
        lambda w: f"/requests/{w.acme_request.reference}/status/",
        ONE_REQUEST_POST,
    ),
    "rate": ("post", lambda w: f"/requests/{w.acme_request.reference}/rating/", ONE_REQUEST_POST),
    # A file the customer may see is a document: the route hands over to its
    # download, which checks access again (tests in portal/documents).
    "attachment": (
        "get",
        lambda w: f"/requests/{w.acme_request.reference}/files/{_attachment(w).pk}/",
        {**ONE_REQUEST, "member": 302, "admin": 302},
    ),
}
ACTORS = sorted(LIST_LIKE)


def test_every_servicedesk_route_has_an_access_rule() -> None:
    names = {
        name
        for name in get_resolver().namespace_dict["servicedesk"][1].reverse_dict
        if isinstance(name, str)
    }
    assert names == set(ACCESS)


@pytest.mark.parametrize("route", sorted(ACCESS))
@pytest.mark.parametrize("actor", ACTORS)
def test_access_matrix(client: Client, world: World, route: str, actor: str) -> None:
    method, build, expected_by_actor = ACCESS[route]
    path = build(world)
    if actor != "anonymous":
        client.force_login(getattr(world, actor))
    response = getattr(client, method)(path, {"to_status": "cancelled", "rating": "5"})
    expected = expected_by_actor[actor]
    if response.streaming:
        b"".join(response.streaming_content)  # read to the end: the client then closes the file
    if expected == "login":
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=")
    else:
        assert response.status_code == expected, response.content[:300]
    if response.status_code == 200 and response.get("Content-Type", "").startswith("text/html"):
        page = response.content.decode()
        assert "Globex secret project" not in page or actor == "other_admin"
        if actor == "other_admin":
            assert world.acme_request.reference not in page
    # Nobody but Acme's requesters changed anything.
    world.acme_request.refresh_from_db()
    if actor not in {"member", "admin"}:
        assert world.acme_request.status == Status.SUBMITTED
        assert world.acme_request.rating is None


def test_another_customers_request_cannot_be_changed(client: Client, world: World) -> None:
    client.force_login(world.admin)
    ref = world.globex_request.reference
    assert client.post(f"/requests/{ref}/", {"body": "hi"}).status_code == 404
    assert client.post(f"/requests/{ref}/status/", {"to_status": "cancelled"}).status_code == 404
    world.globex_request.refresh_from_db()
    assert world.globex_request.status == Status.SUBMITTED
    assert not world.globex_request.comments.exists()


def _detail(client: Client, reference: str) -> tuple[int, list[str]]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(f"/requests/{reference}/")
    return response.status_code, [q["sql"] for q in captured.captured_queries]


def _reads_requests(queries: list[str]) -> bool:
    return any('FROM "servicedesk_servicerequest"' in sql for sql in queries)


def test_a_kept_detail_page_is_answered_without_reading_the_request(
    client: Client, world: World
) -> None:
    client.force_login(world.member)
    reference = world.acme_request.reference
    status, queries = _detail(client, reference)
    assert status == 200 and _reads_requests(queries)
    status, queries = _detail(client, reference)
    assert status == 200 and not _reads_requests(queries)
    # A change of the request is shown at once: its customer's version moved on.
    services.service_request_comment_add(
        service_request=world.acme_request, author=world.staff, body="Printed", as_staff=True
    )
    response = client.get(f"/requests/{reference}/")
    assert "Printed" in response.content.decode()


@pytest.mark.parametrize("change", ["removed", "billing role"])
def test_a_kept_detail_page_is_not_shown_once_the_user_may_not_see_it(
    client: Client, world: World, change: str
) -> None:
    client.force_login(world.member)
    reference = world.acme_request.reference
    assert _detail(client, reference)[0] == 200
    assert _detail(client, reference)[0] == 200  # from the kept page
    membership = Membership.objects.get(user=world.member, customer=world.acme)
    if change == "removed":
        membership.delete()
    else:
        membership.role = Role.BILLING
        membership.save()
    status, queries = _detail(client, reference)
    assert status == 404 and _reads_requests(queries)


def test_a_kept_detail_page_of_another_of_the_users_customers_switches_to_it(
    client: Client, world: World
) -> None:
    Membership.objects.create(user=world.member, customer=world.globex, role=Role.MEMBER)
    client.force_login(world.member)
    acme, globex = world.acme_request.reference, world.globex_request.reference
    assert _detail(client, acme)[0] == 200
    assert _detail(client, acme)[0] == 200  # kept for the member acting for Acme
    status, queries = _detail(client, globex)
    assert status == 200 and _reads_requests(queries)
    assert client.session[ACTIVE_CUSTOMER_KEY] == world.globex.pk
    # Acting for Globex now: Acme's page is read again, and Acme becomes the active one.
    status, queries = _detail(client, acme)
    assert status == 200 and _reads_requests(queries)
    assert client.session[ACTIVE_CUSTOMER_KEY] == world.acme.pk


def test_the_navigation_shows_requests_to_roles_that_may_see_them(
    client: Client, world: World
) -> None:
    client.force_login(world.member)
    assert 'href="/requests/"' in client.get("/dashboard/").content.decode()
    client.force_login(world.billing)
    page = client.get("/dashboard/").content.decode()
    assert 'href="/requests/"' not in page
    assert "card-service-requests" not in page


def test_the_dashboard_card_counts_and_follows_live_events(client: Client, world: World) -> None:
    make_request(customer=world.acme, submitted_by=world.admin, status=Status.WAITING_FOR_CUSTOMER)
    client.force_login(world.member)
    page = client.get("/dashboard/").content.decode()
    assert 'id="card-service-requests" data-live-topics="service_request:*"' in page
    assert "2 open requests" in page
    assert "1 waiting for your answer" in page
    assert 'href="/requests/?status=waiting_for_customer"' in page


def test_submitting_with_mistakes_keeps_everything_typed(client: Client, world: World) -> None:
    rt = world.request_type
    FieldDefinition.objects.create(
        request_type=rt,
        position=3,
        name="floor",
        label="Floor",
        kind=FieldKind.CHOICE,
        choices="Ground\nFirst",
        required=True,
    )
    FieldDefinition.objects.create(
        request_type=rt, position=4, name="needed_by", label="Needed by", kind=FieldKind.DATE
    )
    FieldDefinition.objects.create(
        request_type=rt,
        position=5,
        name="urgent",
        label="Urgent",
        kind=FieldKind.YES_NO,
        required=True,
    )
    client.force_login(world.member)
    url = f"/requests/new/{rt.slug}/"
    response = client.post(
        url,
        {
            "title": "Card for the new starter",
            "details": "",
            "cards": "two",
            "floor": "Roof",
            "needed_by": "31/12/2026",
        },
    )
    assert response.status_code == 200
    page = response.content.decode()
    for message in (
        "Fill in “Details”.",
        "Enter a number for “Number of cards”, for example 12 or 3.5.",
        "Choose one of the options offered for “Floor”.",
        "Enter a date for “Needed by” as year-month-day, for example 2026-03-31.",
        "Choose an answer for “Urgent”.",
        "Please correct 5 answers:",
    ):
        assert message in page, message
    assert 'value="Card for the new starter"' in page  # nothing typed is lost
    assert 'value="two"' in page
    draft = RequestDraft.objects.get(user=world.member, request_type=rt)
    assert draft.data["title"] == "Card for the new starter"

    # Coming back later: the draft is restored.
    page = client.get(url).content.decode()
    assert "We restored the draft" in page
    assert 'value="Card for the new starter"' in page
    assert not ServiceRequest.objects.filter(title="Card for the new starter").exists()


def test_saving_a_draft_and_discarding_it(client: Client, world: World) -> None:
    client.force_login(world.member)
    url = f"/requests/new/{world.request_type.slug}/"
    response = client.post(url, {"title": "Half done", "save_draft": "1"})
    assert response.status_code == 302
    assert RequestDraft.objects.get(user=world.member).data == {"title": "Half done"}
    client.post(f"{url}discard-draft/")
    assert not RequestDraft.objects.filter(user=world.member).exists()


def test_submit_with_a_file_see_confirmation_and_download_it(
    client: Client, world: World, django_capture_on_commit_callbacks: Any
) -> None:
    rt = world.request_type
    FieldDefinition.objects.create(
        request_type=rt, position=9, name="photo", label="Photo", kind=FieldKind.FILE
    )
    client.force_login(world.member)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/requests/new/{rt.slug}/",
            {
                "title": "Broken card",
                "details": "Cracked",
                "cards": "1",
                "photo": SimpleUploadedFile("card.png", samples.PNG, "image/png"),
            },
        )
    assert response.status_code == 302
    sr = ServiceRequest.objects.get(title="Broken card")
    assert response["Location"] == f"/requests/{sr.reference}/submitted/"
    page = client.get(response["Location"]).content.decode()
    assert sr.reference in page and world.member.email in page
    assert [m.to for m in mail.outbox] == [[world.member.email]]

    detail = client.get(f"/requests/{sr.reference}/").content.decode()
    attachment = Attachment.objects.get(service_request=sr)
    assert f"/requests/{sr.reference}/files/{attachment.pk}/" in detail
    download = client.get(f"/requests/{sr.reference}/files/{attachment.pk}/", follow=True)
    assert download.status_code == 200
    assert download["Content-Disposition"].startswith("attachment;")
    assert download["X-Content-Type-Options"] == "nosniff"
    assert b"".join(download.streaming_content) == samples.PNG  # type: ignore[attr-defined]


def test_an_oversized_file_is_explained(client: Client, world: World, settings: Any) -> None:
    settings.PORTAL_REQUEST_ATTACHMENT_MAX_MB = 1
    client.force_login(world.member)
    response = client.post(
        f"/requests/{world.acme_request.reference}/",
        {"body": "here", "attachment": SimpleUploadedFile("big.bin", b"0" * (1024 * 1024 + 10))},
    )
    assert response.status_code == 200
    assert "big.bin is 1.0 MB; a file may be at most 1 MB." in response.content.decode()
    assert not world.acme_request.comments.exists()


def test_detail_marks_live_regions_and_hides_internal_notes(client: Client, world: World) -> None:
    sr = world.acme_request
    services.service_request_transition(
        service_request=sr, to_status=Status.IN_PROGRESS, actor=world.staff, as_staff=True
    )
    services.service_request_comment_add(
        service_request=sr, author=world.staff, body="Card is printed", as_staff=True
    )
    services.service_request_comment_add(
        service_request=sr, author=world.staff, body="VIP - be nice", as_staff=True, internal=True
    )
    client.force_login(world.member)
    page = client.get(f"/requests/{sr.reference}/").content.decode()
    topic = f'data-live-topics="service_request:{sr.reference}"'
    for region in ("sr-status", "sr-timeline", "sr-conversation"):
        assert f'id="{region}"' in page
    assert page.count(topic) >= 3
    assert "Card is printed" in page and "In progress" in page
    assert "VIP" not in page
    assert "Sam Staff" in page and world.staff.email not in page  # staff by name, never e-mail
    rows = client.get("/requests/").content.decode()
    assert 'id="sr-rows" data-live-topics="service_request:*"' in rows


def test_customer_cancels_and_a_refused_change_is_explained(client: Client, world: World) -> None:
    client.force_login(world.member)
    ref = world.acme_request.reference
    response = client.post(f"/requests/{ref}/status/", {"to_status": "closed"}, follow=True)
    assert "cannot be set to “Closed”" in response.content.decode()
    response = client.post(f"/requests/{ref}/status/", {"to_status": "cancelled"}, follow=True)
    assert "The request is now Cancelled." in response.content.decode()
    world.acme_request.refresh_from_db()
    assert world.acme_request.status == Status.CANCELLED


def test_reply_when_asked_confirm_and_rate(client: Client, world: World) -> None:
    sr = world.acme_request
    services.service_request_transition(
        service_request=sr,
        to_status=Status.WAITING_FOR_CUSTOMER,
        actor=world.staff,
        as_staff=True,
        note="Which colour?",
    )
    client.force_login(world.member)
    page = client.get(f"/requests/{sr.reference}/").content.decode()
    assert "Answer our question" in page and "Which colour?" in page
    assert client.post(f"/requests/{sr.reference}/", {"body": "Blue"}).status_code == 302
    sr.refresh_from_db()
    assert sr.status == Status.IN_REVIEW
    services.service_request_transition(
        service_request=sr, to_status=Status.RESOLVED, actor=world.staff, as_staff=True
    )
    page = client.get(f"/requests/{sr.reference}/").content.decode()
    assert "Confirm it is solved" in page and "Reopen" in page and "How did we do?" in page
    client.post(f"/requests/{sr.reference}/status/", {"to_status": "closed"})
    client.post(f"/requests/{sr.reference}/rating/", {"rating": "5", "comment": "Great"})
    sr.refresh_from_db()
    assert (sr.status, sr.rating, sr.rating_comment) == (Status.CLOSED, 5, "Great")


def test_list_empty_state_and_filters(client: Client, world: World) -> None:
    client.force_login(world.other_admin)
    ServiceRequest.objects.filter(customer=world.globex).delete()
    page = client.get("/requests/").content.decode()
    assert "No service requests yet" in page and "/requests/new/" in page
    client.force_login(world.member)
    page = client.get("/requests/?status=resolved").content.decode()
    assert "No requests match these filters." in page
    page = client.get("/requests/?q=access&status=open").content.decode()
    assert world.acme_request.reference in page
    assert client.get("/requests/?submitted_from=not-a-date").status_code == 200


def test_the_catalog_shows_expected_times_and_fees(client: Client, world: World) -> None:
    world.request_type.fee_amount = 2500
    world.request_type.fee_currency = "EUR"
    world.request_type.save()
    client.force_login(world.member)
    page = client.get("/requests/new/?q=card").content.decode()
    assert "Access card" in page and "within 8 hours" in page and "within 3 days" in page
    assert "25.00 EUR" in page
    assert "Nothing in the catalog matches" in client.get("/requests/new/?q=zzz").content.decode()


def _many_requests(world: World, count: int) -> None:
    for n in range(count):
        make_request(customer=world.acme, submitted_by=world.admin, title=f"Request {n}")


def test_the_list_does_not_query_per_row(
    client: Client, world: World, django_assert_max_num_queries: Any
) -> None:
    _many_requests(world, 25)
    client.force_login(world.member)
    client.get("/requests/")  # warm the session
    # User, memberships, type choices, count, page of rows, live start, unread count (7 today).
    with django_assert_max_num_queries(8):
        response = client.get("/requests/?status=open")
    assert len(response.context["page"].object_list) == 20


def test_the_detail_does_not_query_per_message(
    client: Client, world: World, django_assert_max_num_queries: Any
) -> None:
    sr = world.acme_request
    for n in range(12):
        services.service_request_comment_add(
            service_request=sr,
            author=world.staff if n % 2 else world.member,
            body=f"Message {n}",
            as_staff=bool(n % 2),
            uploads=[SimpleUploadedFile(f"f{n}.txt", b"x")],
        )
        services.service_request_transition(
            service_request=sr,
            to_status=Status.IN_PROGRESS if n % 2 == 0 else Status.IN_REVIEW,
            actor=world.staff,
            as_staff=True,
        )
    client.force_login(world.member)
    client.get(f"/requests/{sr.reference}/")
    # User, memberships, the request, timeline, messages, their files, the form's files,
    # live start, unread count (9 today): none of them per message.
    with django_assert_max_num_queries(10):
        response = client.get(f"/requests/{sr.reference}/")
    assert response.content.decode().count('class="message ') == 12


def test_the_summary_field_suggests_help_articles(client: Client, world: World) -> None:
    client.force_login(world.member)
    page = client.get(f"/requests/new/{world.request_type.slug}/").content.decode()
    assert 'data-help-suggest="/pages/suggest/"' in page
    assert 'id="title-help"' in page
