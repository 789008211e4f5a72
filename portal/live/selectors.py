"""Reads of live events and notifications, always as one person."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from portal.accounts.models import User

from .audience import Viewer
from .models import LiveEvent, Notification


def live_events_after(*, viewer: Viewer, after_id: int, limit: int) -> list[LiveEvent]:
    """Events after ``after_id`` that ``viewer`` may see, oldest first."""
    return list(LiveEvent.objects.filter(viewer.as_q(), pk__gt=after_id).order_by("pk")[:limit])


def live_event_last_id() -> int:
    """The newest event id: pages render it so their stream starts from there."""
    last = LiveEvent.objects.order_by("-pk").values_list("pk", flat=True).first()
    return last or 0


def notifications_for_user(
    *, user: User, customer_ids: list[int] | None = None
) -> QuerySet[Notification]:
    """``user``'s notifications; with ``customer_ids``, only personal ones and those about
    these customers (an API token acting for one customer sees no others)."""
    notifications = Notification.objects.filter(user=user)
    if customer_ids is not None:
        notifications = notifications.filter(
            Q(customer__isnull=True) | Q(customer_id__in=customer_ids)
        )
    return notifications


def unread_notification_count(*, user: User) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).count()
