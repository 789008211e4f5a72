"""Journeys through sign-up, two-factor sign-in and inviting a colleague."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from django.core import mail

from portal.core.tests.factories import TEST_PASSWORD, UserFactory
from portal.customers.models import Membership
from portal.customers.roles import Role
from portal.customers.tests.factories import make_customer, make_member

from .totp import totp

pytestmark = pytest.mark.browser


def _link_in_last_mail(to: str, pattern: str) -> str:
    for message in reversed(mail.outbox):
        if to in message.to:
            found = re.search(pattern, str(message.body))
            if found:
                return found.group(0)
    raise AssertionError(f"no e-mail to {to} with a link matching {pattern}")


def _wait_for_mail(to: str, pattern: str) -> str:
    deadline = time.monotonic() + 10
    while True:
        try:
            return _link_in_last_mail(to, pattern)
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _sign_in(visit: Any, email: str, password: str) -> None:
    page = visit.page
    visit.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign In", exact=True).click()


def test_sign_up_confirm_enable_totp_and_sign_in_with_it(visit_factory: Any) -> None:
    visit = visit_factory()
    page = visit.page
    email, password = "newcomer@example.com", "a long and happy passphrase"

    visit.goto("/accounts/signup/")
    visit.audit("sign-up")
    page.get_by_label("Email").fill(email)
    page.locator("#id_password1").fill(password)
    page.locator("#id_password2").fill(password)
    page.get_by_role("button", name="Sign Up").click()
    page.wait_for_url("**/accounts/confirm-email/")
    visit.audit("verify-email-sent")

    confirm_link = _wait_for_mail(email, r"http://[^\s]+/accounts/confirm-email/[^\s]+/")
    page.goto(confirm_link)
    visit.audit("confirm-email")
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_load_state("load")
    if "/accounts/login/" in page.url:
        _sign_in(visit, email, password)
    page.wait_for_url("**/dashboard/")
    visit.audit("dashboard-new-user")

    visit.goto("/accounts/2fa/totp/activate/")
    if "/reauthenticate/" in page.url:
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Confirm").click()
        page.wait_for_url("**/2fa/totp/activate/")
    visit.audit("totp-activate")
    secret = page.locator("#authenticator_secret").input_value()
    used_code = totp(secret)
    page.get_by_label("Authenticator code").fill(used_code)
    page.get_by_role("button", name="Activate").click()
    page.wait_for_load_state("load")
    assert "/2fa/totp/activate/" not in page.url, page.content()
    visit.audit("totp-activated")

    page.get_by_role("navigation", name="Main").get_by_role("button", name="Sign out").click()
    page.wait_for_url(visit.base_url + "/")

    _sign_in(visit, email, password)
    page.wait_for_url("**/accounts/2fa/authenticate/")
    visit.audit("totp-authenticate")
    code = totp(secret)
    if code == used_code:  # a code works once; the next step's code is accepted too
        code = totp(secret, at=time.time() + 30)
    page.get_by_label("Code").fill(code)
    page.get_by_role("button", name="Sign In", exact=True).click()
    page.wait_for_url("**/dashboard/")
    assert page.get_by_test_id("current-user").inner_text() == email


def test_admin_invites_a_colleague_who_accepts(visit_factory: Any) -> None:
    acme = make_customer("Acme Ltd")
    make_member(acme, Role.ADMIN, email="boss@acme.example")
    colleague = UserFactory(email="colleague@acme.example")

    admin_visit = visit_factory()
    page = admin_visit.page
    _sign_in(admin_visit, "boss@acme.example", TEST_PASSWORD)
    page.wait_for_url("**/dashboard/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Organisation").click()
    page.wait_for_url("**/customer/members/")
    admin_visit.audit("members")
    page.get_by_label("E-mail address").fill("colleague@acme.example")
    page.get_by_label("Role").select_option("member")
    page.get_by_role("button", name="Send invitation").click()
    page.wait_for_url("**/customer/members/")
    assert page.get_by_text("An invitation has been sent to colleague@acme.example").is_visible()
    admin_visit.audit("members-invited")

    link = _wait_for_mail(
        "colleague@acme.example", r"http://[^\s]+/customer/invitations/accept/[^\s]+/"
    )
    visit = visit_factory()
    page = visit.page
    page.goto(link)
    visit.audit("invitation-signed-out")
    page.get_by_role("main").get_by_role("button", name="Sign in").click()
    page.get_by_label("Email").fill("colleague@acme.example")
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign In", exact=True).click()
    page.wait_for_url("**/customer/invitations/accept/**")
    visit.audit("invitation-accept")
    page.get_by_role("button", name="Accept the invitation").click()
    page.wait_for_url("**/dashboard/")
    visit.audit("dashboard-after-invitation")
    assert page.get_by_test_id("active-customer").inner_text() == "Acme Ltd"
    assert page.get_by_role("heading", name="Acme Ltd").is_visible()
    assert Membership.objects.filter(user=colleague, customer=acme, role=Role.MEMBER).exists()
