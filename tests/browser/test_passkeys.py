"""Passkeys: add one on the two-factor pages, then sign in with it alone, and as a
second factor after a password.

Chromium's DevTools virtual authenticator stands in for a phone or a security
key: a CTAP2 platform authenticator that holds discoverable credentials,
verifies its user and says yes to every request without anyone touching it.

WebAuthn only accepts a domain as the relying party id, never an IP address,
so these journeys reach the test server as http://localhost:PORT (a secure
context for browsers, and in ALLOWED_HOSTS outside production).
"""

from __future__ import annotations

from typing import Any

import pytest
from allauth.mfa.models import Authenticator

from portal.core.models import AuditAction, AuditEvent
from portal.core.tests.factories import TEST_PASSWORD, UserFactory

pytestmark = pytest.mark.browser

EMAIL = "ada@example.com"


def _virtual_authenticator(visit: Any) -> tuple[Any, str]:
    cdp = visit.page.context.new_cdp_session(visit.page)
    cdp.send("WebAuthn.enable")
    added = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return cdp, added["authenticatorId"]


def _sign_in_with_password(visit: Any) -> None:
    page = visit.page
    visit.goto("/accounts/login/")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign In", exact=True).click()


def _sign_out(visit: Any) -> None:
    page = visit.page
    page.get_by_role("navigation", name="Main").get_by_role("button", name="Sign out").click()
    page.wait_for_url(visit.base_url + "/")


def test_add_a_passkey_then_sign_in_with_it_alone_and_as_second_factor(
    visit_factory: Any,
) -> None:
    user = UserFactory(email=EMAIL, first_name="Ada", last_name="Lovelace")
    visit = visit_factory(host="localhost")
    page = visit.page
    cdp, authenticator_id = _virtual_authenticator(visit)

    # 1. Signed in with the password, add a passkey (after confirming the password).
    _sign_in_with_password(visit)
    page.wait_for_url("**/dashboard/")
    visit.goto("/accounts/2fa/")
    visit.audit("passkey-mfa-index")
    page.get_by_role("main").get_by_role("link", name="Add", exact=True).click()
    page.wait_for_url("**/accounts/reauthenticate/**")
    visit.audit("passkey-reauthenticate")
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_url("**/accounts/2fa/webauthn/add/")
    visit.audit("passkey-add")
    page.get_by_label("Name").fill("Virtual passkey")
    page.get_by_label("Passwordless").check()
    page.get_by_role("button", name="Add", exact=True).click()
    # The first factor also brings recovery codes, shown once.
    page.wait_for_url("**/accounts/2fa/recovery-codes/")
    visit.audit("passkey-recovery-codes")

    key = Authenticator.objects.get(user=user, type=Authenticator.Type.WEBAUTHN)
    assert key.wrap().name == "Virtual passkey"
    assert key.wrap().is_passwordless
    stored = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})
    assert [c["isResidentCredential"] for c in stored["credentials"]] == [True]
    assert AuditEvent.objects.filter(actor=user, action=AuditAction.MFA_ADDED).exists()

    visit.goto("/accounts/2fa/webauthn/")
    assert page.get_by_role("cell", name="Virtual passkey").is_visible()
    visit.audit("passkey-list")
    _sign_out(visit)

    # 2. Sign in with the passkey alone: no e-mail address, no password.
    visit.goto("/accounts/login/")
    visit.audit("passkey-sign-in")
    page.get_by_role("button", name="Sign in with a passkey").click()
    page.wait_for_url("**/dashboard/")
    assert page.get_by_test_id("current-user").inner_text() == EMAIL
    visit.audit("passkey-dashboard")
    _sign_out(visit)

    # 3. The password alone is no longer enough: the passkey is the second factor.
    _sign_in_with_password(visit)
    page.wait_for_url("**/accounts/2fa/authenticate/")
    visit.audit("passkey-second-factor")
    page.get_by_role("button", name="Use a security key").click()
    page.wait_for_url("**/dashboard/")
    assert page.get_by_test_id("current-user").inner_text() == EMAIL

    sign_ins = AuditEvent.objects.filter(actor=user, action=AuditAction.SIGN_IN).count()
    assert sign_ins == 3
