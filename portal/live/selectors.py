"""Reads of live events and notifications, always as one person."""

from __future__ import annotations

from django.core.cache import cache
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from portal.accounts.models import User
from portal.core.fragments import cached_fragment, versions

from .audience import Viewer
from .models import LiveEvent, Notification


def live_events_after(*, viewer: Viewer, after_id: int, limit: int) -> list[LiveEvent]:
    """Events after ``after_id`` that ``viewer`` may see, oldest first."""
    return list(LiveEvent.objects.filter(viewer.as_q(), pk__gt=after_id).order_by("pk")[:limit])


# The newest event id, written by every event's commit (portal/live/services.py).
# Lower than the truth for a moment at most, which only repeats an event on the
# page (live.js skips or re-fetches it); the short lifetime bounds any doubt.
LAST_ID_KEY = "live:last-id"
LAST_ID_TTL = 60


def live_event_last_id() -> int:
    """The newest event id: pages render it so their stream starts from there."""
    cached = cache.get(LAST_ID_KEY)
    if isinstance(cached, int):
        return cached
    last = LiveEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    cache.add(LAST_ID_KEY, last, LAST_ID_TTL)
    return last


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


def unread_notification_count(*, user: User, request: HttpRequest | None = None) -> int:
    """Cached until one of the user's rows changes (a notification comes or is read:
    both also record a live event for the user)."""
    return cached_fragment(
        f"unread:{user.pk}:{versions(request, users=[user.pk])}",
        lambda: Notification.objects.filter(user=user, read_at__isnull=True).count(),
    )
