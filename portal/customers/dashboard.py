from __future__ import annotations

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _

from portal.core.dashboard import Card, register_card

from .access import active_membership
from .roles import Permission


@register_card
def organisation_card(request: HttpRequest) -> Card | None:
    membership = active_membership(request)
    if membership is None:
        return None
    customer = membership.customer
    body = _("You act for %(customer)s (customer number %(number)s) as %(role)s.") % {
        "customer": customer.name,
        "number": customer.number,
        "role": membership.get_role_display(),
    }
    if membership.allows(Permission.MEMBERS_MANAGE):
        return Card(
            title=customer.name,
            body=body,
            link_url=reverse("customers:members"),
            link_text=_("Manage members"),
        )
    return Card(title=customer.name, body=body)
