"""Service requests end to end: a member submits one with a file; staff take it up in the
back office in another browser; the member's open page follows without a reload."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from allauth.mfa.models import Authenticator
from django.db import transaction

from portal.core.tests.factories import TEST_PASSWORD, UserFactory
from portal.customers.roles import Role
from portal.customers.tests.factories import make_customer, make_member
from portal.documents.tests import samples
from portal.servicedesk import services
from portal.servicedesk.models import FieldDefinition, FieldKind, ServiceRequest
from portal.servicedesk.tests.factories import make_request_type
from portal.servicedesk.workflow import Status

from .conftest import PHONE
from .totp import totp

pytestmark = pytest.mark.browser

STAFF_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


@pytest.fixture(autouse=True)
def _media_in_tmp(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


def _sign_in(visit: Any, email: str) -> None:
    page = visit.page
    visit.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign In", exact=True).click()


def _fault_type() -> Any:
    request_type = make_request_type(
        name="Report a fault",
        slug="report-a-fault",
        category="Technical support",
        description="Something stopped working.",
        sla_first_response_hours=2,
        sla_resolution_hours=24,
    )
    FieldDefinition.objects.create(
        request_type=request_type,
        position=5,
        name="urgent",
        label="Does it stop your work?",
        kind=FieldKind.YES_NO,
        required=True,
    )
    FieldDefinition.objects.create(
        request_type=request_type,
        position=6,
        name="screenshot",
        label="Screenshot",
        kind=FieldKind.FILE,
    )
    return request_type


def test_submit_then_staff_progress_and_reply_arrive_live(visit_factory: Any) -> None:
    acme = make_customer("Acme Ltd")
    make_member(acme, Role.MEMBER, email="martin@acme.example", first_name="Martin")
    staff = UserFactory(
        email="sam@portal.example", first_name="Sam", last_name="Staff", is_staff=True,
        is_superuser=True,
    )  # fmt: skip
    Authenticator.objects.create(
        user=staff, type=Authenticator.Type.TOTP, data={"secret": STAFF_SECRET}
    )
    _fault_type()

    # --- the member submits -------------------------------------------------------------
    member = visit_factory()
    page = member.page
    _sign_in(member, "martin@acme.example")
    page.wait_for_url("**/dashboard/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Requests").click()
    page.wait_for_url("**/requests/")
    member.audit("requests-empty")
    page.get_by_role("main").get_by_role("button", name="New request").click()
    page.wait_for_url("**/requests/new/")
    member.audit("request-catalog")
    page.get_by_role("button", name="Report a fault").click()
    page.wait_for_url("**/requests/new/report-a-fault/")
    member.audit("request-form")

    page.get_by_label("Summary").fill("Printer jams on every job")
    page.get_by_role("button", name="Submit request").click()
    page.wait_for_load_state("load")
    assert page.get_by_text("Fill in “Details”.").first.is_visible()
    assert page.get_by_label("Summary").input_value() == "Printer jams on every job"
    member.audit("request-form-errors")

    page.get_by_label("Details").fill("Third floor, since this morning.")
    page.get_by_label("Number of cards").fill("1")
    page.get_by_label("Yes").check()
    page.get_by_label("Screenshot").set_input_files(
        files=[{"name": "jam.png", "mimeType": "image/png", "buffer": samples.PNG}]
    )
    page.get_by_role("button", name="Submit request").click()
    page.wait_for_url("**/submitted/")
    sr = ServiceRequest.objects.get(title="Printer jams on every job")
    assert page.get_by_text(sr.reference).is_visible()
    member.audit("request-submitted")
    page.get_by_role("button", name="Follow the request").click()
    page.wait_for_url(f"**/requests/{sr.reference}/")
    page.wait_for_selector("body[data-live-state=connected]")
    assert page.get_by_role("link", name="jam.png").is_visible()
    assert page.locator("#sr-status").get_by_text("Submitted").is_visible()
    member.audit("request-detail")
    page.evaluate("window.portalMarker = 'still the same page'")

    # --- staff take it up in the back office --------------------------------------------
    back = visit_factory()
    staff_page = back.page
    _sign_in(back, "sam@portal.example")
    staff_page.wait_for_url("**/accounts/2fa/authenticate/")
    staff_page.get_by_label("Code").fill(totp(STAFF_SECRET))
    staff_page.get_by_role("button", name="Sign In", exact=True).click()
    staff_page.wait_for_url("**/dashboard/")
    back.goto("/backoffice/servicedesk/servicerequest/")
    back.audit("backoffice-queue")
    staff_page.get_by_role("link", name=sr.reference).click()
    staff_page.wait_for_url(f"**/servicerequest/{sr.pk}/change/")
    back.audit("backoffice-request")
    staff_page.locator("#id_to_status").select_option("in_progress")
    staff_page.get_by_role("button", name="Change status").click()
    staff_page.wait_for_load_state("load")
    assert staff_page.get_by_text("The request is now In progress.").is_visible()
    staff_page.locator("#id_body").fill("We are on it: a technician comes at 14:00.")
    staff_page.get_by_role("button", name="Send reply").click()
    staff_page.wait_for_load_state("load")
    staff_page.locator("#id_note_body").fill("Printer 3 again: order a new fuser.")
    staff_page.get_by_role("button", name="Add internal note").click()
    staff_page.wait_for_load_state("load")
    back.audit("backoffice-request-answered")

    # --- the member's open page follows, without a reload --------------------------------
    page.locator("#sr-status").get_by_text("In progress").wait_for(timeout=5000)
    page.locator("#sr-conversation").get_by_text("a technician comes at 14:00").wait_for(
        timeout=5000
    )
    page.locator("#sr-timeline").get_by_text("In progress").first.wait_for(timeout=5000)
    assert page.evaluate("window.portalMarker") == "still the same page"
    assert "order a new fuser" not in page.content()
    member.audit("request-detail-live")


def test_request_pages_fit_a_phone(visit_factory: Any) -> None:
    """The journey above audits these pages at 1280 px; here they are at 360 px."""
    acme = make_customer("Acme Ltd")
    member = make_member(acme, Role.MEMBER, email="narrow@acme.example")
    staff = UserFactory(is_staff=True, first_name="Sam", last_name="Staff")
    request_type = _fault_type()
    with transaction.atomic():
        sr = services.service_request_submit(
            customer=acme,
            submitted_by=member,
            request_type=request_type,
            title="A rather long summary that has to wrap on a phone screen nicely",
            answers={"details": "Line one\nLine two", "cards": 3, "urgent": True},
        )
        services.service_request_transition(
            service_request=sr, to_status=Status.WAITING_FOR_CUSTOMER, actor=staff,
            as_staff=True, note="Which printer exactly?",
        )  # fmt: skip
        services.service_request_comment_add(
            service_request=sr, author=staff, body="Could you send the printer's asset tag?",
            as_staff=True,
        )  # fmt: skip
    visit = visit_factory(PHONE)
    _sign_in(visit, "narrow@acme.example")
    visit.page.wait_for_url("**/dashboard/")
    visit.audit("dashboard-requests")
    visit.assert_fits_viewport()
    for path, name in (
        ("/requests/", "requests-list"),
        ("/requests/new/", "request-catalog"),
        ("/requests/new/report-a-fault/", "request-form"),
        (f"/requests/{sr.reference}/", "request-detail-waiting"),
    ):
        visit.goto(path)
        visit.audit(name)
        visit.assert_fits_viewport()
