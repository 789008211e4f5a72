"""The portal in German on a phone: switch the language, sign in, look around.

German words run long; every page here must still fit 360 px without sideways
scrolling. Screenshots are named de-*-360.png.
"""

from __future__ import annotations

from typing import Any

import pytest

from portal.core.tests.factories import TEST_PASSWORD
from portal.customers.roles import Role
from portal.customers.tests.factories import make_customer, make_member

from .conftest import PHONE

pytestmark = pytest.mark.browser


def test_a_german_speaker_uses_the_portal_on_a_phone(visit_factory: Any) -> None:
    acme = make_customer("Acme Maschinenbau GmbH")
    make_member(
        acme, Role.ADMIN, email="erika@acme.example", first_name="Erika", last_name="Muster"
    )
    visit = visit_factory(PHONE)
    page = visit.page

    visit.goto("/")
    page.get_by_label("Language").select_option("de")
    page.get_by_role("button", name="Change").click()
    page.wait_for_load_state("load")
    assert page.locator("html").get_attribute("lang") == "de"
    assert page.get_by_role("heading", level=1).inner_text() == "Ihre Services an einem Ort"
    visit.audit("de-home")
    visit.assert_fits_viewport()

    nav = page.get_by_role("navigation", name="Hauptnavigation")
    nav.get_by_role("link", name="Anmelden").click()
    page.wait_for_url("**/accounts/login/")
    # allauth's own page, in allauth's German.
    assert page.get_by_role("heading", level=1).inner_text() == "Anmelden"
    assert page.get_by_role("button", name="Mit einem Passkey anmelden").is_visible()
    visit.audit("de-sign-in")
    visit.assert_fits_viewport()

    page.get_by_label("E-Mail").fill("erika@acme.example")
    page.get_by_label("Passwort").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Anmelden", exact=True).click()
    page.wait_for_url("**/dashboard/")
    assert page.get_by_role("heading", level=1).inner_text() == "Hallo, Erika Muster"
    assert page.get_by_role("link", name="Mitglieder verwalten").is_visible()
    visit.audit("de-dashboard")
    visit.assert_fits_viewport()

    nav.get_by_role("link", name="Organisation").click()
    page.wait_for_url("**/customer/members/")
    assert page.get_by_role("heading", name="Mitglieder von Acme Maschinenbau GmbH").is_visible()
    visit.audit("de-members")
    visit.assert_fits_viewport()

    nav.get_by_role("link", name="Konto").click()
    page.wait_for_url("**/accounts/profile/")
    visit.audit("de-profile")
    visit.assert_fits_viewport()

    account_nav = page.get_by_role("navigation", name="Ihr Konto")
    account_nav.get_by_role("link", name="Zwei-Faktor-Authentifizierung").click()
    page.wait_for_url("**/accounts/2fa/")
    visit.audit("de-two-factor")
    visit.assert_fits_viewport()

    account_nav.get_by_role("link", name="Sitzungen").click()
    page.wait_for_url("**/accounts/sessions/")
    visit.audit("de-sessions")
    visit.assert_fits_viewport()

    nav.get_by_role("button", name="Abmelden").click()
    page.wait_for_url(visit.base_url + "/")
    assert page.get_by_role("heading", level=1).inner_text() == "Ihre Services an einem Ort"
