"""``/api/v1/notifications``: the caller's in-app notifications, and marking them read."""

# No ``from __future__ import annotations`` here: ninja reads these annotations at run time.

from datetime import datetime

from django.db.models import QuerySet
from django.http import Http404, HttpRequest
from ninja import Field, Query, Router, Schema
from ninja.pagination import paginate

from portal.apikit.auth import ApiPrincipal, principal
from portal.apikit.pagination import PagePagination
from portal.apikit.schemas import Bool, IdPath

from . import selectors, services
from .models import Notification

router = Router(tags=["notifications"])


class NotificationOut(Schema):
    id: int
    kind: str
    title: str
    body: str
    url: str = Field(description="Where the notification leads in the portal; may be empty.")
    customer_id: int | None = Field(description="The customer it is about, if any.")
    created_at: datetime
    read_at: datetime | None


class NotificationFilters(Schema):
    unread: Bool | None = Field(None, description="true: only unread; false: only read.")


class MarkedOut(Schema):
    marked: int = Field(description="How many notifications were unread and are read now.")


def _visible(caller: ApiPrincipal) -> QuerySet[Notification]:
    # A token acts for one customer: it sees personal notifications and that customer's.
    customer_ids = caller.customer_ids if caller.token is not None else None
    return selectors.notifications_for_user(user=caller.user, customer_ids=customer_ids)


def _get(caller: ApiPrincipal, notification_id: int) -> Notification:
    notification = _visible(caller).filter(pk=notification_id).first()
    if notification is None:
        raise Http404("No such notification.")
    return notification


@router.get("/notifications", response=list[NotificationOut], summary="List my notifications")
@paginate(PagePagination)
def notification_list(
    request: HttpRequest, filters: Query[NotificationFilters]
) -> QuerySet[Notification]:
    """Newest first."""
    notifications = _visible(principal(request))
    if filters.unread is not None:
        notifications = notifications.filter(read_at__isnull=filters.unread)
    return notifications


@router.get(
    "/notifications/{int:notification_id}", response=NotificationOut, summary="Get a notification"
)
def notification_get(
    request: HttpRequest, notification_id: int = IdPath("The notification's id.")
) -> Notification:
    return _get(principal(request), notification_id)


@router.post(
    "/notifications/{int:notification_id}/read",
    response=NotificationOut,
    summary="Mark a notification read",
)
def notification_mark_read(
    request: HttpRequest, notification_id: int = IdPath("The notification's id.")
) -> Notification:
    """Marking a read notification read again changes nothing."""
    caller = principal(request)
    notification = _get(caller, notification_id)
    services.notifications_mark_read(user=caller.user, notification_ids=[notification.pk])
    notification.refresh_from_db()
    return notification


@router.post("/notifications/read", response=MarkedOut, summary="Mark all notifications read")
def notification_mark_all_read(request: HttpRequest) -> MarkedOut:
    caller = principal(request)
    ids = list(_visible(caller).filter(read_at__isnull=True).values_list("pk", flat=True))
    marked = services.notifications_mark_read(user=caller.user, notification_ids=ids) if ids else 0
    return MarkedOut(marked=marked)
