from __future__ import annotations

from typing import Any

import pytest
from django.core import mail

from portal.accounts.models import NotificationKind, NotificationPreference
from portal.core.tests.factories import UserFactory
from portal.customers.roles import Permission, Role
from portal.customers.tests.factories import make_customer, make_member
from portal.live import selectors, services
from portal.live.audience import Viewer
from portal.live.models import LiveEvent, Notification

pytestmark = pytest.mark.django_db


def test_an_event_needs_an_audience() -> None:
    with pytest.raises(ValueError, match="audience"):
        services.live_event_emit(kind="k", topic="t")


def test_the_replay_query_and_the_stream_apply_the_same_rule() -> None:
    acme, other = make_customer("Acme"), make_customer("Other")
    member, billing = make_member(acme, Role.MEMBER), make_member(acme, Role.BILLING)
    stranger, staff = make_member(other, Role.ADMIN), UserFactory(is_staff=True)
    events = [
        services.live_event_emit(
            kind="k", topic="t", customer=acme, permission=Permission.REQUESTS_VIEW
        ),
        services.live_event_emit(kind="k", topic="t", customer=acme),
        services.live_event_emit(
            kind="k", topic="t", customer=other, permission=Permission.INVOICES_VIEW
        ),
        services.live_event_emit(kind="k", topic="t", user=billing),
        services.live_event_emit(kind="k", topic="t", staff=True),
    ]
    for user in (member, billing, stranger, staff):
        viewer = Viewer.for_user(user)
        by_rule = [e.pk for e in events if viewer.may_see(e)]
        by_query = [e.pk for e in selectors.live_events_after(viewer=viewer, after_id=0, limit=99)]
        assert by_rule == by_query
    assert [e.pk for e in events if Viewer.for_user(member).may_see(e)] == [
        events[0].pk,
        events[1].pk,
    ]


def test_a_notification_is_stored_announced_and_mailed(
    django_capture_on_commit_callbacks: Any,
) -> None:
    user = UserFactory(email="ann@example.com", first_name="Ann")
    with django_capture_on_commit_callbacks(execute=True):
        notification = services.notification_send(
            user=user,
            kind=NotificationKind.SERVICE_REQUEST,
            title="SR-2026-000001 is now In progress",
            body="We started working on it.",
            url="/requests/SR-2026-000001/",
        )
    assert notification is not None and notification.read_at is None
    event = LiveEvent.objects.get(kind="notifications.changed")
    assert event.user == user and event.data == {"unread": 1}
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["ann@example.com"]
    assert message.subject == "SR-2026-000001 is now In progress"
    assert "/requests/SR-2026-000001/" in message.body
    assert "Hello Ann" in message.body


def test_preferences_decide_the_channels(django_capture_on_commit_callbacks: Any) -> None:
    user = UserFactory()
    NotificationPreference.objects.create(
        user=user, kind=NotificationKind.INVOICE, email=False, in_app=True
    )
    NotificationPreference.objects.create(
        user=user, kind=NotificationKind.DOCUMENT, email=True, in_app=False
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.notification_send(user=user, kind=NotificationKind.INVOICE, title="Invoice")
        services.notification_send(user=user, kind=NotificationKind.DOCUMENT, title="Document")
    assert list(Notification.objects.values_list("title", flat=True)) == ["Invoice"]
    assert [m.subject for m in mail.outbox] == ["Document"]


def test_inactive_people_are_not_notified(django_capture_on_commit_callbacks: Any) -> None:
    user = UserFactory(is_active=False)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.notification_send(user=user, kind="invoice", title="x") is None
    assert not Notification.objects.exists() and not mail.outbox


def test_marking_read_touches_only_my_notifications() -> None:
    me, someone = UserFactory(), UserFactory()
    mine = services.notification_send(user=me, kind="invoice", title="mine")
    theirs = services.notification_send(user=someone, kind="invoice", title="theirs")
    assert mine is not None and theirs is not None
    assert selectors.unread_notification_count(user=me) == 1  # now cached
    assert services.notifications_mark_read(user=me, notification_ids=[theirs.pk]) == 0
    assert services.notifications_mark_read(user=me) == 1
    theirs.refresh_from_db()
    assert theirs.read_at is None
    assert selectors.unread_notification_count(user=me) == 0
    assert LiveEvent.objects.filter(user=me).last().data == {"unread": 0}  # type: ignore[union-attr]


def test_the_bus_carries_the_event_it_was_published_for(
    django_capture_on_commit_callbacks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from portal.live.hub import Event

    published: list[tuple[int, bytes | None]] = []

    class Bus:
        def publish(self, event_id: int, message: bytes | None = None) -> None:
            published.append((event_id, message))

    monkeypatch.setattr(services, "get_bus", Bus)
    customer = make_customer("Acme Ltd")
    with django_capture_on_commit_callbacks(execute=True):
        event = services.live_event_emit(kind="k", topic="t", customer=customer, data={"a": 1})
    [(event_id, message)] = published
    assert event_id == event.pk and message is not None
    carried = Event.verified(message)
    assert carried is not None and carried.id == event.pk and carried.customer_id == customer.pk
    assert carried.frame == Event.from_row(LiveEvent.objects.get(pk=event.pk)).frame
