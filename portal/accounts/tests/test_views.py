from __future__ import annotations

import json

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from django.core import mail
from django.test import Client

from portal.accounts.models import NotificationPreference, User
from portal.core.models import AuditAction, AuditEvent
from portal.core.tests.factories import TEST_PASSWORD, UserFactory
from portal.customers.models import Customer, Membership
from portal.customers.roles import Role
from portal.customers.tests.factories import make_customer, make_member

pytestmark = pytest.mark.django_db

ACCOUNT_PAGES = [
    "/accounts/profile/",
    "/accounts/notifications/",
    "/accounts/activity/",
    "/accounts/privacy/",
    "/accounts/privacy/delete/",
    "/accounts/email/",
    "/accounts/password/change/",
    "/accounts/2fa/",
    "/accounts/sessions/",
]


@pytest.mark.parametrize("path", ACCOUNT_PAGES)
def test_account_pages_need_sign_in(client: Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("path", ACCOUNT_PAGES)
def test_account_pages_open_for_their_owner(client: Client, path: str) -> None:
    client.force_login(UserFactory())
    assert client.get(path).status_code == 200


def test_profile_is_saved_and_audited(client: Client) -> None:
    user = UserFactory()
    client.force_login(user)
    response = client.post(
        "/accounts/profile/",
        {
            "first_name": "Ada",
            "last_name": "Lovelace",
            "phone": "+44 20 7946 0000",
            "city": "London",
            "preferred_language": "de",
        },
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert (user.first_name, user.city, user.preferred_language) == ("Ada", "London", "de")
    event = AuditEvent.objects.get(action=AuditAction.PROFILE_UPDATED)
    assert "city" in event.data["fields"]
    # The preferred language applies to the next page.
    assert client.get("/accounts/profile/")["Content-Language"] == "de"


def test_a_persons_language_does_not_outlive_their_request(client: Client) -> None:
    """Work done later on the same thread (a task, the next request) is not in German."""
    from django.utils import translation

    client.force_login(UserFactory(preferred_language="de"))
    with translation.override("en"):
        response = client.get("/accounts/profile/")
        assert response["Content-Language"] == "de"
        assert "Profil" in response.content.decode()
        assert translation.get_language() == "en"


def test_profile_errors_are_explained_and_nothing_is_saved(client: Client) -> None:
    user = UserFactory(first_name="Before")
    client.force_login(user)
    response = client.post(
        "/accounts/profile/",
        {"first_name": "After", "phone": "call me maybe", "preferred_language": "xx"},
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "Enter a phone number" in body
    assert "Select a valid choice" in body
    assert 'value="After"' in body  # what was typed is kept
    user.refresh_from_db()
    assert user.first_name == "Before"


def test_mass_assignment_is_ignored(client: Client) -> None:
    user = UserFactory()
    client.force_login(user)
    client.post(
        "/accounts/profile/",
        {"first_name": "X", "preferred_language": "en", "is_staff": "on", "email": "a@b.example"},
    )
    user.refresh_from_db()
    assert not user.is_staff and user.email != "a@b.example"


def test_notification_preferences(client: Client) -> None:
    user = UserFactory()
    client.force_login(user)
    page = client.get("/accounts/notifications/").content.decode()
    assert page.count('type="checkbox"') == 8 and page.count("checked") == 8  # defaults: all on
    client.post(
        "/accounts/notifications/",
        {"service_request__email": "on", "invoice__in_app": "on"},
    )
    prefs = {p.kind: (p.email, p.in_app) for p in NotificationPreference.objects.filter(user=user)}
    assert prefs["service_request"] == (True, False)
    assert prefs["invoice"] == (False, True)
    assert prefs["document"] == (False, False)


def test_export_holds_my_data_and_no_one_elses(client: Client) -> None:
    customer = make_customer("Shared Ltd")
    me = make_member(customer, Role.ADMIN, email="me@example.com", first_name="Me")
    make_member(customer, Role.MEMBER, email="colleague@example.com", first_name="Colleague")
    other = UserFactory(email="stranger@example.com")
    client.force_login(other)
    client.post("/accounts/logout/")
    client.force_login(me)
    response = client.post("/accounts/privacy/export/")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    data = json.loads(response.content)
    assert data["profile"]["email"] == "me@example.com"
    assert data["memberships"] == [
        {
            "customer_number": customer.number,
            "customer_name": "Shared Ltd",
            "role": "admin",
            "since": data["memberships"][0]["since"],
        }
    ]
    text = response.content.decode()
    assert "colleague@example.com" not in text and "stranger@example.com" not in text
    assert "Colleague" not in text
    assert AuditEvent.objects.filter(action=AuditAction.DATA_EXPORTED, subject_user=me).exists()


def test_export_needs_a_post(client: Client) -> None:
    client.force_login(UserFactory())
    assert client.get("/accounts/privacy/export/").status_code == 405


def test_delete_needs_the_password(client: Client) -> None:
    user = UserFactory()
    client.force_login(user)
    response = client.post("/accounts/privacy/delete/", {"password": "wrong", "confirm": "on"})
    assert "The password is not correct." in response.content.decode()
    user.refresh_from_db()
    assert user.is_active


def test_delete_anonymises_and_keeps_business_records(client: Client) -> None:
    customer = make_customer("Keep Ltd")
    make_member(customer, Role.ADMIN)
    user = make_member(customer, Role.MEMBER, email="leaving@example.com", first_name="Leah")
    client.post("/accounts/login/", {"login": "leaving@example.com", "password": TEST_PASSWORD})
    assert "_auth_user_id" in client.session
    Authenticator.objects.create(user=user, type=Authenticator.Type.TOTP, data={"secret": "x"})
    user_id = user.pk
    response = client.post(
        "/accounts/privacy/delete/", {"password": TEST_PASSWORD, "confirm": "on"}
    )
    assert response.status_code == 302
    user = User.objects.get(pk=user_id)  # the row stays for records that point at it
    assert not user.is_active
    assert user.email == f"deleted-{user_id}@anonymised.invalid"
    assert user.first_name == "" and user.anonymised_at is not None
    assert not user.has_usable_password()
    assert not EmailAddress.objects.filter(user=user).exists()
    assert not Authenticator.objects.filter(user=user).exists()
    assert not Membership.objects.filter(user=user).exists()
    assert Customer.objects.filter(pk=customer.pk).exists()
    # The audit trail stays and points at the anonymised user.
    assert AuditEvent.objects.filter(subject_user=user, action=AuditAction.ACCOUNT_DELETED).exists()
    assert AuditEvent.objects.filter(subject_user=user, action=AuditAction.SIGN_IN).exists()
    # Signed out, and the old address cannot sign in.
    assert "_auth_user_id" not in client.session
    response = client.post(
        "/accounts/login/", {"login": "leaving@example.com", "password": TEST_PASSWORD}
    )
    assert "_auth_user_id" not in client.session


def test_the_only_admin_of_an_organisation_with_members_cannot_delete(client: Client) -> None:
    customer = make_customer()
    admin = make_member(customer, Role.ADMIN)
    make_member(customer, Role.MEMBER)
    client.force_login(admin)
    response = client.post(
        "/accounts/privacy/delete/", {"password": TEST_PASSWORD, "confirm": "on"}
    )
    assert "Make another member admin first" in response.content.decode()
    admin.refresh_from_db()
    assert admin.is_active


def test_activity_shows_my_events_only(client: Client) -> None:
    me = UserFactory(email="me@example.com")
    other = UserFactory(email="other@example.com")
    client.post("/accounts/login/", {"login": "other@example.com", "password": TEST_PASSWORD})
    client.post("/accounts/logout/")
    client.post("/accounts/login/", {"login": "me@example.com", "password": TEST_PASSWORD})
    events = list(client.get("/accounts/activity/").context["page"].object_list)
    assert events and {e.subject_user_id for e in events} == {me.pk}
    assert other.pk not in {e.actor_id for e in events}


def test_audit_events_cannot_be_changed_or_deleted() -> None:
    event = AuditEvent.objects.create(action=AuditAction.SIGN_IN)
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    with pytest.raises(PermissionError):
        AuditEvent.objects.all().delete()
    with pytest.raises(PermissionError):
        AuditEvent.objects.update(action=AuditAction.SIGN_OUT)


def test_the_back_office_cannot_edit_audit_events(client: Client) -> None:
    staff = UserFactory(is_staff=True, is_superuser=True)
    Authenticator.objects.create(user=staff, type=Authenticator.Type.TOTP, data={"secret": "x"})
    event = AuditEvent.objects.create(action=AuditAction.SIGN_IN, actor=staff)
    client.force_login(staff)
    assert client.get("/backoffice/core/auditevent/").status_code == 200
    assert client.get("/backoffice/core/auditevent/add/").status_code == 403
    assert client.post(f"/backoffice/core/auditevent/{event.pk}/delete/").status_code == 403
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_language_switch_is_remembered_for_signed_in_people(client: Client) -> None:
    user = UserFactory()
    client.force_login(user)
    client.post("/i18n/setlang/", {"language": "de", "next": "/dashboard/"})
    user.refresh_from_db()
    assert user.preferred_language == "de"


def test_re_authenticating_takes_the_password_not_a_code_sent_by_e_mail(client: Client) -> None:
    client.force_login(UserFactory())
    page = client.get("/accounts/reauthenticate/")
    assert page.status_code == 200
    assert 'name="password"' in page.content.decode()
    assert "/accounts/reauthenticate/code/" not in page.content.decode()
    assert client.post("/accounts/reauthenticate/code/", {}).status_code == 403
    assert not mail.outbox


def test_adding_an_e_mail_address_asks_for_the_password_again(client: Client) -> None:
    user = UserFactory()
    client.force_login(user)  # no recent sign-in with a password in this session
    add = {"action_add": "", "email": "second@example.org"}
    response = client.post("/accounts/email/", add)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/reauthenticate/")
    assert not EmailAddress.objects.filter(email="second@example.org").exists()

    wrong = client.post("/accounts/reauthenticate/", {"password": "not-the-password"})
    assert wrong.status_code == 200
    client.post("/accounts/reauthenticate/", {"password": TEST_PASSWORD})
    client.post("/accounts/email/", add)
    assert EmailAddress.objects.filter(user=user, email="second@example.org").exists()
