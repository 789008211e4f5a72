"""``/api/v1/customers``: the organisations the caller acts for, with their role in each."""

# No ``from __future__ import annotations`` here: ninja reads these annotations at run time.

from django.http import HttpRequest
from ninja import Router, Schema
from ninja.pagination import paginate

from portal.apikit.auth import principal
from portal.apikit.pagination import PagePagination
from portal.apikit.schemas import IdPath

from .models import CustomerKind, Membership
from .roles import Permission, Role

router = Router(tags=["customers"])


class CustomerOut(Schema):
    id: int
    number: str
    name: str
    kind: CustomerKind


class MembershipOut(Schema):
    customer: CustomerOut
    role: Role
    permissions: list[Permission]


def membership_out(membership: Membership) -> MembershipOut:
    customer = membership.customer
    return MembershipOut(
        customer=CustomerOut(
            id=customer.pk,
            number=customer.number,
            name=customer.name,
            kind=CustomerKind(customer.kind),
        ),
        role=Role(membership.role),
        permissions=sorted(Role(membership.role).permissions),
    )


@router.get("/customers", response=list[MembershipOut], summary="List my customers")
@paginate(PagePagination)
def customer_list(request: HttpRequest) -> list[MembershipOut]:
    """The customers this request may act for (with a token: only the token's), with your
    role and what it allows."""
    return [membership_out(m) for m in principal(request).memberships]


@router.get("/customers/{int:customer_id}", response=MembershipOut, summary="Get a customer")
def customer_get(
    request: HttpRequest, customer_id: int = IdPath("The customer's id.")
) -> MembershipOut:
    """One customer you act for; any other is a 404."""
    return membership_out(principal(request).membership(customer_id))
