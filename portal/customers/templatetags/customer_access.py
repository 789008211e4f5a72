"""The role rule in templates.

``{% load customer_access %}{% if active_membership|allows:"requests.view" %}``
"""

from __future__ import annotations

from django import template

from portal.customers.models import Membership
from portal.customers.roles import Permission

register = template.Library()


@register.filter
def allows(membership: Membership | None, permission: str) -> bool:
    """Whether the membership's role grants ``permission`` (a ``Permission`` value)."""
    if membership is None:
        return False
    return membership.allows(Permission(permission))
