"""Reads of personal access tokens: a person's own list, and the check behind every API call."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone

from portal.accounts.models import User
from portal.customers.models import Membership

from .models import PersonalAccessToken
from .secret import hash_token, looks_like_token


class TokenRejected(Exception):
    """A presented token does not authenticate. ``token`` is set when it names a real one."""

    def __init__(self, reason: str, token: PersonalAccessToken | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.token = token


def tokens_for_user(*, user: User) -> QuerySet[PersonalAccessToken]:
    return PersonalAccessToken.objects.filter(user=user).select_related("customer")


def token_get_for_user(*, user: User, token_id: int) -> PersonalAccessToken:
    """One of ``user``'s tokens; 404 for any other, as for a missing one."""
    token = tokens_for_user(user=user).filter(pk=token_id).first()
    if token is None:
        raise Http404("No such token.")
    return token


def token_authenticate(*, secret: str) -> tuple[PersonalAccessToken, Membership]:
    """The token behind ``secret`` and the membership it acts as, or :class:`TokenRejected`.

    A token works while it is neither revoked nor expired, its owner is active,
    and the owner still holds the membership the token was made for. A
    membership created after the token (the person left and was invited back)
    does not revive it.
    """
    if not looks_like_token(secret):
        raise TokenRejected("malformed")
    token = (
        PersonalAccessToken.objects.select_related("user", "customer")
        .filter(token_hash=hash_token(secret))
        .first()
    )
    if token is None:
        raise TokenRejected("unknown")
    if token.revoked_at is not None:
        raise TokenRejected("revoked", token)
    if token.expires_at <= timezone.now():
        raise TokenRejected("expired", token)
    if not token.user.is_active:
        raise TokenRejected("inactive_user", token)
    membership = Membership.objects.filter(
        user_id=token.user_id, customer_id=token.customer_id, created_at__lte=token.created_at
    ).first()
    if membership is None:
        raise TokenRejected("no_membership", token)
    membership.customer = token.customer
    membership.user = token.user
    return token, membership
