"""The staff queue and processing page in the back office: staff with MFA only, same services."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from portal.servicedesk.models import Comment, ServiceRequest, StatusChange
from portal.servicedesk.workflow import ActorKind, Status

from .conftest import World
from .factories import make_request, make_staff

pytestmark = pytest.mark.django_db

QUEUE = "/backoffice/servicedesk/servicerequest/"


def _page(world: World) -> str:
    return f"{QUEUE}{world.acme_request.pk}/change/"


@pytest.mark.parametrize("who", ["anonymous", "member", "admin"])
def test_customers_never_reach_the_back_office(client: Client, world: World, who: str) -> None:
    if who != "anonymous":
        client.force_login(getattr(world, who))
    for path in (QUEUE, _page(world)):
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"].split("?")[0].endswith("/login/")


def test_staff_without_a_second_factor_are_sent_to_set_one_up(client: Client, world: World) -> None:
    client.force_login(make_staff())
    response = client.get(QUEUE)
    assert response.status_code == 302 and response["Location"] == "/accounts/2fa/"


def test_the_queue_puts_the_next_deadline_first_and_flags_overdue(
    client: Client, world: World
) -> None:
    late = make_request(customer=world.globex, submitted_by=world.other_admin, title="Late one")
    ServiceRequest.objects.filter(pk=late.pk).update(due_at=timezone.now() - timedelta(hours=1))
    done = make_request(customer=world.acme, submitted_by=world.member, status=Status.CLOSED)
    client.force_login(world.staff)
    page = client.get(QUEUE).content.decode()
    assert page.index("Late one") < page.index(world.acme_request.reference)
    assert "Overdue" in page
    assert done.reference not in page  # the default queue holds open requests
    assert done.reference in client.get(f"{QUEUE}?queue=all").content.decode()
    assert "Late one" in client.get(f"{QUEUE}?queue=overdue").content.decode()
    assert world.acme_request.reference not in client.get(f"{QUEUE}?queue=overdue").content.decode()


def test_staff_process_a_request_through_the_services(client: Client, world: World) -> None:
    client.force_login(world.staff)
    url = _page(world)
    page = client.get(url).content.decode()
    assert world.acme_request.title in page and "Change status" in page

    response = client.post(url, {"action": "status", "to_status": "in_progress", "note": "Started"})
    assert response.status_code == 302
    response = client.post(
        url,
        {
            "action": "reply",
            "body": "Your card is being printed.",
            "attachment": SimpleUploadedFile("receipt.txt", b"receipt"),
        },
    )
    assert response.status_code == 302
    client.post(url, {"action": "note", "note_body": "Printer 2 is jammed, use printer 1."})
    client.post(url, {"action": "assign", "assignee": world.staff.pk})

    sr = ServiceRequest.objects.get(pk=world.acme_request.pk)
    assert sr.status == Status.IN_PROGRESS and sr.assigned_to == world.staff
    change = StatusChange.objects.filter(service_request=sr).last()
    assert change is not None
    assert (change.to_status, change.actor_kind, change.note) == (
        "in_progress",
        ActorKind.STAFF,
        "Started",
    )
    reply, note = Comment.objects.filter(service_request=sr).order_by("id")
    assert not reply.internal and reply.attachments.count() == 1
    assert note.internal

    page = client.get(url).content.decode()
    assert "Printer 2 is jammed" in page and "Internal note" in page
    file_url = f"{QUEUE}{sr.pk}/files/{reply.attachments.get().pk}/"
    assert file_url in page
    download = client.get(file_url, follow=True)  # to the documents back office
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == b"receipt"  # type: ignore[attr-defined]

    # The customer sees the reply, never the note.
    client.force_login(world.member)
    customer_page = client.get(f"/requests/{sr.reference}/").content.decode()
    assert "Your card is being printed." in customer_page
    assert "Printer 2" not in customer_page


def test_a_status_the_workflow_does_not_allow_is_refused(client: Client, world: World) -> None:
    client.force_login(world.staff)
    response = client.post(_page(world), {"action": "status", "to_status": "closed"})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    world.acme_request.refresh_from_db()
    assert world.acme_request.status == Status.SUBMITTED


def test_requests_cannot_be_added_or_deleted_in_the_back_office(
    client: Client, world: World
) -> None:
    client.force_login(world.staff)
    assert client.get(f"{QUEUE}add/").status_code == 403
    assert client.post(f"{QUEUE}{world.acme_request.pk}/delete/").status_code == 403


def test_the_catalog_is_managed_in_the_back_office(client: Client, world: World) -> None:
    client.force_login(world.staff)
    page = client.get(f"/backoffice/servicedesk/requesttype/{world.request_type.pk}/change/")
    assert page.status_code == 200
    assert "Number of cards" in page.content.decode()
