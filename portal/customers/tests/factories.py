from __future__ import annotations

from portal.accounts.models import User
from portal.core.tests.factories import UserFactory
from portal.customers.models import Customer, Membership
from portal.customers.roles import Role
from portal.customers.services import customer_create


def make_customer(name: str = "Acme Ltd", **users_by_role: User) -> Customer:
    customer = customer_create(name=name)
    for role, user in users_by_role.items():
        Membership.objects.create(user=user, customer=customer, role=Role(role))
    return customer


def make_member(customer: Customer, role: str = Role.MEMBER, **user_fields: str) -> User:
    user: User = UserFactory(**user_fields)
    Membership.objects.create(user=user, customer=customer, role=Role(role))
    return user
