from typing import Any

from django.http import HttpRequest

from portal.customers.access import active_membership
from portal.customers.roles import Permission


def documents(request: HttpRequest) -> dict[str, Any]:
    """Whether the header shows the Documents link (the active role may see documents)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    membership = active_membership(request)
    return {
        "documents_nav": membership is not None and membership.allows(Permission.DOCUMENTS_VIEW)
    }
