"""Two customers with members, tokens and notifications: the API tests' world."""

from __future__ import annotations

from dataclasses import dataclass

from portal.accounts.models import User
from portal.customers.models import Customer
from portal.customers.roles import Role
from portal.customers.tests.factories import make_customer, make_member
from portal.live.models import Notification
from portal.tokens.models import TokenScope
from portal.tokens.tests.factories import make_token

# Written into every object of the other customer: no answer to Acme may contain it.
FOREIGN_MARK = "Zebra-Foreign-7731"


@dataclass
class World:
    acme: Customer
    other: Customer
    admin: User
    member: User
    billing: User
    stranger: User
    read_token: str  # the member's, read only
    write_token: str  # the member's, read and write
    admin_token: str
    billing_token: str
    stranger_token: str
    mine: Notification
    foreign: Notification


def build_world() -> World:
    acme, other = make_customer("Acme Ltd"), make_customer(f"Other plc {FOREIGN_MARK}")
    admin = make_member(acme, Role.ADMIN)
    member = make_member(acme, Role.MEMBER)
    billing = make_member(acme, Role.BILLING)
    stranger = make_member(other, Role.ADMIN, first_name=FOREIGN_MARK)
    mine = Notification.objects.create(
        user=member, customer=acme, kind="service_request", title="Your request moved"
    )
    foreign = Notification.objects.create(
        user=stranger, customer=other, kind="service_request", title=f"{FOREIGN_MARK} news"
    )
    return World(
        acme=acme,
        other=other,
        admin=admin,
        member=member,
        billing=billing,
        stranger=stranger,
        read_token=make_token(member, acme, TokenScope.READ)[1],
        write_token=make_token(member, acme, TokenScope.WRITE)[1],
        admin_token=make_token(admin, acme, TokenScope.WRITE)[1],
        billing_token=make_token(billing, acme, TokenScope.WRITE)[1],
        stranger_token=make_token(stranger, other, TokenScope.WRITE)[1],
        mine=mine,
        foreign=foreign,
    )
