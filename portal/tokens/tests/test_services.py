from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from portal.core.models import AuditAction, AuditEvent
from portal.customers.models import Membership
from portal.customers.roles import Role
from portal.customers.services import membership_remove
from portal.customers.tests.factories import make_customer, make_member
from portal.tokens import services
from portal.tokens.models import PersonalAccessToken, TokenScope, TokenStatus
from portal.tokens.secret import TOKEN_PREFIX, hash_token
from portal.tokens.selectors import TokenRejected, token_authenticate

from .factories import make_token

pytestmark = pytest.mark.django_db


@pytest.fixture
def member() -> Membership:
    acme = make_customer("Acme Ltd")
    make_member(acme, Role.ADMIN)  # someone else stays admin
    user = make_member(acme, Role.MEMBER)
    return Membership.objects.get(user=user, customer=acme)


def test_a_token_is_stored_as_a_hash_and_shown_only_to_its_creator(member: Membership) -> None:
    token, secret = make_token(member.user, member.customer, TokenScope.READ)
    assert secret.startswith(TOKEN_PREFIX) and len(secret) == len(TOKEN_PREFIX) + 40
    stored = PersonalAccessToken.objects.get(pk=token.pk)
    assert stored.token_hash == hash_token(secret)
    assert secret not in {getattr(stored, f.attname) for f in stored._meta.fields}
    assert stored.display_hint == secret[: len(TOKEN_PREFIX) + 6] + "…"
    assert stored.scopes == ["read"]
    found, membership = token_authenticate(secret=secret)
    assert found.pk == token.pk and membership.pk == member.pk


def test_two_tokens_never_share_a_secret(member: Membership) -> None:
    secrets = {make_token(member.user, member.customer)[1] for _ in range(20)}
    assert len(secrets) == 20


def test_creating_and_revoking_are_audited_without_the_secret(member: Membership) -> None:
    token, secret = make_token(member.user, member.customer)
    services.token_revoke(token=token, actor=member.user)
    services.token_revoke(token=token, actor=member.user)  # twice changes nothing
    events = AuditEvent.objects.filter(customer=member.customer).order_by("id")
    assert [e.action for e in events] == [AuditAction.TOKEN_CREATED, AuditAction.TOKEN_REVOKED]
    assert all(secret not in str(e.data) and token.token_hash not in str(e.data) for e in events)
    assert events[0].data["name"] == "Integration"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("revoke", "revoked"),
        ("expire", "expired"),
        ("deactivate", "inactive_user"),
        ("leave", "no_membership"),
    ],
)
def test_a_token_stops_working(member: Membership, change: str, reason: str) -> None:
    token, secret = make_token(member.user, member.customer)
    if change == "revoke":
        services.token_revoke(token=token, actor=member.user)
    elif change == "expire":
        PersonalAccessToken.objects.filter(pk=token.pk).update(expires_at=timezone.now())
    elif change == "deactivate":
        type(member.user).objects.filter(pk=member.user.pk).update(is_active=False)
    else:
        membership_remove(membership=member, actor=member.user)
    with pytest.raises(TokenRejected) as rejected:
        token_authenticate(secret=secret)
    assert rejected.value.reason == reason
    assert rejected.value.token is not None and rejected.value.token.pk == token.pk


def test_coming_back_to_the_customer_does_not_revive_an_old_token(member: Membership) -> None:
    token, secret = make_token(member.user, member.customer)
    PersonalAccessToken.objects.filter(pk=token.pk).update(
        created_at=timezone.now() - timedelta(days=1)
    )
    Membership.objects.filter(pk=member.pk).delete()
    Membership.objects.create(user=member.user, customer=member.customer, role=Role.MEMBER)
    with pytest.raises(TokenRejected):
        token_authenticate(secret=secret)


@pytest.mark.parametrize(
    "secret", ["", "cpat_", "cpat_short", "Bearer x", "cpat_" + "A" * 40, "x" * 5000]
)
def test_unknown_or_malformed_secrets_are_rejected(secret: str) -> None:
    with pytest.raises(TokenRejected) as rejected:
        token_authenticate(secret=secret)
    assert rejected.value.token is None


def test_use_is_recorded_at_most_once_a_minute(member: Membership) -> None:
    token, _ = make_token(member.user, member.customer)
    for _ in range(5):
        services.token_used(token=token)
    token.refresh_from_db()
    assert token.last_used_at is not None
    assert AuditEvent.objects.filter(action=AuditAction.TOKEN_USED).count() == 1
    for _ in range(3):
        services.token_refused(token=token, reason="revoked")
    assert AuditEvent.objects.filter(action=AuditAction.TOKEN_REFUSED).count() == 1


def test_a_token_needs_a_membership_a_name_and_a_sane_lifetime(member: Membership) -> None:
    other = make_customer("Other plc")
    with pytest.raises(ValidationError) as error:
        make_token(member.user, other)
    assert "customer" in error.value.message_dict
    with pytest.raises(ValidationError):
        make_token(member.user, member.customer, name="   ")
    with pytest.raises(ValidationError):
        make_token(member.user, member.customer, days=366)
    with pytest.raises(ValidationError):
        make_token(member.user, member.customer, days=0)


def test_active_tokens_per_person_are_limited(
    member: Membership, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(services, "MAX_ACTIVE_TOKENS", 2)
    first, _ = make_token(member.user, member.customer)
    make_token(member.user, member.customer)
    with pytest.raises(ValidationError):
        make_token(member.user, member.customer)
    services.token_revoke(token=first, actor=member.user)
    make_token(member.user, member.customer)


def test_status_follows_revocation_and_expiry(member: Membership) -> None:
    token, _ = make_token(member.user, member.customer)
    statuses = [token.status]
    token.expires_at = timezone.now() - timedelta(seconds=1)
    statuses.append(token.status)
    token.revoked_at = timezone.now()
    statuses.append(token.status)
    assert statuses == [TokenStatus.ACTIVE, TokenStatus.EXPIRED, TokenStatus.REVOKED]


def test_the_data_export_lists_tokens_without_secrets(member: Membership) -> None:
    from portal.accounts.services import account_export

    token, secret = make_token(member.user, member.customer)
    data = account_export(user=member.user)
    (exported,) = data["access_tokens"]
    assert exported["name"] == "Integration" and exported["hint"] == token.display_hint
    assert secret not in str(data) and token.token_hash not in str(data)


def test_deleting_the_account_revokes_its_tokens(member: Membership) -> None:
    from portal.accounts.services import account_delete
    from portal.core.tests.factories import TEST_PASSWORD

    token, secret = make_token(member.user, member.customer)
    account_delete(user=member.user, password=TEST_PASSWORD)
    token.refresh_from_db()
    assert token.revoked_at is not None
    with pytest.raises(TokenRejected):
        token_authenticate(secret=secret)
