"""Every change to customers, memberships and invitations."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.accounts.models import User
from portal.core.audit import audit_record
from portal.core.email import send_portal_email
from portal.core.models import AuditAction

from .models import Customer, CustomerKind, Invitation, Membership
from .roles import Role


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def customer_create(
    *,
    name: str,
    kind: str = CustomerKind.ORGANISATION,
    admin: User | None = None,
    number: str | None = None,
) -> Customer:
    customer = Customer.objects.create(name=name, kind=kind, number=number or _temporary_number())
    if number is None:
        customer.number = f"C-{customer.pk:06d}"
        customer.save(update_fields=["number"])
    if admin is not None:
        Membership.objects.create(user=admin, customer=customer, role=Role.ADMIN)
    return customer


def _temporary_number() -> str:
    return f"tmp-{secrets.token_hex(6)}"


def _admin_count(customer: Customer) -> int:
    return Membership.objects.filter(customer=customer, role=Role.ADMIN).count()


@transaction.atomic
def invitation_create(
    *,
    customer: Customer,
    email: str,
    role: str,
    invited_by: User,
    request: HttpRequest | None = None,
) -> tuple[Invitation, str]:
    """Invite ``email`` to ``customer``. Returns the invitation and its one-time token."""
    email = email.strip().lower()
    if Membership.objects.filter(customer=customer, user__email__iexact=email).exists():
        raise ValidationError(
            {"email": _("%(email)s is already a member.") % {"email": email}}, code="member"
        )
    # A new invitation replaces any earlier one to the same address.
    Invitation.objects.filter(
        customer=customer, email=email, accepted_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=timezone.now())
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        customer=customer,
        email=email,
        role=Role(role),
        token_hash=_hash_token(token),
        invited_by=invited_by,
        expires_at=timezone.now() + timedelta(days=settings.PORTAL_INVITATION_DAYS),
    )
    audit_record(
        action=AuditAction.INVITATION_SENT,
        request=request,
        actor=invited_by,
        customer=customer,
        data={"email": email, "role": role},
    )
    accept_path = reverse("customers:invitation_accept", args=[token])
    # The host the admin is using (checked against ALLOWED_HOSTS), else the configured one.
    accept_url = (
        request.build_absolute_uri(accept_path)
        if request is not None
        else settings.PORTAL_BASE_URL + accept_path
    )
    context = {
        "invitation": invitation,
        "accept_url": accept_url,
        "inviter": invited_by.display_name,
        "days": settings.PORTAL_INVITATION_DAYS,
    }
    transaction.on_commit(
        lambda: send_portal_email(
            to=[email],
            subject=_("You are invited to %(customer)s on the customer portal")
            % {"customer": customer.name},
            body=render_to_string("customers/email/invitation.txt", context),
        )
    )
    return invitation, token


def invitation_for_token(token: str) -> Invitation | None:
    """The pending invitation for ``token``, or None if unknown, used, withdrawn or expired."""
    invitation = (
        Invitation.objects.select_related("customer").filter(token_hash=_hash_token(token)).first()
    )
    if invitation is None or not invitation.is_pending:
        return None
    return invitation


@transaction.atomic
def invitation_accept(*, token: str, user: User, request: HttpRequest | None = None) -> Membership:
    invitation = (
        Invitation.objects.select_for_update()
        .select_related("customer")
        .filter(token_hash=_hash_token(token))
        .first()
    )
    if invitation is None or not invitation.is_pending:
        raise ValidationError(
            _("This invitation is no longer valid. Ask the person who invited you for a new one."),
            code="invalid",
        )
    if user.email.lower() != invitation.email.lower():
        raise ValidationError(
            _(
                "This invitation was sent to another e-mail address. Sign in with "
                "the address it was sent to."
            ),
            code="wrong_user",
        )
    membership, created = Membership.objects.get_or_create(
        user=user, customer=invitation.customer, defaults={"role": invitation.role}
    )
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    audit_record(
        action=AuditAction.INVITATION_ACCEPTED,
        request=request,
        actor=user,
        customer=invitation.customer,
        data={"role": membership.role},
    )
    return membership


@transaction.atomic
def membership_grant_from_provider(
    *,
    user: User,
    customer_number: str,
    role: str,
    provider_id: str,
    claim_value: str,
    request: HttpRequest | None = None,
) -> Membership | None:
    """Make ``user`` a member because their identity provider says so.

    Returns the membership, or None when no customer has that number. An
    existing membership is left as it is: roles are then managed here.
    """
    customer = Customer.objects.filter(number=customer_number).first()
    if customer is None:
        return None
    membership, created = Membership.objects.get_or_create(
        user=user, customer=customer, defaults={"role": Role(role)}
    )
    if created:
        audit_record(
            action=AuditAction.MEMBER_ADDED_BY_PROVIDER,
            request=request,
            actor=None,
            subject_user=user,
            customer=customer,
            data={"role": membership.role, "provider": provider_id, "claim_value": claim_value},
        )
    return membership


@transaction.atomic
def invitation_revoke(
    *, invitation: Invitation, actor: User, request: HttpRequest | None = None
) -> None:
    if invitation.accepted_at is not None or invitation.revoked_at is not None:
        return
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])
    audit_record(
        action=AuditAction.INVITATION_REVOKED,
        request=request,
        actor=actor,
        customer=invitation.customer,
        data={"email": invitation.email},
    )


@transaction.atomic
def membership_change_role(
    *, membership: Membership, role: str, actor: User, request: HttpRequest | None = None
) -> Membership:
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    new_role = Role(role)
    if membership.role == new_role:
        return membership
    if membership.role == Role.ADMIN and _admin_count(membership.customer) <= 1:
        raise ValidationError(
            _("%(customer)s needs at least one admin. Make someone else admin first.")
            % {"customer": membership.customer.name},
            code="last_admin",
        )
    old_role = membership.role
    membership.role = new_role
    membership.save(update_fields=["role"])
    audit_record(
        action=AuditAction.ROLE_CHANGED,
        request=request,
        actor=actor,
        subject_user=membership.user,
        customer=membership.customer,
        data={"from": old_role, "to": new_role.value},
    )
    return membership


@transaction.atomic
def membership_remove(
    *, membership: Membership, actor: User, request: HttpRequest | None = None
) -> None:
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if membership.role == Role.ADMIN and _admin_count(membership.customer) <= 1:
        raise ValidationError(
            _("%(customer)s needs at least one admin. Make someone else admin first.")
            % {"customer": membership.customer.name},
            code="last_admin",
        )
    audit_record(
        action=AuditAction.MEMBER_REMOVED,
        request=request,
        actor=actor,
        subject_user=membership.user,
        customer=membership.customer,
        data={"role": membership.role},
    )
    membership.delete()


@transaction.atomic
def customer_set_require_mfa(
    *, customer: Customer, require: bool, actor: User, request: HttpRequest | None = None
) -> Customer:
    if customer.require_mfa == require:
        return customer
    customer.require_mfa = require
    customer.save(update_fields=["require_mfa"])
    audit_record(
        action=AuditAction.MFA_POLICY_CHANGED,
        request=request,
        actor=actor,
        customer=customer,
        data={"require_mfa": require},
    )
    return customer
