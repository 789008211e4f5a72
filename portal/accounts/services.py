"""Every change a person makes to their own account."""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import get_adapter
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.socialaccount.models import SocialAccount
from allauth.usersessions.models import UserSession
from django.contrib.auth.hashers import make_password
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.core.audit import audit_record
from portal.core.db import update_rows
from portal.core.models import AuditAction, AuditEvent
from portal.customers.models import Membership
from portal.customers.roles import Role
from portal.tokens.models import PersonalAccessToken

from .models import NotificationKind, NotificationPreference, User

PROFILE_FIELDS = (
    "first_name",
    "last_name",
    "phone",
    "address_line1",
    "address_line2",
    "postal_code",
    "city",
    "country",
    "preferred_language",
)


@transaction.atomic
def user_ensure(
    *,
    email: str,
    password: str,
    first_name: str = "",
    last_name: str = "",
    is_staff: bool = False,
    is_superuser: bool = False,
) -> tuple[User, bool]:
    """Create the user with a verified address, or bring an existing one in line.

    Returns ``(user, changed)``; calling it twice with the same arguments
    changes nothing the second time.
    """
    email = email.strip().lower()
    user = User.objects.filter(email=email).first()
    changed = user is None
    if user is None:
        user = User(email=email)
    wanted = {
        "first_name": first_name,
        "last_name": last_name,
        "is_staff": is_staff,
        "is_superuser": is_superuser,
        "is_active": True,
    }
    for field, value in wanted.items():
        if getattr(user, field) != value:
            setattr(user, field, value)
            changed = True
    if changed or not user.check_password(password):
        user.set_password(password)
        changed = True
    if changed:
        user.save()
    address, created = EmailAddress.objects.get_or_create(
        user=user, email=email, defaults={"verified": True, "primary": True}
    )
    if not created and not (address.verified and address.primary):
        address.verified = True
        address.primary = True
        address.save(update_fields=["verified", "primary"])
        changed = True
    return user, changed or created


@transaction.atomic
def profile_update(*, user: User, data: dict[str, Any], request: HttpRequest | None = None) -> User:
    changed = [f for f in PROFILE_FIELDS if f in data and getattr(user, f) != data[f]]
    if not changed:
        return user
    for field in changed:
        setattr(user, field, data[field])
    user.full_clean(exclude=["password", "email"])
    user.save(update_fields=changed)
    audit_record(
        action=AuditAction.PROFILE_UPDATED, request=request, actor=user, data={"fields": changed}
    )
    return user


@transaction.atomic
def notification_preferences_set(*, user: User, choices: dict[str, dict[str, bool]]) -> None:
    """``choices`` maps a notification kind to ``{"email": bool, "in_app": bool}``."""
    for kind in NotificationKind:
        channels = choices.get(kind.value)
        if channels is None:
            continue
        NotificationPreference.objects.update_or_create(
            user=user,
            kind=kind.value,
            defaults={
                "email": bool(channels.get("email")),
                "in_app": bool(channels.get("in_app")),
            },
        )


def account_export(*, user: User, request: HttpRequest | None = None) -> dict[str, Any]:
    """Everything the portal holds about this person, and nothing about anyone else."""
    from portal.servicedesk.selectors import service_requests_export_for_user

    from .selectors import notification_preferences

    data: dict[str, Any] = {
        "exported_at": timezone.now().isoformat(),
        "profile": {
            "email": user.email,
            **{field: getattr(user, field) for field in PROFILE_FIELDS},
            "date_joined": user.date_joined.isoformat(),
            "last_login": user.last_login.isoformat() if user.last_login else None,
        },
        "email_addresses": [
            {"email": a.email, "verified": a.verified, "primary": a.primary}
            for a in EmailAddress.objects.filter(user=user).order_by("email")
        ],
        "memberships": [
            {
                "customer_number": m.customer.number,
                "customer_name": m.customer.name,
                "role": m.role,
                "since": m.created_at.isoformat(),
            }
            for m in Membership.objects.filter(user=user).select_related("customer")
        ],
        "notification_preferences": {
            kind: {"email": email, "in_app": in_app}
            for kind, _label, email, in_app in notification_preferences(user=user)
        },
        "identity_providers": [
            {"provider": a.provider, "subject": a.uid, "linked_at": a.date_joined.isoformat()}
            for a in SocialAccount.objects.filter(user=user).order_by("date_joined")
        ],
        "two_factor_methods": [
            {"type": a.type, "created_at": a.created_at.isoformat()}
            for a in Authenticator.objects.filter(user=user).order_by("created_at")
        ],
        "sessions": [
            {
                "ip": s.ip,
                "user_agent": s.user_agent,
                "created_at": s.created_at.isoformat(),
                "last_seen_at": s.last_seen_at.isoformat() if s.last_seen_at else None,
            }
            for s in UserSession.objects.filter(user=user).order_by("created_at")
        ],
        "access_tokens": [
            {
                "name": t.name,
                "hint": t.display_hint,
                "customer_number": t.customer.number,
                "scope": t.scope,
                "created_at": t.created_at.isoformat(),
                "expires_at": t.expires_at.isoformat(),
                "last_used_at": t.last_used_at.isoformat() if t.last_used_at else None,
                "revoked_at": t.revoked_at.isoformat() if t.revoked_at else None,
            }
            for t in PersonalAccessToken.objects.filter(user=user)
            .select_related("customer")
            .order_by("created_at")
        ],
        # Requests this person submitted, with the conversation a customer sees
        # (never the service team's internal notes).
        "service_requests": service_requests_export_for_user(user=user),
        "activity": [
            {
                "time": e.created_at.isoformat(),
                "event": e.action,
                "ip_address": e.ip_address,
                "user_agent": e.user_agent,
            }
            for e in AuditEvent.objects.filter(subject_user=user).order_by("created_at")
        ],
    }
    audit_record(action=AuditAction.DATA_EXPORTED, request=request, actor=user)
    return data


def _last_admin_of(user: User) -> list[str]:
    """Names of customers where this user is the only admin while others remain."""
    names = []
    for membership in Membership.objects.filter(user=user, role=Role.ADMIN).select_related(
        "customer"
    ):
        customer = membership.customer
        admins = customer.memberships.filter(role=Role.ADMIN).count()
        others = customer.memberships.exclude(user=user).count()
        if admins == 1 and others > 0:
            names.append(customer.name)
    return names


@transaction.atomic
def account_delete(*, user: User, password: str, request: HttpRequest | None = None) -> None:
    """Deactivate the account and anonymise the person's data.

    Records the business must keep (invoices, requests, the audit log) stay and
    point at the anonymised user.
    """
    if not user.check_password(password):
        raise ValidationError({"password": _("The password is not correct.")}, code="password")
    blocking = _last_admin_of(user)
    if blocking:
        raise ValidationError(
            _(
                "You are the only admin of %(customers)s. Make another member admin "
                "first, so the organisation is not left without one."
            )
            % {"customers": ", ".join(blocking)},
            code="last_admin",
        )
    audit_record(action=AuditAction.ACCOUNT_DELETED, request=request, actor=user)
    session_keys = list(UserSession.objects.filter(user=user).values_list("session_key", flat=True))
    Session.objects.filter(session_key__in=session_keys).delete()
    UserSession.objects.filter(user=user).delete()
    Authenticator.objects.filter(user=user).delete()
    # The provider's subject identifies the person; without the link a later
    # provider sign-in starts a new account instead of reaching this closed one.
    SocialAccount.objects.filter(user=user).delete()
    EmailAddress.objects.filter(user=user).delete()
    NotificationPreference.objects.filter(user=user).delete()
    Membership.objects.filter(user=user).delete()
    PersonalAccessToken.objects.filter(user=user, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    user.email = f"deleted-{user.pk}@anonymised.invalid"
    for field in PROFILE_FIELDS:
        if field != "preferred_language":
            setattr(user, field, "")
    user.password = make_password(None)  # unusable
    user.is_active = False
    user.is_staff = False
    user.is_superuser = False
    user.anonymised_at = timezone.now()
    user.save()


def session_activity_record(request: HttpRequest) -> None:
    """The signed-in session's row in "active sessions": seen now, from this client.

    allauth's ``create_from_request`` reads the row and its user and saves it in a
    transaction (five queries). From the same address and browser, which is nearly
    every time, one UPDATE does; otherwise allauth's path creates the row or notes
    the new client, and sends its signal for that.
    """
    user_agent = request.META.get("HTTP_USER_AGENT", "")[
        : UserSession._meta.get_field("user_agent").max_length
    ]
    seen = update_rows(
        UserSession,
        values={"last_seen_at": timezone.now()},
        where={
            "session_key": request.session.session_key,
            "user": request.user.pk,
            "ip": get_adapter().get_client_ip(request),
            "user_agent": user_agent,
        },
    )
    if not seen:
        UserSession.objects.create_from_request(request)


@transaction.atomic
def user_sessions_end(*, user: User, actor: User, request: HttpRequest | None = None) -> int:
    """Staff sign a person out everywhere (a lost laptop, a suspected takeover).

    Every session ends, and open live streams close at once and cannot reconnect
    with the ended session. API tokens are separate: revoke them on their own.
    """
    sessions = list(UserSession.objects.filter(user=user))
    for session in sessions:
        session.end()
    from portal.live.services import access_changed

    access_changed(user=user)
    audit_record(
        action=AuditAction.SESSIONS_REVOKED,
        request=request,
        actor=actor,
        subject_user=user,
        data={"count": len(sessions), "by_staff": True},
    )
    return len(sessions)
