from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from . import selectors


def live(request: HttpRequest) -> dict[str, Any]:
    """The stream's starting point and the bell's count, for signed-in pages."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "live_since": selectors.live_event_last_id(),
        "unread_notifications": selectors.unread_notification_count(user=user, request=request),
    }
