from typing import Any

from django.http import HttpRequest

from .access import active_membership, user_memberships


def active_customer(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "active_membership": active_membership(request),
        "user_memberships": user_memberships(request),
    }
