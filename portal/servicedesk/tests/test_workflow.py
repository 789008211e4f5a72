"""The workflow refuses every transition not allowed to the actor and records each allowed one."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from portal.accounts.models import User
from portal.core.tests.factories import UserFactory
from portal.customers.roles import Role
from portal.customers.tests.factories import make_customer, make_member
from portal.servicedesk import services
from portal.servicedesk.models import ServiceRequest, StatusChange
from portal.servicedesk.workflow import REOPEN, ActorKind, Status, is_allowed

from .factories import make_request, make_request_type, make_staff

pytestmark = pytest.mark.django_db

# Who tries, and as which kind of actor the workflow should treat them (None: nobody).
ACTORS: dict[str, ActorKind | None] = {
    "staff": ActorKind.STAFF,
    "customer_admin": ActorKind.CUSTOMER,
    "customer_member": ActorKind.CUSTOMER,
    "customer_billing": None,
    "other_customer": None,
    "staff_posing_as_customer": None,
}


def _request_in(status: Status) -> tuple[ServiceRequest, dict[str, tuple[User, bool]]]:
    acme = make_customer("Acme Ltd")
    globex = make_customer("Globex")
    member = make_member(acme, Role.MEMBER)
    service_request = make_request(
        customer=acme, submitted_by=member, request_type=make_request_type()
    )
    now = timezone.now()
    ServiceRequest.objects.filter(pk=service_request.pk).update(
        status=status, resolved_at=now if status == Status.RESOLVED else None
    )
    service_request.refresh_from_db()
    staff = make_staff()
    actors = {
        "staff": (staff, True),
        "customer_admin": (make_member(acme, Role.ADMIN), False),
        "customer_member": (member, False),
        "customer_billing": (make_member(acme, Role.BILLING), False),
        "other_customer": (make_member(globex, Role.ADMIN), False),
        "staff_posing_as_customer": (staff, False),
    }
    return service_request, actors


class _Undo(Exception):
    """Raised to roll an attempt back, so each actor starts from the same state."""


def _attempt(
    service_request: ServiceRequest,
    actor_name: str,
    actor: User,
    as_staff: bool,
    from_status: Status,
    to_status: Status,
) -> None:
    kind = ACTORS[actor_name]
    entries_before = StatusChange.objects.filter(service_request=service_request).count()
    if kind is not None and is_allowed(kind, from_status, to_status):
        updated = services.service_request_transition(
            service_request=service_request,
            to_status=to_status,
            actor=actor,
            as_staff=as_staff,
            note="checked",
        )
        assert updated.status == to_status
        entry = StatusChange.objects.filter(service_request=service_request).last()
        assert entry is not None
        assert (entry.from_status, entry.to_status, entry.actor_id, entry.actor_kind) == (
            from_status,
            to_status,
            actor.pk,
            kind,
        )
        assert entry.note == "checked"
        return
    expected: type[Exception] = PermissionDenied if kind is None else ValidationError
    with pytest.raises(expected):
        services.service_request_transition(
            service_request=service_request, to_status=to_status, actor=actor, as_staff=as_staff
        )
    fresh = ServiceRequest.objects.get(pk=service_request.pk)
    assert fresh.status == from_status
    assert StatusChange.objects.filter(service_request=service_request).count() == entries_before


@pytest.mark.parametrize("to_status", list(Status), ids=str)
@pytest.mark.parametrize("from_status", list(Status), ids=str)
def test_every_transition_is_allowed_or_refused_by_the_table(
    from_status: Status, to_status: Status, subtests: Any
) -> None:
    """Each (from, to) pair, tried by each kind of actor (a subtest each, rolled back after)."""
    service_request, actors = _request_in(from_status)
    for actor_name in sorted(ACTORS):
        actor, as_staff = actors[actor_name]
        with subtests.test(actor=actor_name):
            try:
                with transaction.atomic():
                    _attempt(service_request, actor_name, actor, as_staff, from_status, to_status)
                    raise _Undo
            except _Undo:
                pass
            service_request.refresh_from_db()


def test_a_non_staff_user_cannot_act_as_staff() -> None:
    service_request, actors = _request_in(Status.SUBMITTED)
    member, _ = actors["customer_member"]
    with pytest.raises(PermissionDenied):
        services.service_request_transition(
            service_request=service_request,
            to_status=Status.IN_PROGRESS,
            actor=member,
            as_staff=True,
        )


def test_reopening_is_limited_to_the_configured_window(settings: Any) -> None:
    settings.PORTAL_REOPEN_DAYS = 3
    service_request, actors = _request_in(Status.RESOLVED)
    member, _ = actors["customer_member"]
    ServiceRequest.objects.filter(pk=service_request.pk).update(
        resolved_at=timezone.now() - timedelta(days=3, minutes=1)
    )
    service_request.refresh_from_db()
    assert REOPEN == (ActorKind.CUSTOMER, Status.RESOLVED, Status.IN_REVIEW)
    with pytest.raises(ValidationError, match="more than 3 days ago"):
        services.service_request_transition(
            service_request=service_request, to_status=Status.IN_REVIEW, actor=member
        )
    assert services.customer_actions(service_request=service_request) == [
        (Status.CLOSED, "Confirm it is solved")
    ]
    # Confirming is still possible, and staff may still take it back into work.
    settings.PORTAL_REOPEN_DAYS = 14
    service_request.refresh_from_db()
    updated = services.service_request_transition(
        service_request=service_request, to_status=Status.IN_REVIEW, actor=member
    )
    assert updated.status == Status.IN_REVIEW
    assert updated.resolved_at is None


def test_a_customer_reply_sends_a_waiting_request_back_to_where_it_was() -> None:
    service_request, actors = _request_in(Status.IN_PROGRESS)
    staff, _ = actors["staff"]
    member, _ = actors["customer_member"]
    services.service_request_transition(
        service_request=service_request,
        to_status=Status.WAITING_FOR_CUSTOMER,
        actor=staff,
        as_staff=True,
        note="Which building is it?",
    )
    services.service_request_comment_add(
        service_request=service_request, author=member, body="Building B."
    )
    service_request.refresh_from_db()
    assert service_request.status == Status.IN_PROGRESS
    steps = list(
        StatusChange.objects.filter(service_request=service_request).values_list(
            "from_status", "to_status", "actor_kind"
        )
    )
    assert steps[-2:] == [
        (Status.IN_PROGRESS, Status.WAITING_FOR_CUSTOMER, ActorKind.STAFF),
        (Status.WAITING_FOR_CUSTOMER, Status.IN_PROGRESS, ActorKind.CUSTOMER),
    ]


def test_sla_deadlines_first_response_and_overdue_flag() -> None:
    service_request, actors = _request_in(Status.SUBMITTED)
    staff, _ = actors["staff"]
    created = service_request.created_at
    assert service_request.first_response_due_at == created + timedelta(hours=8)
    assert service_request.resolution_due_at == created + timedelta(hours=72)
    assert service_request.due_at == service_request.first_response_due_at
    assert not service_request.is_overdue

    services.service_request_comment_add(
        service_request=service_request, author=staff, body="Looking at it.", as_staff=True
    )
    service_request.refresh_from_db()
    assert service_request.first_responded_at is not None
    assert service_request.due_at == service_request.resolution_due_at

    ServiceRequest.objects.filter(pk=service_request.pk).update(
        due_at=timezone.now() - timedelta(minutes=1)
    )
    service_request.refresh_from_db()
    assert service_request.is_overdue

    done = services.service_request_transition(
        service_request=service_request, to_status=Status.RESOLVED, actor=staff, as_staff=True
    )
    assert done.due_at is None and not done.is_overdue
    assert done.resolved_at is not None


def test_an_internal_note_is_not_a_first_response() -> None:
    service_request, actors = _request_in(Status.SUBMITTED)
    staff, _ = actors["staff"]
    services.service_request_comment_add(
        service_request=service_request,
        author=staff,
        body="Check the card printer first.",
        as_staff=True,
        internal=True,
    )
    service_request.refresh_from_db()
    assert service_request.first_responded_at is None


def test_customers_cannot_write_internal_notes_or_comment_on_finished_requests() -> None:
    service_request, actors = _request_in(Status.CLOSED)
    member, _ = actors["customer_member"]
    with pytest.raises(PermissionDenied):
        services.service_request_comment_add(
            service_request=service_request, author=member, body="x", internal=True
        )
    with pytest.raises(ValidationError, match="submit a new request"):
        services.service_request_comment_add(
            service_request=service_request, author=member, body="Still broken"
        )


def test_an_inactive_user_can_do_nothing() -> None:
    service_request, actors = _request_in(Status.SUBMITTED)
    member, _ = actors["customer_member"]
    member.is_active = False
    member.save()
    with pytest.raises(PermissionDenied):
        services.service_request_transition(
            service_request=service_request, to_status=Status.CANCELLED, actor=member
        )
    outsider = UserFactory()
    with pytest.raises(PermissionDenied):
        services.service_request_comment_add(
            service_request=service_request, author=outsider, body="hello"
        )
