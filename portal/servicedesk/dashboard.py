"""The dashboard card: how many requests are open, waiting for the customer, resolved."""

from __future__ import annotations

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from portal.accounts.request import signed_in_user
from portal.core.dashboard import Card, register_card
from portal.customers.access import active_membership
from portal.customers.roles import Permission

from . import selectors


@register_card
def requests_card(request: HttpRequest) -> Card | None:
    membership = active_membership(request)
    if membership is None or not membership.allows(Permission.REQUESTS_VIEW):
        return None
    counts = selectors.service_request_counts(
        user=signed_in_user(request), customer=membership.customer
    )
    list_url = reverse("servicedesk:list")
    items = []
    if counts["open"]:
        items.append(
            {
                "label": ngettext(
                    "%(count)d open request", "%(count)d open requests", counts["open"]
                )
                % {"count": counts["open"]},
                "url": f"{list_url}?status=open",
            }
        )
    if counts["waiting"]:
        items.append(
            {
                "label": ngettext(
                    "%(count)d waiting for your answer",
                    "%(count)d waiting for your answer",
                    counts["waiting"],
                )
                % {"count": counts["waiting"]},
                "url": f"{list_url}?status=waiting_for_customer",
            }
        )
    if counts["resolved"]:
        items.append(
            {
                "label": ngettext(
                    "%(count)d resolved, to confirm",
                    "%(count)d resolved, to confirm",
                    counts["resolved"],
                )
                % {"count": counts["resolved"]},
                "url": f"{list_url}?status=resolved",
            }
        )
    may_submit = membership.allows(Permission.REQUESTS_SUBMIT)
    if not counts["any"]:
        empty = _("No requests yet.")
    else:
        empty = _("Nothing open: all your requests are done.")
    return Card(
        title=_("Service requests"),
        body="",
        items=items,
        empty_text=empty,
        link_url=reverse("servicedesk:catalog") if may_submit else list_url,
        link_text=_("Submit a new request") if may_submit else _("See all requests"),
        live_id="card-service-requests",
        live_topics="service_request:*",
    )
