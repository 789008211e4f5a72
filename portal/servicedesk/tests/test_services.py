from __future__ import annotations

import threading
from typing import Any

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from portal.accounts.models import NotificationKind, NotificationPreference
from portal.customers.roles import Role
from portal.customers.tests.factories import make_customer, make_member
from portal.documents.tests import samples
from portal.documents.tests.conftest import clamd, clamd_socket  # noqa: F401 - fixtures
from portal.live.audience import Viewer
from portal.live.models import LiveEvent, Notification
from portal.servicedesk import services
from portal.servicedesk.models import (
    Attachment,
    Comment,
    ReferenceCounter,
    RequestDraft,
    ServiceRequest,
    StatusChange,
)
from portal.servicedesk.workflow import Status

from .conftest import World
from .factories import make_request, make_request_type

pytestmark = pytest.mark.django_db


def test_submission_gives_a_reference_deadlines_a_timeline_entry_and_an_email(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    services.request_draft_save(
        user=world.member, customer=world.acme, request_type=world.request_type, data={"x": "y"}
    )
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        sr = services.service_request_submit(
            customer=world.acme,
            submitted_by=world.member,
            request_type=world.request_type,
            title="  New card  ",
            answers={"details": "Lost it", "cards": None},
            uploads=[
                services.Upload(
                    file=SimpleUploadedFile("photo.png", samples.PNG, "image/png"),
                    field_name="photo",
                )
            ],
        )
    year = sr.created_at.year
    assert sr.reference.startswith(f"SR-{year}-") and len(sr.reference) == len("SR-2026-000123")
    assert sr.title == "New card"
    assert sr.answers == [
        {"name": "details", "label": "Details", "kind": "long_text", "value": "Lost it"},
        {"name": "cards", "label": "Number of cards", "kind": "number", "value": None},
    ]
    assert sr.status == Status.SUBMITTED
    (entry,) = StatusChange.objects.filter(service_request=sr)
    assert (entry.from_status, entry.to_status, entry.actor_id) == (
        "",
        "submitted",
        world.member.pk,
    )
    (attachment,) = Attachment.objects.filter(service_request=sr)
    assert attachment.original_name == "photo.png" and attachment.field_name == "photo"
    assert "photo" not in attachment.file.name  # stored under a random key
    assert not RequestDraft.objects.filter(user=world.member).exists()
    (message,) = mail.outbox
    assert message.to == [world.member.email]
    assert sr.reference in message.subject and f"/requests/{sr.reference}/" in message.body
    event = LiveEvent.objects.filter(kind="service_request.submitted").last()
    assert event is not None and event.topic == f"service_request:{sr.reference}"
    assert event.customer_id == world.acme.pk and event.permission == "requests.view"
    assert event.staff and event.data["status"] == "submitted"


def test_references_count_up_per_year() -> None:
    first = services.reference_allocate(year=2031)
    second = services.reference_allocate(year=2031)
    other_year = services.reference_allocate(year=2032)
    assert (first, second, other_year) == ("SR-2031-000001", "SR-2031-000002", "SR-2032-000001")
    assert ReferenceCounter.objects.get(year=2031).last == 2


@pytest.mark.django_db(transaction=True)
def test_references_are_unique_under_concurrency() -> None:
    """Threads, each with its own connection and transaction, never get the same number."""
    from django.db import transaction

    results: list[str] = []
    errors: list[BaseException] = []

    def take() -> None:
        try:
            with transaction.atomic():
                results.append(services.reference_allocate(year=2040))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=take) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sorted(results) == [f"SR-2040-{n:06d}" for n in range(1, 9)]


def test_only_members_who_may_submit_can_submit(world: World) -> None:
    for user in (world.billing, world.other_admin, world.outsider, world.staff):
        with pytest.raises(PermissionDenied):
            services.service_request_submit(
                customer=world.acme,
                submitted_by=user,
                request_type=world.request_type,
                title="x",
                answers={},
            )


def test_an_inactive_type_cannot_be_requested(world: World) -> None:
    world.request_type.active = False
    world.request_type.save()
    with pytest.raises(ValidationError, match="no longer offered"):
        services.service_request_submit(
            customer=world.acme,
            submitted_by=world.member,
            request_type=world.request_type,
            title="x",
            answers={},
        )


def test_too_large_attachments_are_refused(world: World, settings: Any) -> None:
    settings.PORTAL_REQUEST_ATTACHMENT_MAX_MB = 1
    big = SimpleUploadedFile("big.bin", b"0" * (1024 * 1024 + 1))
    with pytest.raises(ValidationError, match="too large"):
        services.service_request_comment_add(
            service_request=world.acme_request, author=world.member, body="see file", uploads=[big]
        )
    assert not Attachment.objects.filter(service_request=world.acme_request).exists()


def test_status_changes_notify_members_who_may_see_requests(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    NotificationPreference.objects.create(
        user=world.admin, kind=NotificationKind.SERVICE_REQUEST, email=False, in_app=True
    )
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.service_request_transition(
            service_request=world.acme_request,
            to_status=Status.IN_PROGRESS,
            actor=world.staff,
            as_staff=True,
            note="On it",
        )
    notified = set(
        Notification.objects.filter(kind=NotificationKind.SERVICE_REQUEST).values_list(
            "user__email", flat=True
        )
    )
    assert notified == {world.member.email, world.admin.email}  # not billing, not Globex
    assert [m.to for m in mail.outbox] == [[world.member.email]]  # the admin opted out of e-mail
    assert "In progress" in mail.outbox[0].subject


def test_the_actor_is_not_notified_of_their_own_change(world: World) -> None:
    services.service_request_transition(
        service_request=world.acme_request, to_status=Status.CANCELLED, actor=world.member
    )
    emails = set(Notification.objects.values_list("user__email", flat=True))
    assert emails == {world.admin.email}


def test_internal_notes_reach_staff_only(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    secret = "Customer is on the watch list"
    mail.outbox.clear()
    before = LiveEvent.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        services.service_request_comment_add(
            service_request=world.acme_request,
            author=world.staff,
            body=secret,
            as_staff=True,
            internal=True,
            uploads=[SimpleUploadedFile("notes.txt", b"private")],
        )
    (event,) = LiveEvent.objects.all()[before:]
    assert (event.customer_id, event.user_id, event.staff) == (None, None, True)
    assert secret not in str(event.data)
    for user in (world.member, world.admin, world.billing):
        assert not Viewer.for_user(user).may_see(event)
        assert not LiveEvent.objects.filter(Viewer.for_user(user).as_q(), pk=event.pk).exists()
    assert Viewer.for_user(world.staff).may_see(event)
    assert not mail.outbox
    assert not Notification.objects.exists()


def test_a_staff_reply_notifies_and_is_visible_live(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.service_request_comment_add(
            service_request=world.acme_request,
            author=world.staff,
            body="We have ordered your card.",
            as_staff=True,
        )
    event = LiveEvent.objects.filter(kind="service_request.comment_added").last()
    assert event is not None and Viewer.for_user(world.member).may_see(event)
    assert not Viewer.for_user(world.billing).may_see(event)
    assert not Viewer.for_user(world.other_admin).may_see(event)
    assert {tuple(m.to) for m in mail.outbox} == {(world.member.email,), (world.admin.email,)}
    assert all("We have ordered your card." in m.body for m in mail.outbox)


def test_assignment_is_staff_only(world: World) -> None:
    with pytest.raises(PermissionDenied):
        services.service_request_assign(
            service_request=world.acme_request, assignee=world.staff, actor=world.admin
        )
    with pytest.raises(ValidationError):
        services.service_request_assign(
            service_request=world.acme_request, assignee=world.member, actor=world.staff
        )
    updated = services.service_request_assign(
        service_request=world.acme_request, assignee=world.staff, actor=world.staff
    )
    assert updated.assigned_to == world.staff
    event = LiveEvent.objects.filter(kind="service_request.assigned").last()
    assert event is not None and event.customer_id is None and event.staff


def test_rating_once_after_resolution(world: World) -> None:
    sr = world.acme_request
    with pytest.raises(ValidationError, match="once it has been resolved"):
        services.service_request_rate(service_request=sr, rating=5, comment="", actor=world.member)
    services.service_request_transition(
        service_request=sr, to_status=Status.RESOLVED, actor=world.staff, as_staff=True
    )
    with pytest.raises(ValidationError, match="1 to 5"):
        services.service_request_rate(service_request=sr, rating=6, comment="", actor=world.member)
    with pytest.raises(PermissionDenied):
        services.service_request_rate(service_request=sr, rating=4, comment="", actor=world.billing)
    rated = services.service_request_rate(
        service_request=sr, rating=4, comment=" Quick! ", actor=world.member
    )
    assert (rated.rating, rated.rating_comment) == (4, "Quick!")
    with pytest.raises(ValidationError, match="already been rated"):
        services.service_request_rate(service_request=sr, rating=1, comment="", actor=world.admin)


def test_drafts_are_per_person_customer_and_type(world: World) -> None:
    other_type = make_request_type(name="Other", slug="other")
    services.request_draft_save(
        user=world.member, customer=world.acme, request_type=world.request_type, data={"a": "1"}
    )
    services.request_draft_save(
        user=world.member, customer=world.acme, request_type=world.request_type, data={"a": "2"}
    )
    services.request_draft_save(
        user=world.member, customer=world.acme, request_type=other_type, data={"b": "3"}
    )
    assert RequestDraft.objects.filter(user=world.member).count() == 2
    assert RequestDraft.objects.get(request_type=world.request_type).data == {"a": "2"}
    services.request_draft_discard(user=world.member, customer=world.acme, request_type=other_type)
    assert RequestDraft.objects.filter(user=world.member).count() == 1


def test_a_member_of_two_customers_submits_for_the_right_one() -> None:
    acme = make_customer("Acme Ltd")
    globex = make_customer("Globex")
    user = make_member(acme, Role.MEMBER)
    make_member(globex, Role.BILLING, email="x@example.com")
    sr = make_request(customer=acme, submitted_by=user, request_type=make_request_type())
    assert ServiceRequest.objects.get(pk=sr.pk).customer == acme


def test_a_fee_bearing_request_is_invoiced_once_with_its_submission() -> None:
    from portal.billing.models import Invoice

    acme = make_customer("Acme Ltd")
    member = make_member(acme, Role.MEMBER)
    office_move = make_request_type(
        "Office move", slug="office-move", fee_amount=14900, fee_currency="EUR"
    )
    free = make_request_type()
    sr = make_request(customer=acme, submitted_by=member, request_type=office_move)
    make_request(customer=acme, submitted_by=member, request_type=free)
    invoice = Invoice.objects.get()
    assert invoice.customer == acme and invoice.status == "open"
    assert invoice.source_reference == f"servicedesk:{sr.reference}"
    assert invoice.currency == "EUR" and invoice.total_minor == 14900
    assert sr.reference in invoice.lines.get().description


def _internal_note(world: World, upload: SimpleUploadedFile) -> None:
    services.service_request_comment_add(
        service_request=world.acme_request,
        author=world.staff,
        body="see the file",
        as_staff=True,
        internal=True,
        uploads=[upload],
    )


def test_internal_note_files_are_type_checked_like_every_upload(world: World) -> None:
    with pytest.raises(ValidationError) as refused:
        _internal_note(world, SimpleUploadedFile("report.pdf", samples.EXE))  # spoofed name
    assert "cannot be uploaded" in str(refused.value)
    assert not Attachment.objects.exists()
    assert not Comment.objects.filter(body="see the file").exists()  # nothing half-written


@pytest.mark.usefixtures("clamd")  # a real clamd
def test_internal_note_files_are_scanned_and_a_virus_is_refused(world: World) -> None:
    from tests.clamd import eicar

    with pytest.raises(ValidationError) as refused:
        _internal_note(world, SimpleUploadedFile("notes.txt", eicar()))
    assert "virus scanner found" in str(refused.value)
    assert not Attachment.objects.exists()
    _internal_note(world, SimpleUploadedFile("notes.txt", samples.TEXT))
    assert Attachment.objects.get().content_type.startswith("text/plain")


def test_internal_note_files_wait_for_a_scanner_that_is_down(world: World, settings: Any) -> None:
    settings.PORTAL_SCANNER = {
        "BACKEND": "portal.documents.scanners.clamd.ClamdScanner",
        "OPTIONS": {"address": "/nonexistent/clamd.sock", "timeout": 2},
    }
    settings.PORTAL_SCAN_POLICY = "hold"
    with pytest.raises(ValidationError) as refused:
        _internal_note(world, SimpleUploadedFile("notes.txt", samples.TEXT))
    assert "could not be checked for viruses" in str(refused.value)
    assert not Attachment.objects.exists()
