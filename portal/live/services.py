"""Writing live events and notifications. Services of other apps call these inside
their own transaction; the bus is woken only after that transaction commits."""

from __future__ import annotations

from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation

from portal.accounts.models import User
from portal.accounts.selectors import wants_notification
from portal.core.fragments import versions_bump
from portal.core.tasks import send_email_on_commit
from portal.customers.models import Customer
from portal.customers.roles import Permission

from .bus import get_bus
from .hub import Event
from .models import LiveEvent, Notification
from .selectors import LAST_ID_KEY, LAST_ID_TTL


def live_event_emit(
    *,
    kind: str,
    topic: str,
    data: dict[str, Any] | None = None,
    customer: Customer | None = None,
    permission: Permission | None = None,
    user: User | None = None,
    staff: bool = False,
) -> LiveEvent:
    """Record an event for the stream; after commit, wake every server process.

    The audience is the members of ``customer`` whose role grants ``permission``
    (all members when it is ``None``), the person ``user``, and staff when
    ``staff`` is true. ``data`` must hold nothing that some of them may not see.
    """
    if customer is None and user is None and not staff:
        raise ValueError("A live event needs an audience.")
    event = LiveEvent.objects.create(
        kind=kind,
        topic=topic,
        data=data or {},
        customer=customer,
        permission=permission.value if permission is not None else "",
        user=user,
        staff=staff,
    )
    event_id, message = event.pk, Event.from_row(event).sign()
    transaction.on_commit(lambda: _committed(event_id, message))
    return event


def _committed(event_id: int, message: bytes) -> None:
    cache.set(LAST_ID_KEY, event_id, LAST_ID_TTL)
    get_bus().publish(event_id, message)


@transaction.atomic
def notification_send(
    *,
    user: User,
    kind: str,
    title: str,
    body: str = "",
    url: str = "",
    customer: Customer | None = None,
) -> Notification | None:
    """Tell one person about something, in the portal and by e-mail, as they chose.

    ``kind`` is a :class:`portal.accounts.models.NotificationKind`. The e-mail
    goes out from a background task after commit. Returns the in-app
    notification, if one was stored.
    """
    if not user.is_active:
        return None
    notification = None
    if wants_notification(user=user, kind=kind, channel="in_app"):
        notification = Notification.objects.create(
            user=user, customer=customer, kind=kind, title=title, body=body, url=url
        )
        _emit_unread_count(user=user)
    if wants_notification(user=user, kind=kind, channel="email"):
        from django.conf import settings

        with translation.override(user.preferred_language or settings.LANGUAGE_CODE):
            text = render_to_string(
                "live/email/notification.txt",
                {
                    "user": user,
                    "title": title,
                    "body": body,
                    "url": url,
                    "base": settings.PORTAL_BASE_URL,
                },
            )
        send_email_on_commit(to=[user.email], subject=title, body=text)
    return notification


@transaction.atomic
def notifications_mark_read(*, user: User, notification_ids: list[int] | None = None) -> int:
    """Mark the given notifications of ``user`` read (all of them when ``None``)."""
    unread = Notification.objects.filter(user=user, read_at__isnull=True)
    if notification_ids is not None:
        unread = unread.filter(pk__in=notification_ids)
    count = unread.update(read_at=timezone.now())
    if count:
        # An update moves no version by itself: the cached unread count must go.
        versions_bump(users=[user.pk])
        _emit_unread_count(user=user)
    return count


def _emit_unread_count(*, user: User) -> None:
    unread = Notification.objects.filter(user=user, read_at__isnull=True).count()
    live_event_emit(
        kind="notifications.changed",
        topic=f"notifications:{user.pk}",
        data={"unread": unread},
        user=user,
    )


def access_changed(*, user: User) -> None:
    """Tell the stream that ``user``'s memberships changed: their streams re-authorise."""
    live_event_emit(kind="access.changed", topic=f"access:{user.pk}", user=user)
