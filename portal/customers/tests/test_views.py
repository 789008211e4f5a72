"""Who may open which customer page. Every route of the app must appear in ACCESS."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.test import Client
from django.urls import get_resolver

from portal.accounts.models import User
from portal.core.models import AuditAction, AuditEvent
from portal.core.tests.factories import UserFactory
from portal.customers import services
from portal.customers.models import Customer, Invitation, Membership
from portal.customers.roles import Role

from .factories import make_customer, make_member

pytestmark = pytest.mark.django_db


@dataclass
class World:
    acme: Customer
    globex: Customer
    admin: User
    member: User
    billing: User
    other_admin: User
    outsider: User
    member_ship: Membership
    other_member_ship: Membership
    other_invitation: Invitation


@pytest.fixture
def world() -> World:
    acme = make_customer("Acme Ltd")
    globex = make_customer("Globex")
    admin = make_member(acme, Role.ADMIN)
    member = make_member(acme, Role.MEMBER)
    billing = make_member(acme, Role.BILLING)
    other_admin = make_member(globex, Role.ADMIN)
    other_member = make_member(globex, Role.MEMBER)
    invitation, _ = services.invitation_create(
        customer=globex, email="guest@example.com", role=Role.MEMBER, invited_by=other_admin
    )
    return World(
        acme=acme,
        globex=globex,
        admin=admin,
        member=member,
        billing=billing,
        other_admin=other_admin,
        outsider=UserFactory(),
        member_ship=Membership.objects.get(user=member),
        other_member_ship=Membership.objects.get(user=other_member),
        other_invitation=invitation,
    )


# Route name -> (method, path builder using the world, expected status per actor).
# "login" means a redirect to the sign-in page.
ACCESS: dict[str, tuple[str, Callable[[World], str]]] = {
    "members": ("get", lambda w: "/customer/members/"),
    "security": ("get", lambda w: "/customer/security/"),
    "activity": ("get", lambda w: "/customer/activity/"),
    "member_role": ("get", lambda w: f"/customer/members/{w.member_ship.pk}/role/"),
    "member_remove": ("get", lambda w: f"/customer/members/{w.member_ship.pk}/remove/"),
}
EXPECTED = {
    "anonymous": "login",
    "outsider": 404,  # belongs to no customer
    "member": 403,
    "billing": 403,
    "admin": 200,
}
# Routes with their own rules, tested below.
SPECIAL = {"switch", "invitation_revoke", "invitation_accept"}


def test_every_customer_route_has_an_access_rule() -> None:
    resolver = get_resolver()
    names = {
        name
        for name in resolver.namespace_dict["customers"][1].reverse_dict
        if isinstance(name, str)
    }
    assert names == set(ACCESS) | SPECIAL


@pytest.mark.parametrize("route", sorted(ACCESS))
@pytest.mark.parametrize("actor", sorted(EXPECTED))
def test_access_matrix(client: Client, world: World, route: str, actor: str) -> None:
    method, build = ACCESS[route]
    if actor != "anonymous":
        client.force_login(getattr(world, actor))
    response = getattr(client, method)(build(world))
    expected = EXPECTED[actor]
    if expected == "login":
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=")
    else:
        assert response.status_code == expected


@pytest.mark.parametrize(
    "path",
    [
        "/customer/members/{other_member}/role/",
        "/customer/members/{other_member}/remove/",
    ],
)
def test_another_customers_member_is_not_found(client: Client, world: World, path: str) -> None:
    client.force_login(world.admin)
    url = path.format(other_member=world.other_member_ship.pk)
    assert client.get(url).status_code == 404
    assert client.post(url, {"role": "admin"}).status_code == 404
    assert Membership.objects.filter(pk=world.other_member_ship.pk, role=Role.MEMBER).exists()


def test_another_customers_invitation_cannot_be_withdrawn(client: Client, world: World) -> None:
    client.force_login(world.admin)
    response = client.post(f"/customer/invitations/{world.other_invitation.pk}/revoke/")
    assert response.status_code == 404
    world.other_invitation.refresh_from_db()
    assert world.other_invitation.revoked_at is None


def test_a_member_cannot_withdraw_invitations(client: Client, world: World) -> None:
    client.force_login(world.member)
    invitation, _ = services.invitation_create(
        customer=world.acme, email="x@example.com", role=Role.MEMBER, invited_by=world.admin
    )
    assert client.post(f"/customer/invitations/{invitation.pk}/revoke/").status_code == 403


def test_switching_to_a_customer_one_is_not_in_is_not_found(client: Client, world: World) -> None:
    client.force_login(world.admin)
    response = client.post("/customer/switch/", {"customer": world.globex.pk})
    assert response.status_code == 404
    assert client.post("/customer/switch/", {"customer": "not-a-number"}).status_code == 404


def test_switching_between_own_customers(client: Client, world: World) -> None:
    Membership.objects.create(user=world.admin, customer=world.globex, role=Role.MEMBER)
    client.force_login(world.admin)
    assert client.get("/customer/members/").status_code == 200  # Acme first (by name)
    response = client.post(
        "/customer/switch/", {"customer": world.globex.pk, "next": "https://evil.example/"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/"  # an off-site next= is refused
    assert client.get("/customer/members/").status_code == 403  # only a member at Globex


def test_admin_invites_changes_roles_and_removes(client: Client, world: World) -> None:
    client.force_login(world.admin)
    response = client.post("/customer/members/", {"email": "new@example.com", "role": "billing"})
    assert response.status_code == 302
    assert Invitation.objects.pending().filter(customer=world.acme, email="new@example.com")

    response = client.post(f"/customer/members/{world.member_ship.pk}/role/", {"role": "billing"})
    assert response.status_code == 302
    world.member_ship.refresh_from_db()
    assert world.member_ship.role == Role.BILLING

    response = client.post(f"/customer/members/{world.member_ship.pk}/remove/")
    assert response.status_code == 302
    assert not Membership.objects.filter(pk=world.member_ship.pk).exists()


def test_invalid_invitation_input_is_explained(client: Client, world: World) -> None:
    client.force_login(world.admin)
    response = client.post("/customer/members/", {"email": "not an address", "role": "owner"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "Enter a valid email address." in body
    assert "Select a valid choice." in body
    assert not Invitation.objects.filter(customer=world.acme).exists()


def test_the_last_admin_is_told_why_they_cannot_leave(client: Client, world: World) -> None:
    client.force_login(world.admin)
    own = Membership.objects.get(user=world.admin)
    response = client.post(f"/customer/members/{own.pk}/remove/")
    assert response.status_code == 200
    assert "needs at least one admin" in response.content.decode()
    assert Membership.objects.filter(pk=own.pk).exists()


def test_accepting_an_invitation_through_the_page(client: Client, world: World) -> None:
    _, token = services.invitation_create(
        customer=world.acme, email="joiner@example.com", role=Role.MEMBER, invited_by=world.admin
    )
    url = f"/customer/invitations/accept/{token}/"
    anonymous = client.get(url)
    assert anonymous.status_code == 200
    assert "Sign in with that address" in anonymous.content.decode()

    joiner = UserFactory(email="joiner@example.com")
    client.force_login(joiner)
    response = client.post(url)
    assert response.status_code == 302
    assert Membership.objects.filter(user=joiner, customer=world.acme, role=Role.MEMBER).exists()
    assert client.get(url).status_code == 404  # used up
    assert AuditEvent.objects.filter(action=AuditAction.INVITATION_ACCEPTED).exists()


def test_an_unknown_invitation_token_is_not_found(client: Client) -> None:
    assert client.get("/customer/invitations/accept/made-up-token/").status_code == 404


def test_customer_activity_shows_its_own_events_only(client: Client, world: World) -> None:
    services.customer_set_require_mfa(customer=world.globex, require=True, actor=world.other_admin)
    services.membership_change_role(membership=world.member_ship, role="billing", actor=world.admin)
    client.force_login(world.admin)
    response = client.get("/customer/activity/")
    events = list(response.context["page"].object_list)
    assert events and all(
        e.customer_id == world.acme.pk or e.subject_user_id in {world.admin.pk} for e in events
    )
    assert not any(e.customer_id == world.globex.pk for e in events)
