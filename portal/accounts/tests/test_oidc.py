"""Sign-in through an OpenID Connect provider.

The provider is real (oidc-provider-mock, over HTTP on 127.0.0.1, see
tests/oidc_provider.py); the portal answers through Django's test client and
makes its own HTTP calls to the provider (discovery, token, JWKS, userinfo).
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import jwt
import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from allauth.socialaccount.models import SocialAccount
from django.core import mail
from django.test import Client

from portal.accounts.models import User
from portal.core.models import AuditAction, AuditEvent
from portal.core.tests.factories import TEST_PASSWORD, UserFactory
from portal.customers.models import Customer, Membership
from portal.customers.roles import Role
from portal.customers.services import customer_create
from tests.browser.totp import totp
from tests.oidc_provider import (
    TEST_IDP_CUSTOMER,
    TEST_IDP_ID,
    LocalOIDCProvider,
    path_and_query,
    query_of,
)

pytestmark = pytest.mark.django_db

LOGIN = f"/accounts/oidc/{TEST_IDP_ID}/login/"


def _start(client: Client, **params: str) -> str:
    """Press "Sign in with Test IdP": returns the provider's authorization URL."""
    response = client.post(LOGIN, params)
    assert response.status_code == 302, response.content.decode()
    return str(response["Location"])


def _sign_in(client: Client, oidc: LocalOIDCProvider, sub: str, **params: str) -> Any:
    callback = oidc.authorize(_start(client, **params), sub)
    return client.get(path_and_query(callback))


def _signed_in_as(client: Client) -> str | None:
    response = client.get("/accounts/profile/")
    if response.status_code != 200:
        return None
    return str(response.context["user"].email)


def _refused(response: Any, client: Client, caplog: Any = None, reason: str = "") -> None:
    assert response.status_code == 401
    assert "Sign-in did not work" in response.content.decode()
    assert _signed_in_as(client) is None
    if reason:
        logged = [r.getMessage() for r in caplog.records if r.name.startswith("portal.accounts")]
        assert any(reason in line for line in logged), logged


# --- a good sign-in ------------------------------------------------------------------


def test_a_first_sign_in_creates_a_verified_account_and_opens_the_dashboard(
    client: Client, oidc: LocalOIDCProvider
) -> None:
    oidc.set_user(
        "ada-1", email="Ada@Example.com", email_verified=True, given_name="Ada", family_name="L"
    )
    response = _sign_in(client, oidc, "ada-1")
    assert response.status_code == 302 and response["Location"] == "/dashboard/"
    assert client.get("/dashboard/").status_code == 200
    user = User.objects.get(email__iexact="ada@example.com")
    assert (user.first_name, user.last_name) == ("Ada", "L")
    assert not user.has_usable_password()
    assert EmailAddress.objects.get(user=user).verified
    assert SocialAccount.objects.get(user=user).uid == "ada-1"
    sign_in = AuditEvent.objects.get(action=AuditAction.SIGN_IN, subject_user=user)
    assert sign_in.data == {"method": "provider", "provider": TEST_IDP_ID}
    assert AuditEvent.objects.filter(action=AuditAction.SIGN_UP, subject_user=user).exists()


def test_the_flow_uses_pkce_state_and_nonce(client: Client, oidc: LocalOIDCProvider) -> None:
    oidc.set_user("ada-2", email="ada2@example.com", email_verified=True)
    authorize_url = _start(client)
    params = query_of(authorize_url)
    assert params["response_type"] == "code"
    assert params["code_challenge_method"] == "S256"
    assert len(params["state"]) >= 16 and len(params["nonce"]) >= 32
    assert set(params["scope"].split()) == {"openid", "email", "profile"}
    client.get(path_and_query(oidc.authorize(authorize_url, "ada-2")))
    assert _signed_in_as(client) == "ada2@example.com"
    # The token request proves possession of the PKCE verifier.
    (token_request,) = oidc.received("/oauth2/token")
    verifier = token_request.form["code_verifier"]
    digest = hashlib.sha256(verifier.encode()).digest()
    assert base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == params["code_challenge"]
    # The portal checked the ID token's signature with the published keys.
    assert oidc.received("/jwks")


def test_a_second_sign_in_finds_the_linked_account(client: Client, oidc: LocalOIDCProvider) -> None:
    oidc.set_user("ada-3", email="ada3@example.com", email_verified=True)
    _sign_in(client, oidc, "ada-3")
    client.post("/accounts/logout/")
    # The address changed at the provider: the subject still identifies the person.
    oidc.set_user("ada-3", email="ada3-new@example.com", email_verified=True)
    other = Client()
    _sign_in(other, oidc, "ada-3")
    assert _signed_in_as(other) == "ada3@example.com"
    assert User.objects.filter(socialaccount__uid="ada-3").count() == 1


def test_a_next_page_on_this_site_is_honoured_and_another_site_is_not(
    client: Client, oidc: LocalOIDCProvider
) -> None:
    oidc.set_user("ada-4", email="ada4@example.com", email_verified=True)
    assert _sign_in(client, oidc, "ada-4", next="/accounts/activity/")["Location"] == (
        "/accounts/activity/"
    )
    other = Client()
    assert _sign_in(other, oidc, "ada-4", next="https://evil.example/")["Location"] == (
        "/dashboard/"
    )


# --- what must be refused ---------------------------------------------------------------


def test_a_wrong_state_is_refused(client: Client, oidc: LocalOIDCProvider) -> None:
    oidc.set_user("mallory-1", email="m1@example.com", email_verified=True)
    callback = oidc.authorize(_start(client), "mallory-1")
    params = query_of(callback)
    forged = callback.replace(f"state={params['state']}", "state=forged-state-123")
    _refused(client.get(path_and_query(forged)), client)
    assert not oidc.received("/oauth2/token")  # the code was never even redeemed
    assert not User.objects.filter(email="m1@example.com").exists()


def test_a_callback_in_another_browser_is_refused(client: Client, oidc: LocalOIDCProvider) -> None:
    # Login CSRF: the attacker's own code and state, replayed into a victim's browser.
    oidc.set_user("mallory-2", email="m2@example.com", email_verified=True)
    callback = oidc.authorize(_start(client), "mallory-2")
    victim = Client()
    _refused(victim.get(path_and_query(callback)), victim)


def test_a_state_works_once(client: Client, oidc: LocalOIDCProvider) -> None:
    oidc.set_user("ada-5", email="ada5@example.com", email_verified=True)
    callback = oidc.authorize(_start(client), "ada-5")
    client.get(path_and_query(callback))
    client.post("/accounts/logout/")
    _refused(client.get(path_and_query(callback)), client)


def test_an_id_token_signed_by_another_key_is_refused(
    client: Client, oidc: LocalOIDCProvider, caplog: Any
) -> None:
    oidc.set_user("mallory-3", email="m3@example.com", email_verified=True)
    with oidc.tampering("foreign_key"):
        response = _sign_in(client, oidc, "mallory-3")
    assert oidc.controls.altered == 1
    _refused(response, client, caplog, "Signature verification failed")
    assert not User.objects.filter(email="m3@example.com").exists()
    failed = AuditEvent.objects.get(action=AuditAction.SIGN_IN_FAILED)
    assert failed.actor is None and failed.subject_user is None
    assert failed.data["provider"] == TEST_IDP_ID
    assert "Signature verification failed" in failed.data["reason"]


def test_an_expired_id_token_is_refused(
    client: Client, oidc: LocalOIDCProvider, caplog: Any
) -> None:
    oidc.set_user("mallory-4", email="m4@example.com", email_verified=True)
    with oidc.tampering("expired"):
        response = _sign_in(client, oidc, "mallory-4")
    assert oidc.controls.altered == 1
    _refused(response, client, caplog, "Signature has expired")


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"nonce": "not-the-one-we-sent"}, "nonce does not match"),
        ({"aud": ["another-client"]}, "Audience doesn't match"),
        ({"aud": ["portal-test", "another-client"]}, "azp is not this client"),
        ({"iss": "https://x.invalid"}, "Invalid issuer"),
    ],
    ids=["nonce", "audience", "azp", "issuer"],
)
def test_an_id_token_for_another_sign_in_or_client_is_refused(
    client: Client, oidc: LocalOIDCProvider, caplog: Any, claims: dict[str, Any], reason: str
) -> None:
    oidc.set_user("mallory-5", email="m5@example.com", email_verified=True)
    with oidc.tampering("resign", **claims):
        response = _sign_in(client, oidc, "mallory-5")
    assert oidc.controls.altered == 1
    _refused(response, client, caplog, reason)


def test_a_discovery_document_naming_another_issuer_is_refused(
    client: Client, oidc: LocalOIDCProvider
) -> None:
    with oidc.tampering("wrong_issuer"):
        response = client.post(LOGIN)
    assert oidc.controls.altered >= 1
    assert response.status_code == 401
    assert "Sign-in did not work" in response.content.decode()


def test_userinfo_about_someone_else_is_refused(client: Client, oidc: LocalOIDCProvider) -> None:
    oidc.set_user("mallory-6", email="m6@example.com", email_verified=True)
    with oidc.tampering("userinfo_other_sub"):
        response = _sign_in(client, oidc, "mallory-6")
    assert oidc.controls.altered == 1
    _refused(response, client)


def test_a_provider_that_does_not_answer_gives_a_clear_page(
    client: Client, oidc: LocalOIDCProvider, settings: Any
) -> None:
    from tests.server import free_port

    apps = settings.SOCIALACCOUNT_PROVIDERS["openid_connect"]["APPS"]
    apps[0]["settings"]["server_url"] = f"http://127.0.0.1:{free_port()}"
    response = client.post(LOGIN)
    assert response.status_code == 401
    assert "Sign-in did not work" in response.content.decode()


# --- linking rules --------------------------------------------------------------------


def test_a_verified_address_on_both_sides_links_the_existing_account(
    client: Client, oidc: LocalOIDCProvider
) -> None:
    grace = UserFactory(email="grace@example.com")
    oidc.set_user("grace-idp", email="grace@example.com", email_verified=True)
    _sign_in(client, oidc, "grace-idp")
    assert _signed_in_as(client) == "grace@example.com"
    assert SocialAccount.objects.get(uid="grace-idp").user == grace
    grace.refresh_from_db()
    assert grace.check_password(TEST_PASSWORD)  # the password still works too
    assert AuditEvent.objects.filter(action=AuditAction.PROVIDER_LINKED, actor=grace).exists()


@pytest.mark.parametrize("asserted", [False, "false", None], ids=["false", "string", "absent"])
def test_an_unverified_address_never_takes_over_an_existing_account(
    client: Client,
    oidc: LocalOIDCProvider,
    asserted: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    victim = UserFactory(email="victim@example.com")
    claims: dict[str, Any] = {"email": "victim@example.com"}
    if asserted is not None:
        claims["email_verified"] = asserted
    oidc.set_user("mallory-7", **claims)
    with django_capture_on_commit_callbacks(execute=True):
        response = _sign_in(client, oidc, "mallory-7")
    # The same answer as for a new address: "check your e-mail".
    assert response.status_code == 302 and response["Location"] == "/accounts/confirm-email/"
    assert _signed_in_as(client) is None
    assert not SocialAccount.objects.filter(user=victim).exists()
    assert User.objects.filter(email__iexact="victim@example.com").count() == 1
    victim.refresh_from_db()
    assert victim.check_password(TEST_PASSWORD)
    # The owner hears of the attempt; nobody gets a link into the account.
    assert [m.to for m in mail.outbox] == [["victim@example.com"]]


def test_a_local_address_that_was_never_verified_is_not_linked(
    client: Client, oidc: LocalOIDCProvider
) -> None:
    squatter = UserFactory(email="late@example.com")
    EmailAddress.objects.filter(user=squatter).update(verified=False)
    oidc.set_user("late-idp", email="late@example.com", email_verified=True)
    _sign_in(client, oidc, "late-idp")
    assert _signed_in_as(client) is None
    assert not SocialAccount.objects.filter(user=squatter).exists()


def test_a_new_person_with_an_unverified_address_waits_for_verification(
    client: Client, oidc: LocalOIDCProvider, django_capture_on_commit_callbacks: Any
) -> None:
    oidc.set_user("new-1", email="newcomer@example.com", email_verified=False)
    with django_capture_on_commit_callbacks(execute=True):
        response = _sign_in(client, oidc, "new-1")
    assert response["Location"] == "/accounts/confirm-email/"
    assert _signed_in_as(client) is None
    user = User.objects.get(email="newcomer@example.com")
    assert not EmailAddress.objects.get(user=user).verified
    assert SocialAccount.objects.get(user=user).uid == "new-1"
    assert "confirm-email" in str(mail.outbox[-1].body)


# --- customer mapping --------------------------------------------------------------------


def test_a_claim_maps_the_person_to_a_customer_and_role(
    client: Client, oidc: LocalOIDCProvider
) -> None:
    acme = customer_create(name="Acme Ltd", number=TEST_IDP_CUSTOMER)
    oidc.set_user(
        "boss-1",
        email="boss@acme.example",
        email_verified=True,
        groups=["unrelated", "acme-admins", "acme-staff"],
    )
    _sign_in(client, oidc, "boss-1")
    boss = User.objects.get(email="boss@acme.example")
    membership = Membership.objects.get(user=boss)
    assert (membership.customer, membership.role) == (acme, Role.ADMIN)
    event = AuditEvent.objects.get(action=AuditAction.MEMBER_ADDED_BY_PROVIDER)
    assert (event.subject_user, event.customer) == (boss, acme)
    assert event.data == {"role": "admin", "provider": TEST_IDP_ID, "claim_value": "acme-admins"}
    # The next sign-in changes nothing: roles are managed in the portal from now on.
    client.post("/accounts/logout/")
    _sign_in(Client(), oidc, "boss-1")
    assert Membership.objects.filter(user=boss).count() == 1
    assert AuditEvent.objects.filter(action=AuditAction.MEMBER_ADDED_BY_PROVIDER).count() == 1


def test_without_a_mapped_claim_people_are_invited_as_before(
    client: Client, oidc: LocalOIDCProvider
) -> None:
    customer_create(name="Acme Ltd", number=TEST_IDP_CUSTOMER)
    oidc.set_user("plain-1", email="plain@example.com", email_verified=True, groups="outsiders")
    _sign_in(client, oidc, "plain-1")
    assert _signed_in_as(client) == "plain@example.com"
    assert not Membership.objects.filter(user__email="plain@example.com").exists()


def test_a_mapping_to_a_customer_that_does_not_exist_is_skipped(
    client: Client, oidc: LocalOIDCProvider
) -> None:
    oidc.set_user("early-1", email="early@example.com", email_verified=True, groups="acme-staff")
    _sign_in(client, oidc, "early-1")
    assert _signed_in_as(client) == "early@example.com"
    assert not Membership.objects.exists()


# --- linking and unlinking on the account pages ----------------------------------------------


def test_a_signed_in_person_links_a_provider(client: Client, oidc: LocalOIDCProvider) -> None:
    user = UserFactory(email="linker@example.com")
    client.force_login(user)
    page = client.get("/accounts/3rdparty/").content.decode()
    assert "Link Test IdP" in page
    # Another address at the provider is fine: the person proved both.
    oidc.set_user("linker-idp", email="linker@corp.example", email_verified=True)
    # A new way to sign in asks for the password again when the last sign-in is old.
    refused = _sign_in(client, oidc, "linker-idp", process="connect")
    assert refused["Location"].startswith("/accounts/reauthenticate/")
    assert not SocialAccount.objects.filter(uid="linker-idp").exists()
    client.post("/accounts/reauthenticate/", {"password": TEST_PASSWORD})
    response = _sign_in(client, oidc, "linker-idp", process="connect")
    assert response["Location"] == "/accounts/3rdparty/"
    assert SocialAccount.objects.get(uid="linker-idp").user == user
    assert "Test IdP (linker@corp.example)" in client.get("/accounts/3rdparty/").content.decode()
    assert AuditEvent.objects.filter(action=AuditAction.PROVIDER_LINKED, actor=user).exists()


def test_the_last_way_to_sign_in_cannot_be_unlinked(
    client: Client, oidc: LocalOIDCProvider
) -> None:
    oidc.set_user("only-1", email="only@example.com", email_verified=True)
    _sign_in(client, oidc, "only-1")
    account = SocialAccount.objects.get(uid="only-1")
    response = client.post("/accounts/3rdparty/", {"account": account.pk})
    assert response.status_code == 200
    assert "no password" in response.content.decode()
    assert SocialAccount.objects.filter(pk=account.pk).exists()
    # With a password it is no longer the last way in.
    user = account.user
    user.set_password("a long enough passphrase")
    user.save()
    client.force_login(user)
    client.post("/accounts/reauthenticate/", {"password": "a long enough passphrase"})
    response = client.post("/accounts/3rdparty/", {"account": account.pk})
    assert response.status_code == 302
    assert not SocialAccount.objects.filter(pk=account.pk).exists()
    assert AuditEvent.objects.filter(action=AuditAction.PROVIDER_UNLINKED, actor=user).exists()


# --- single sign-out ------------------------------------------------------------------------


def test_signing_out_also_ends_the_provider_session(
    client: Client, oidc: LocalOIDCProvider
) -> None:
    oidc.set_user("ada-6", email="ada6@example.com", email_verified=True)
    _sign_in(client, oidc, "ada-6")
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    end_session = str(response["Location"])
    assert end_session.startswith(oidc.url + "/oauth2/end_session?")
    params = query_of(end_session)
    assert params["post_logout_redirect_uri"] == "http://testserver/"
    assert params["client_id"] == "portal-test"
    hint = jwt.decode(params["id_token_hint"], options={"verify_signature": False})
    assert (hint["sub"], hint["aud"]) == ("ada-6", ["portal-test"])
    assert _signed_in_as(client) is None
    # The provider takes it and offers to send the browser back to the portal.
    page = oidc.http.get(end_session)
    assert page.status_code == 200 and 'value="http://testserver/"' in page.text


def test_a_password_sign_in_signs_out_here_only(client: Client, oidc: LocalOIDCProvider) -> None:
    UserFactory(email="pw@example.com")
    client.post("/accounts/login/", {"login": "pw@example.com", "password": TEST_PASSWORD})
    assert client.post("/accounts/logout/")["Location"] == "/"


def test_a_provider_without_sign_out_is_left_alone(
    client: Client, oidc: LocalOIDCProvider, settings: Any
) -> None:
    apps = settings.SOCIALACCOUNT_PROVIDERS["openid_connect"]["APPS"]
    apps[0]["settings"]["end_session"] = False
    oidc.set_user("ada-7", email="ada7@example.com", email_verified=True)
    _sign_in(client, oidc, "ada-7")
    assert client.post("/accounts/logout/")["Location"] == "/"


def test_a_sign_out_endpoint_on_another_origin_is_not_followed(
    client: Client, oidc: LocalOIDCProvider
) -> None:
    oidc.set_user("ada-8", email="ada8@example.com", email_verified=True)
    with oidc.tampering("far_sign_out"):
        _sign_in(client, oidc, "ada-8")
    assert _signed_in_as(client) == "ada8@example.com"
    assert client.post("/accounts/logout/")["Location"] == "/"


# --- second factor ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amr", "allowed"), [(None, False), (["pwd"], False), (["pwd", "mfa"], True)]
)
def test_a_provider_sign_in_counts_as_two_factor_only_when_amr_says_mfa(
    client: Client, oidc: LocalOIDCProvider, amr: list[str] | None, allowed: bool
) -> None:
    strict = customer_create(name="Strict Ltd", number=TEST_IDP_CUSTOMER)
    Customer.objects.filter(pk=strict.pk).update(require_mfa=True)
    extra = {"amr": amr} if amr is not None else {}
    oidc.set_user(
        "strict-1", email="strict@example.com", email_verified=True, groups="acme-staff", **extra
    )
    _sign_in(client, oidc, "strict-1")
    response = client.get("/dashboard/")
    if allowed:
        assert response.status_code == 200
    else:
        assert response.status_code == 302 and response["Location"] == "/accounts/2fa/"


def test_a_second_factor_set_up_here_is_asked_for_after_the_provider(
    client: Client, oidc: LocalOIDCProvider
) -> None:
    user = UserFactory(email="careful@example.com")
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    oidc.set_user("careful-1", email="careful@example.com", email_verified=True)
    response = _sign_in(client, oidc, "careful-1")
    assert response["Location"] == "/accounts/2fa/authenticate/"
    assert _signed_in_as(client) is None
    response = client.post("/accounts/2fa/authenticate/", {"code": totp(secret)})
    assert response["Location"] == "/dashboard/"
    assert _signed_in_as(client) == "careful@example.com"
    # What single sign-out needs survived the detour through the second factor.
    assert client.post("/accounts/logout/")["Location"].startswith(oidc.url + "/oauth2/end_session")


def test_staff_still_need_the_portals_own_second_factor(
    client: Client, oidc: LocalOIDCProvider
) -> None:
    UserFactory(email="staff@example.com", is_staff=True, is_superuser=True)
    oidc.set_user("staff-1", email="staff@example.com", email_verified=True, amr=["pwd", "mfa"])
    _sign_in(client, oidc, "staff-1")
    assert _signed_in_as(client) == "staff@example.com"
    assert client.get("/backoffice/")["Location"] == "/accounts/2fa/"


# --- the person's data ------------------------------------------------------------------------


def test_export_lists_the_link_and_closing_the_account_forgets_it(
    client: Client, oidc: LocalOIDCProvider
) -> None:
    oidc.set_user("leaver-1", email="leaver@example.com", email_verified=True)
    _sign_in(client, oidc, "leaver-1")
    export = json.loads(client.post("/accounts/privacy/export/").content)
    assert [(p["provider"], p["subject"]) for p in export["identity_providers"]] == [
        (TEST_IDP_ID, "leaver-1")
    ]
    # Without a password here, the page says how to close the account.
    assert "Set a password" in client.get("/accounts/privacy/delete/").content.decode()
    user = User.objects.get(email="leaver@example.com")
    user.set_password("a long enough passphrase")
    user.save()
    client.force_login(user)
    client.post(
        "/accounts/privacy/delete/", {"password": "a long enough passphrase", "confirm": "on"}
    )
    assert not SocialAccount.objects.filter(uid="leaver-1").exists()
    # Signing in again through the provider starts a new account.
    newcomer = Client()
    _sign_in(newcomer, oidc, "leaver-1")
    assert _signed_in_as(newcomer) == "leaver@example.com"
    assert User.objects.get(email="leaver@example.com").pk != user.pk


def test_a_provider_that_sends_no_address_asks_for_one_and_verifies_it(
    client: Client, oidc: LocalOIDCProvider, django_capture_on_commit_callbacks: Any
) -> None:
    UserFactory(email="taken@example.com")
    oidc.set_user("anon-1", name="No Mail")
    response = _sign_in(client, oidc, "anon-1")
    assert response["Location"] == "/accounts/3rdparty/signup/"
    page = client.get("/accounts/3rdparty/signup/")
    assert "did not tell us your e-mail address" in page.content.decode()
    # Somebody else's address: no account is taken over, and none is made.
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/accounts/3rdparty/signup/", {"email": "taken@example.com"})
    assert _signed_in_as(client) is None
    assert not SocialAccount.objects.filter(user__email="taken@example.com").exists()
    assert User.objects.filter(email="taken@example.com").count() == 1
    # A new address: the account waits for its confirmation.
    other = Client()
    _sign_in(other, oidc, "anon-1")
    with django_capture_on_commit_callbacks(execute=True):
        response = other.post("/accounts/3rdparty/signup/", {"email": "mine@example.com"})
    assert response["Location"] == "/accounts/confirm-email/"
    user = User.objects.get(email="mine@example.com")
    assert not EmailAddress.objects.get(user=user).verified
    assert _signed_in_as(other) is None
