from typing import Any

from django.http import HttpRequest

from portal.customers.access import active_membership
from portal.customers.roles import Permission


def billing(request: HttpRequest) -> dict[str, Any]:
    """Whether the header shows the invoices link."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    membership = active_membership(request)
    return {
        "can_view_invoices": membership is not None and membership.allows(Permission.INVOICES_VIEW)
    }
