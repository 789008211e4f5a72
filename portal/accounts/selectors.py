from __future__ import annotations

from django.db.models import QuerySet

from portal.core.models import AuditEvent

from .models import DEFAULT_CHANNELS, NotificationKind, NotificationPreference, User


def notification_preferences(*, user: User) -> list[tuple[str, str, bool, bool]]:
    """``(kind, label, email, in_app)`` for every kind, with defaults where unset."""
    saved = {p.kind: p for p in NotificationPreference.objects.filter(user=user)}
    rows = []
    for kind in NotificationKind:
        pref = saved.get(kind.value)
        email = pref.email if pref else DEFAULT_CHANNELS["email"]
        in_app = pref.in_app if pref else DEFAULT_CHANNELS["in_app"]
        rows.append((kind.value, str(kind.label), email, in_app))
    return rows


def wants_notification(*, user: User, kind: str, channel: str) -> bool:
    pref = NotificationPreference.objects.filter(user=user, kind=kind).first()
    if pref is None:
        return DEFAULT_CHANNELS[channel]
    return bool(getattr(pref, channel))


def activity_for_user(*, user: User) -> QuerySet[AuditEvent]:
    """Security events about this person."""
    return AuditEvent.objects.filter(subject_user=user).select_related("actor", "customer")
