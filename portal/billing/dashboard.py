from __future__ import annotations

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from portal.core.dashboard import Card, register_card
from portal.customers.access import active_membership
from portal.customers.roles import Permission

from . import selectors


@register_card
def invoices_card(request: HttpRequest) -> Card | None:
    membership = active_membership(request)
    if membership is None or not membership.allows(Permission.INVOICES_VIEW):
        return None
    outstanding = selectors.invoice_outstanding(customer=membership.customer)
    items = []
    for row in outstanding:
        label = ngettext(
            "%(amount)s to pay on %(count)d invoice",
            "%(amount)s to pay on %(count)d invoices",
            row.count,
        ) % {"amount": row.amount_display, "count": row.count}
        if row.overdue_count:
            label += " — " + ngettext(
                "%(count)d overdue", "%(count)d overdue", row.overdue_count
            ) % {"count": row.overdue_count}
        items.append({"label": label, "url": reverse("billing:invoice_list") + "?status=open"})
    return Card(
        title=_("Invoices"),
        body="",
        items=items,
        empty_text=_("Nothing to pay. Thank you!"),
        link_url=reverse("billing:invoice_list"),
        link_text=_("See all invoices"),
    )
