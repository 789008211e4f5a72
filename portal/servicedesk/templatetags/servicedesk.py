from __future__ import annotations

from django import template
from django.utils.translation import ngettext

register = template.Library()


@register.filter
def sla_duration(hours: int) -> str:
    """8 → "8 hours", 72 → "3 days": how people say an SLA target."""
    if hours >= 24 and hours % 24 == 0:
        days = hours // 24
        return ngettext("%(count)d day", "%(count)d days", days) % {"count": days}
    return ngettext("%(count)d hour", "%(count)d hours", hours) % {"count": hours}
