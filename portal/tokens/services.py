"""Creating, revoking and recording the use of personal access tokens."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.accounts.models import User
from portal.core.audit import audit_record
from portal.core.models import AuditAction
from portal.customers.models import Customer, Membership

from .models import PersonalAccessToken, TokenScope
from .secret import generate, hash_token, hint_of

# Active tokens one person may hold; a script that mints tokens in a loop stops here.
MAX_ACTIVE_TOKENS = 50
# Use of a token is written down (last-used time, audit event) at most this often.
USE_RECORD_INTERVAL = 60


@transaction.atomic
def token_create(
    *,
    user: User,
    customer: Customer,
    name: str,
    scope: TokenScope,
    expires_in_days: int,
    request: HttpRequest | None = None,
) -> tuple[PersonalAccessToken, str]:
    """Create a token for ``user`` acting as their membership of ``customer``.

    Returns the token and its secret. The secret is not stored anywhere: the
    caller shows it once.
    """
    name = name.strip()
    if not name:
        raise ValidationError({"name": _("Give the token a name.")}, code="required")
    if not Membership.objects.filter(user=user, customer=customer).exists():
        raise ValidationError({"customer": _("You are not a member of this customer.")})
    if not 1 <= expires_in_days <= settings.PORTAL_API_TOKEN_MAX_DAYS:
        raise ValidationError(
            {
                "expires_in_days": _("A token lasts between 1 and %(days)d days.")
                % {"days": settings.PORTAL_API_TOKEN_MAX_DAYS}
            }
        )
    active = PersonalAccessToken.objects.filter(
        user=user, revoked_at__isnull=True, expires_at__gt=timezone.now()
    ).count()
    if active >= MAX_ACTIVE_TOKENS:
        raise ValidationError(
            _("You have %(count)d active tokens. Revoke one you no longer use first.")
            % {"count": active},
            code="too_many",
        )
    secret = generate()
    token = PersonalAccessToken.objects.create(
        user=user,
        customer=customer,
        name=name,
        scope=scope,
        hint=hint_of(secret),
        token_hash=hash_token(secret),
        expires_at=timezone.now() + timedelta(days=expires_in_days),
    )
    audit_record(
        action=AuditAction.TOKEN_CREATED,
        request=request,
        actor=user,
        customer=customer,
        data=_describe(token),
    )
    return token, secret


@transaction.atomic
def token_revoke(
    *, token: PersonalAccessToken, actor: User, request: HttpRequest | None = None
) -> PersonalAccessToken:
    """Revoke ``token`` at once. Revoking a revoked token changes nothing."""
    locked = PersonalAccessToken.objects.select_for_update().get(pk=token.pk)
    if locked.revoked_at is not None:
        return locked
    locked.revoked_at = timezone.now()
    locked.save(update_fields=["revoked_at"])
    audit_record(
        action=AuditAction.TOKEN_REVOKED,
        request=request,
        actor=actor,
        subject_user=locked.user,
        customer=locked.customer,
        data=_describe(locked),
    )
    return locked


def token_used(*, token: PersonalAccessToken, request: HttpRequest | None = None) -> None:
    """Note that ``token`` authenticated a call: last-used time and audit, once a minute.

    The cache decides who writes, so a busy token costs one write a minute,
    not one per request.
    """
    if not cache.add(f"portal:token-used:{token.pk}", 1, USE_RECORD_INTERVAL):
        return
    now = timezone.now()
    with transaction.atomic():
        PersonalAccessToken.objects.filter(pk=token.pk).update(last_used_at=now)
        audit_record(
            action=AuditAction.TOKEN_USED,
            request=request,
            actor=token.user,
            customer=token.customer,
            data=_describe(token),
        )
    token.last_used_at = now


def token_refused(
    *, token: PersonalAccessToken, reason: str, request: HttpRequest | None = None
) -> None:
    """Note that a revoked or expired token was presented (once a minute per token)."""
    if not cache.add(f"portal:token-refused:{token.pk}", 1, USE_RECORD_INTERVAL):
        return
    audit_record(
        action=AuditAction.TOKEN_REFUSED,
        request=request,
        actor=None,
        subject_user=token.user,
        customer=token.customer,
        data={**_describe(token), "reason": reason},
    )


def _describe(token: PersonalAccessToken) -> dict[str, str | int]:
    # Never the secret or its hash: the hint is enough to tell tokens apart.
    return {
        "token_id": token.pk,
        "name": token.name,
        "hint": token.display_hint,
        "scope": token.scope,
        "expires_at": token.expires_at.isoformat(),
    }
