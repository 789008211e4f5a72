from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from portal.core.models import AuditAction, AuditEvent
from portal.core.tests.factories import UserFactory
from portal.customers import services
from portal.customers.models import Invitation, Membership
from portal.customers.roles import Role

from .factories import make_customer, make_member

pytestmark = pytest.mark.django_db


def test_customer_numbers_are_readable_and_unique() -> None:
    first = services.customer_create(name="One")
    second = services.customer_create(name="Two")
    assert first.number == f"C-{first.pk:06d}"
    assert second.number != first.number


def test_invitation_is_mailed_and_stores_only_a_hash(
    django_capture_on_commit_callbacks: object,
) -> None:
    customer = make_customer()
    admin = make_member(customer, Role.ADMIN)
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        invitation, token = services.invitation_create(
            customer=customer, email="New@Example.com", role=Role.BILLING, invited_by=admin
        )
    assert invitation.email == "new@example.com"
    assert token not in invitation.token_hash
    (message,) = mail.outbox
    assert message.to == ["new@example.com"]
    assert f"/customer/invitations/accept/{token}/" in message.body
    assert AuditEvent.objects.filter(action=AuditAction.INVITATION_SENT, customer=customer).exists()


def test_an_invitation_works_once() -> None:
    customer = make_customer()
    admin = make_member(customer, Role.ADMIN)
    _, token = services.invitation_create(
        customer=customer, email="colleague@example.com", role=Role.MEMBER, invited_by=admin
    )
    colleague = UserFactory(email="colleague@example.com")
    membership = services.invitation_accept(token=token, user=colleague)
    assert membership.role == Role.MEMBER
    assert services.invitation_for_token(token) is None
    with pytest.raises(ValidationError, match="no longer valid"):
        services.invitation_accept(token=token, user=colleague)


def test_an_expired_invitation_is_refused() -> None:
    customer = make_customer()
    admin = make_member(customer, Role.ADMIN)
    invitation, token = services.invitation_create(
        customer=customer, email="late@example.com", role=Role.MEMBER, invited_by=admin
    )
    Invitation.objects.filter(pk=invitation.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    with pytest.raises(ValidationError, match="no longer valid"):
        services.invitation_accept(token=token, user=UserFactory(email="late@example.com"))
    assert not Membership.objects.filter(user__email="late@example.com").exists()


def test_an_invitation_is_for_its_address_only() -> None:
    customer = make_customer()
    admin = make_member(customer, Role.ADMIN)
    _, token = services.invitation_create(
        customer=customer, email="right@example.com", role=Role.ADMIN, invited_by=admin
    )
    with pytest.raises(ValidationError, match="another e-mail address"):
        services.invitation_accept(token=token, user=UserFactory(email="wrong@example.com"))
    # Still usable by the right person.
    services.invitation_accept(token=token, user=UserFactory(email="right@example.com"))


def test_a_withdrawn_or_replaced_invitation_is_refused() -> None:
    customer = make_customer()
    admin = make_member(customer, Role.ADMIN)
    first, first_token = services.invitation_create(
        customer=customer, email="x@example.com", role=Role.MEMBER, invited_by=admin
    )
    _, second_token = services.invitation_create(
        customer=customer, email="x@example.com", role=Role.BILLING, invited_by=admin
    )
    assert services.invitation_for_token(first_token) is None
    invitation = services.invitation_for_token(second_token)
    assert invitation is not None
    services.invitation_revoke(invitation=invitation, actor=admin)
    assert services.invitation_for_token(second_token) is None


def test_inviting_an_existing_member_is_refused() -> None:
    customer = make_customer()
    admin = make_member(customer, Role.ADMIN)
    make_member(customer, Role.MEMBER, email="already@example.com")
    with pytest.raises(ValidationError, match="already a member"):
        services.invitation_create(
            customer=customer, email="already@example.com", role=Role.MEMBER, invited_by=admin
        )


def test_the_last_admin_can_neither_leave_nor_be_demoted() -> None:
    customer = make_customer()
    admin = make_member(customer, Role.ADMIN)
    make_member(customer, Role.MEMBER)
    membership = Membership.objects.get(user=admin)
    with pytest.raises(ValidationError, match="at least one admin"):
        services.membership_remove(membership=membership, actor=admin)
    with pytest.raises(ValidationError, match="at least one admin"):
        services.membership_change_role(membership=membership, role=Role.MEMBER, actor=admin)
    assert Membership.objects.get(user=admin).role == Role.ADMIN


def test_with_two_admins_one_may_leave() -> None:
    customer = make_customer()
    admin = make_member(customer, Role.ADMIN)
    make_member(customer, Role.ADMIN)
    services.membership_remove(membership=Membership.objects.get(user=admin), actor=admin)
    assert not Membership.objects.filter(user=admin).exists()


def test_role_changes_are_audited() -> None:
    customer = make_customer()
    admin = make_member(customer, Role.ADMIN)
    member = make_member(customer, Role.MEMBER)
    services.membership_change_role(
        membership=Membership.objects.get(user=member), role=Role.BILLING, actor=admin
    )
    event = AuditEvent.objects.get(action=AuditAction.ROLE_CHANGED)
    assert (event.actor, event.subject_user, event.customer) == (admin, member, customer)
    assert event.data == {"from": "member", "to": "billing"}
