from __future__ import annotations

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _

from portal.accounts.request import signed_in_user
from portal.core.dashboard import Card, register_card
from portal.customers.access import active_membership
from portal.customers.roles import Permission

from .selectors import documents_shared_recently


@register_card
def documents_card(request: HttpRequest) -> Card | None:
    """Documents the organisation shared with the active customer, newest first."""
    membership = active_membership(request)
    if membership is None or not membership.allows(Permission.DOCUMENTS_VIEW):
        return None
    shared = documents_shared_recently(user=signed_in_user(request), customer=membership.customer)
    return Card(
        title=_("Documents from us"),
        body="",
        empty_text=_("Nothing shared with you yet. Your own uploads are in the library."),
        items=[{"label": d.title, "url": reverse("documents:detail", args=[d.pk])} for d in shared],
        link_url=reverse("documents:library"),
        link_text=_("Open the document library"),
    )
