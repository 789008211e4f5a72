"""Audit records for what allauth and Django do on the person's behalf.

Receivers only record; no business logic lives here.
"""

from __future__ import annotations

import time
from typing import Any

from allauth.account import signals as account_signals
from allauth.account.authentication import get_authentication_records
from allauth.mfa import signals as mfa_signals
from allauth.socialaccount import signals as social_signals
from django.contrib.auth import get_user_model
from django.contrib.auth import signals as auth_signals
from django.dispatch import receiver
from django.http import HttpRequest

from portal.core.audit import audit_record
from portal.core.models import AuditAction

from .middleware import SESSION_LAST_SEEN, SESSION_STARTED


@receiver(auth_signals.user_logged_in)
def _signed_in(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if request is not None and hasattr(request, "session"):
        now = int(time.time())
        request.session[SESSION_STARTED] = now
        request.session[SESSION_LAST_SEEN] = now
    audit_record(action=AuditAction.SIGN_IN, request=request, actor=user, data=_how(request, user))


def _how(request: HttpRequest | None, user: Any) -> dict[str, Any]:
    """How this sign-in began, from allauth's record of the session's steps."""
    if request is None or not hasattr(request, "session"):
        return {}
    for record in reversed(get_authentication_records(request, user)):
        if record.get("method") == "mfa":
            continue  # the second step; the first one says how
        if record.get("method") == "socialaccount":
            return {"method": "provider", "provider": record.get("provider", "")}
        return {"method": record.get("method", "")}
    return {}


@receiver(auth_signals.user_logged_out)
def _signed_out(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if user is not None:
        audit_record(action=AuditAction.SIGN_OUT, request=request, actor=user)


@receiver(auth_signals.user_login_failed)
def _sign_in_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    # Recorded against the account if one exists (its owner sees the attempt
    # under Activity); the attempted address itself is not stored.
    login = credentials.get("email") or credentials.get("username") or ""
    user = get_user_model().objects.filter(email__iexact=login).first() if login else None
    audit_record(action=AuditAction.SIGN_IN_FAILED, request=request, actor=None, subject_user=user)


@receiver(account_signals.user_signed_up)
def _signed_up(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    audit_record(action=AuditAction.SIGN_UP, request=request, actor=user)


@receiver(account_signals.email_confirmed)
def _email_confirmed(sender: Any, request: HttpRequest, email_address: Any, **kwargs: Any) -> None:
    audit_record(action=AuditAction.EMAIL_CONFIRMED, request=request, actor=email_address.user)


@receiver(account_signals.password_changed)
@receiver(account_signals.password_set)
def _password_changed(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    audit_record(action=AuditAction.PASSWORD_CHANGED, request=request, actor=user)


@receiver(account_signals.password_reset)
def _password_reset(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    audit_record(action=AuditAction.PASSWORD_RESET, request=request, actor=user)


@receiver(mfa_signals.authenticator_added)
def _mfa_added(sender: Any, request: HttpRequest, user: Any, authenticator: Any, **kw: Any) -> None:
    audit_record(
        action=AuditAction.MFA_ADDED, request=request, actor=user, data={"type": authenticator.type}
    )


@receiver(mfa_signals.authenticator_removed)
def _mfa_removed(
    sender: Any, request: HttpRequest, user: Any, authenticator: Any, **kw: Any
) -> None:
    audit_record(
        action=AuditAction.MFA_REMOVED,
        request=request,
        actor=user,
        data={"type": authenticator.type},
    )


@receiver(mfa_signals.authenticator_reset)
def _mfa_reset(sender: Any, request: HttpRequest, user: Any, authenticator: Any, **kw: Any) -> None:
    audit_record(
        action=AuditAction.MFA_RESET, request=request, actor=user, data={"type": authenticator.type}
    )


@receiver(mfa_signals.authentication_failed)
def _mfa_failed(sender: Any, request: HttpRequest, user: Any, **kw: Any) -> None:
    audit_record(action=AuditAction.MFA_FAILED, request=request, actor=None, subject_user=user)


@receiver(social_signals.social_account_added)
def _provider_linked(sender: Any, request: HttpRequest, sociallogin: Any, **kw: Any) -> None:
    audit_record(
        action=AuditAction.PROVIDER_LINKED,
        request=request,
        actor=sociallogin.user,
        data={"provider": sociallogin.account.provider},
    )


@receiver(social_signals.social_account_removed)
def _provider_unlinked(sender: Any, request: HttpRequest, socialaccount: Any, **kw: Any) -> None:
    audit_record(
        action=AuditAction.PROVIDER_UNLINKED,
        request=request,
        actor=socialaccount.user,
        data={"provider": socialaccount.provider},
    )
