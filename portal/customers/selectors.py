"""Reads of customers and memberships, always from the point of view of a user.

This is the access layer the other apps build on: an object that belongs to a
customer the user is not a member of is reported exactly like a missing one.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.http import Http404

from portal.accounts.models import User
from portal.core.models import AuditEvent

from .models import Customer, Invitation, Membership
from .roles import Permission, Role, role_allows


def memberships_for_user(*, user: User) -> QuerySet[Membership]:
    if not user.is_authenticated:
        return Membership.objects.none()
    return (
        Membership.objects.filter(user=user).select_related("customer").order_by("customer__name")
    )


def customers_for_user(*, user: User, permission: Permission | None = None) -> QuerySet[Customer]:
    """Customers the user belongs to; with ``permission``, only where their role allows it."""
    memberships = memberships_for_user(user=user)
    if permission is not None:
        # The roles that grant it are known without asking the database: one subquery.
        roles = [role.value for role in Role if role_allows(role, permission)]
        memberships = memberships.filter(role__in=roles)
    return Customer.objects.filter(pk__in=memberships.values("customer_id"))


def membership_get_for_user(*, user: User, customer_id: int) -> Membership:
    membership = memberships_for_user(user=user).filter(customer_id=customer_id).first()
    if membership is None:
        raise Http404("No such customer.")
    return membership


def members_of_customer(*, customer: Customer) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(customer=customer).select_related("user").order_by("user__email")
    )


def member_get_for_admin(*, customer: Customer, membership_id: int) -> Membership:
    """A membership of ``customer`` (the admin's active customer); 404 for any other."""
    membership = (
        Membership.objects.select_related("user", "customer")
        .filter(customer=customer, pk=membership_id)
        .first()
    )
    if membership is None:
        raise Http404("No such member.")
    return membership


def pending_invitations(*, customer: Customer) -> QuerySet[Invitation]:
    return Invitation.objects.pending().filter(customer=customer).select_related("invited_by")


def invitation_get_for_admin(*, customer: Customer, invitation_id: int) -> Invitation:
    invitation = Invitation.objects.filter(customer=customer, pk=invitation_id).first()
    if invitation is None:
        raise Http404("No such invitation.")
    return invitation


def activity_for_customer(*, customer: Customer) -> QuerySet[AuditEvent]:
    """Security events of a customer and of its current members."""
    member_ids = Membership.objects.filter(customer=customer).values("user_id")
    return AuditEvent.objects.filter(
        Q(customer=customer) | Q(subject_user__in=member_ids)
    ).select_related("actor", "subject_user", "customer")
