"""Injection and encoding.

XSS: markup stored in every free-text field people can fill (request summary and
answers, comments, staff replies and timeline notes, names, document titles,
token names, invoice lines, a help page's front matter and body) comes back
inert: in the portal's pages and the back office (checked with an HTML parser:
no script of the payload, no ``on*`` attribute, no ``javascript:`` link), in
e-mails, in the data export, and in the API as JSON data.

SQL injection: every list, search and filter of the pages, the back office and
the API, given quotes, comment markers, LIKE wildcards, a NUL byte, very long
and unusual unicode input, answers without a server error and shows nothing of
another customer. Run on SQLite and on PostgreSQL (which refuses NUL bytes).
"""

from __future__ import annotations

from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import translation

from portal.billing.tests.factories import make_invoice
from portal.content.services import content_sync
from portal.content.tests.factories import write_page
from portal.customers.models import Customer
from portal.documents.services import document_upload
from portal.servicedesk import services as servicedesk
from portal.servicedesk.models import ServiceRequest
from portal.servicedesk.workflow import Status

from .routes import api_routes
from .world import FOREIGN_MARK, World, build_world

pytestmark = pytest.mark.django_db

# One string with the usual ways out of a text node, an attribute and a textarea.
XSS = (
    "<script>alert(1)</script>\"><img src=x onerror=alert(1)>'><svg onload=alert(1)>"
    "</textarea><iframe src=javascript:alert(1)></iframe>[x](javascript:alert(1))"
)
XSS_PAGE = "xss-help"
XSS_MARKDOWN = f"""# Help {XSS}

<script>alert(1)</script>

<img src=x onerror=alert(1)>

[click me](javascript:alert(1)) [also](JaVaScRiPt:alert(1)) <javascript:alert(1)>

![picture](x" onerror="alert(1))

<a href="javascript:alert(1)" onclick="alert(1)">raw link</a>

<div style="background:url(javascript:alert(1))" onmouseover="alert(1)">raw div</div>
"""


class InertCheck(HTMLParser):
    """What a page would run: inline scripts, event handlers, script URLs, frames."""

    URL_ATTRIBUTES = {"href", "src", "action", "formaction", "data", "xlink:href", "poster"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.live: list[str] = []
        self.text: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name.startswith("on"):
                self.live.append(f"<{tag} {name}=...>")
            compact = "".join(ch for ch in (value or "") if ch > " ").lower()
            if name in self.URL_ATTRIBUTES and compact.startswith(("javascript:", "vbscript:")):
                self.live.append(f"<{tag} {name}={value!r}>")
            if name == "style" and "javascript:" in compact:
                self.live.append(f"<{tag} style={value!r}>")
        if tag in {"iframe", "object", "embed"}:
            self.live.append(f"<{tag}>")
        if tag == "img" and dict(attrs).get("src") == "x":
            self.live.append("<img src=x>")
        if tag == "script":
            self._in_script = True
            if not dict(attrs).get("src"):
                self.live.append("<script> without src")  # the CSP allows none inline

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag == "script":
            self._in_script = False

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.live.append(f"script text {data.strip()[:40]!r}")
        self.text.append(data)


def inert(html: str, where: str) -> str:
    """Fail if ``html`` would run anything; return its visible text."""
    checker = InertCheck()
    checker.feed(html)
    checker.close()
    assert not checker.live, f"{where}: live markup {checker.live}"
    return "".join(checker.text)


@pytest.fixture
def world(db: None, tmp_path: Path, settings: Any) -> Iterator[World]:
    settings.PORTAL_CONTENT_DIR = tmp_path / "content"
    with translation.override("en"):
        yield build_world(settings.PORTAL_CONTENT_DIR)


def _as(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _store_payloads(world: World, content_dir: Path) -> ServiceRequest:
    """The payload in every free-text field, entered the way people enter it."""
    member = _as(world.member)
    profile = {"first_name": XSS[:150], "last_name": XSS[:150], "preferred_language": "en"}
    assert member.post("/accounts/profile/", profile).status_code == 302
    slug = world.request_type.slug
    response = member.post(f"/requests/new/{slug}/", {"title": XSS[:200], "details": XSS})
    assert response.status_code == 302, response.content[:500]
    service_request = ServiceRequest.objects.latest("pk")
    reference = service_request.reference
    assert member.post(f"/requests/{reference}/", {"body": XSS}).status_code == 302
    servicedesk.service_request_comment_add(
        service_request=service_request, author=world.staff, body=XSS, as_staff=True
    )
    servicedesk.service_request_transition(
        service_request=service_request,
        to_status=Status.WAITING_FOR_CUSTOMER,
        actor=world.staff,
        as_staff=True,
        note=XSS,
    )
    response = member.post(
        "/accounts/tokens/",
        {"name": XSS[:100], "customer": world.acme.pk, "scope": "read", "expires_in_days": "30"},
    )
    assert response.status_code == 201
    version = document_upload(
        customer=world.acme,
        uploaded_by=world.member,
        file=SimpleUploadedFile("<img src=x onerror=alert(1)>.txt", b"text\n"),
        title=XSS[:200],
    )
    world.extra["xss_document_id"] = version.document_id
    world.extra["xss_invoice"] = make_invoice(world.acme, description=XSS[:200]).number
    Customer.objects.filter(pk=world.acme.pk).update(name=XSS[:200])
    write_page(content_dir, XSS_PAGE, name=XSS[:150], tags=["help"], body=XSS_MARKDOWN)
    content_sync(directory=content_dir)
    return service_request


# Pages, by who opens them, and whether the payload must show there as text.
def _pages(world: World, reference: str) -> dict[str, list[tuple[str, bool]]]:
    document_id = world.extra["xss_document_id"]
    invoice = world.extra["xss_invoice"]
    q = quote(XSS)
    return {
        "member": [
            ("/dashboard/", False),
            ("/requests/", True),
            (f"/requests/?q={q}", False),
            (f"/requests/{reference}/", True),
            (f"/requests/{reference}/submitted/", False),
            ("/documents/", True),
            (f"/documents/?q={q}", False),
            (f"/documents/{document_id}/", True),
            (f"/documents/{document_id}/delete/", True),
            ("/notifications/", True),
            ("/accounts/profile/", True),
            ("/accounts/activity/", False),
            ("/accounts/tokens/", True),
            ("/pages/", True),
            (f"/pages/{XSS_PAGE}/", True),
            (f"/pages/search/?q={q}", True),
            ("/pages/search/?q=Help", True),
            (f"/requests/new/?q={q}", True),
            (f"/requests/{q}/", False),  # the 404 page
        ],
        "admin": [
            ("/customer/members/", True),
            ("/customer/activity/", False),
            ("/billing/invoices/", False),
            (f"/billing/invoices/{invoice}/", True),
            (f"/billing/invoices/{invoice}/print/", True),
            ("/accounts/tokens/", False),
        ],
        "staff": [
            ("/backoffice/", False),
            ("/backoffice/servicedesk/servicerequest/", True),
            (f"/backoffice/servicedesk/servicerequest/?q={q}", True),
            (
                f"/backoffice/servicedesk/servicerequest/{ServiceRequest.objects.get(reference=reference).pk}/change/",
                True,
            ),  # noqa: E501
            ("/backoffice/accounts/user/", True),
            ("/backoffice/documents/document/", True),
            ("/backoffice/billing/invoice/", True),
            ("/backoffice/tokens/personalaccesstoken/", True),
            ("/backoffice/core/auditevent/", False),
            (f"/pages/{XSS_PAGE}/", True),
        ],
    }


def test_stored_markup_comes_back_inert_everywhere(world: World, settings: Any) -> None:
    mail.outbox.clear()
    service_request = _store_payloads(world, Path(settings.PORTAL_CONTENT_DIR))
    reference = service_request.reference
    shown = 0
    for actor, pages in _pages(world, reference).items():
        client = _as(world.user(actor))
        for path, must_show in pages:
            response = client.get(path)
            assert response.status_code in (200, 404), (actor, path, response.status_code)
            assert response["Content-Type"].startswith("text/html"), path
            text = inert(response.content.decode(), f"{actor} {path}")
            if must_show:
                assert "alert(1)" in text, f"{actor} {path}: the payload is not shown as text"
                shown += 1
    assert shown >= 20

    # The help suggestions are JSON: the payload is data there.
    suggest = _as(world.member).get("/pages/suggest/", {"q": "Help"})
    assert suggest["Content-Type"].startswith("application/json")
    titles = [hit["title"] for hit in suggest.json()["results"]]
    assert XSS[:150] in titles


def test_e_mails_carry_the_payload_as_text(
    world: World, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):  # e-mails go out after commit
        _store_payloads(world, Path(settings.PORTAL_CONTENT_DIR))
    assert mail.outbox, "the staff reply and status change send e-mails"
    for message in mail.outbox:
        assert "\n" not in message.subject and "\r" not in message.subject
        for content, mimetype in getattr(message, "alternatives", []):
            if mimetype == "text/html":
                inert(str(content), f"e-mail {message.subject!r}")
    assert any("alert(1)" in message.body for message in mail.outbox)


def test_the_api_and_the_export_return_the_payload_as_json_data(
    world: World, settings: Any
) -> None:
    service_request = _store_payloads(world, Path(settings.PORTAL_CONTENT_DIR))
    api = Client(headers={"Authorization": f"Bearer {world.read_secret}"})
    response = api.get(f"/api/v1/service-requests/{service_request.reference}")
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["title"] == XSS[:200]
    assert {a["value"] for a in body["answers"]} >= {XSS}
    assert XSS in [c["body"] for c in body["comments"]]
    assert api.get("/api/v1/me").json()["first_name"] == XSS[:150]
    document = api.get(f"/api/v1/documents/{world.extra['xss_document_id']}").json()
    assert document["title"] == XSS[:200]
    page = api.get(f"/api/v1/pages/{XSS_PAGE}")
    assert page["Content-Type"].startswith("application/json")
    data = page.json()
    assert data["title"] == XSS[:150]
    # The body is HTML for the caller to show: sanitised, the payload's text only.
    assert "alert(1)" in inert(data["html"], "API page html")
    hits = api.get("/api/v1/pages/search", {"q": "Help"}).json()["results"]
    for hit in hits:
        inert(hit["snippet"], "API search snippet")  # HTML with <mark>
    export = _as(world.member).post("/accounts/privacy/export/")
    assert export["Content-Type"].startswith("application/json")
    assert export["Content-Disposition"].startswith("attachment;")
    assert export.json()["profile"]["first_name"] == XSS[:150]


# --- SQL injection and odd input in every filter and search --------------------------------

SQLI = [
    "' OR 1=1--",
    "1;DROP TABLE accounts_user",
    "1' UNION SELECT password FROM accounts_user--",
    "%",
    "_\\",
    "a\x00b",
    "x" * 5000,
    "ü😀\u202e",
    "99999999999999999999999",
]
# Choices, dates, sorting and page numbers get the sharpest few (searches get them all).
SQLI_SHORT = ["' OR 1=1--", "a\x00b", "99999999999999999999999"]

# Page -> the query parameters of its filters and search (and its paging).
PAGE_FILTERS: dict[str, tuple[str, list[str]]] = {
    "/requests/": ("member", ["q", "status", "type", "submitted_from", "submitted_to", "page"]),
    "/requests/new/": ("member", ["q"]),
    "/documents/": ("member", ["q", "category", "request", "since", "until", "sort", "page"]),
    "/documents/trash/": ("member", ["page"]),
    "/notifications/": ("member", ["page"]),
    "/accounts/activity/": ("member", ["page"]),
    "/pages/search/": ("member", ["q"]),
    "/pages/suggest/": ("member", ["q"]),
    "/billing/invoices/": ("admin", ["status", "page"]),
    "/billing/payments/": ("admin", ["page"]),
    "/customer/activity/": ("admin", ["page"]),
    "/customer/members/": ("admin", ["page"]),
}
BACK_OFFICE_LISTS = [
    "/backoffice/servicedesk/servicerequest/",
    "/backoffice/accounts/user/",
    "/backoffice/documents/document/",
    "/backoffice/billing/invoice/",
    "/backoffice/billing/payment/",
    "/backoffice/tokens/personalaccesstoken/",
    "/backoffice/core/auditevent/",
]


def _no_error_and_no_foreign_data(response: Any, where: str, *, foreign_ok: bool) -> None:
    assert response.status_code < 500, f"{where}: {response.status_code}"
    if not foreign_ok and not getattr(response, "streaming", False):
        assert FOREIGN_MARK not in response.content.decode(errors="replace"), where


def test_filters_and_searches_of_the_pages_refuse_injection(world: World) -> None:
    clients = {actor: _as(world.user(actor)) for actor in ("member", "admin", "staff")}
    sent = 0
    for path, (actor, params) in PAGE_FILTERS.items():
        for param in params:
            # Searches get every payload; choices, dates and page numbers the sharpest few.
            for payload in SQLI if param == "q" else SQLI_SHORT:
                response = clients[actor].get(path, {param: payload})
                _no_error_and_no_foreign_data(
                    response, f"{path}?{param}={payload[:20]!r}", foreign_ok=False
                )
                sent += 1
    for path in BACK_OFFICE_LISTS:
        for param, payloads in (("q", SQLI), ("o", SQLI_SHORT), ("p", SQLI_SHORT)):
            for payload in payloads:
                response = clients["staff"].get(path, {param: payload})
                _no_error_and_no_foreign_data(
                    response, f"{path}?{param}={payload[:20]!r}", foreign_ok=True
                )
                sent += 1
    # Text in the path: references, invoice numbers, page ids.
    for payload in SQLI:
        for template, actor in (
            ("/requests/{}/", "member"),
            ("/billing/invoices/{}/", "admin"),
            ("/pages/{}/", "member"),
        ):
            path = template.format(quote(payload[:300], safe=""))
            response = clients[actor].get(path)
            _no_error_and_no_foreign_data(response, path[:60], foreign_ok=False)
            sent += 1
    assert sent > 150


def test_filters_and_searches_of_the_api_refuse_injection(world: World) -> None:
    """Every query and text path parameter of every GET operation, from the OpenAPI document."""
    from portal.api import api

    document = api.get_openapi_schema()
    client = Client(headers={"Authorization": f"Bearer {world.read_secret}"})
    admin_client = Client()
    admin_client.force_login(world.admin)
    known = {
        "document_id": str(world.document_id),
        "reference": world.service_request.reference,
        "invoice_number": str(world.invoice.number),
        "notification_id": str(world.notification.pk),
        "customer_id": str(world.acme.pk),
        "number": "1",
        "doc_id": world.page_id,
        "slug": world.request_type.slug,
    }
    sent = 0
    for route in api_routes():
        if route.method != "GET":
            continue
        operation = document["paths"][route.pattern]["get"]
        parameters = operation.get("parameters", [])
        query = [p["name"] for p in parameters if p["in"] == "query"]
        # Invoices are for the billing and admin roles: the admin's session asks there.
        caller = admin_client if "invoice" in route.key else client
        for payload in SQLI:
            for name in query:
                params = {"q": "x"} if route.key == "api:page_search" and name != "q" else {}
                response = caller.get(route.path(known), {**params, name: payload})
                _no_error_and_no_foreign_data(
                    response, f"{route.key}?{name}={payload[:20]!r}", foreign_ok=False
                )
                assert response["Content-Type"].startswith("application/"), route.key
                sent += 1
            for name in route.params:
                values = {**known, name: quote(payload[:300], safe="")}
                response = caller.get(route.path(values))
                _no_error_and_no_foreign_data(
                    response, f"{route.key} {name}={payload[:20]!r}", foreign_ok=False
                )
                sent += 1
    assert sent > 200


# --- the fixes the sweeps above found on PostgreSQL ------------------------------------------


def test_search_words_drop_nul_characters() -> None:
    from portal.core.text import search_words

    assert search_words("  ac\x00cess \x00", max_length=100) == "access"
    assert search_words("x" * 300, max_length=200) == "x" * 200


def test_a_nul_character_in_a_search_finds_what_the_words_without_it_find(world: World) -> None:
    client = _as(world.member)
    catalog = client.get("/requests/new/", {"q": "Acc\x00ess"})
    assert catalog.status_code == 200
    assert world.request_type.name in catalog.content.decode()
    search = client.get("/pages/search/", {"q": "Invo\x00ices"})
    assert search.status_code == 200
    assert client.get("/pages/suggest/", {"q": "Invo\x00ices"}).json()["query"] == "Invoices"


def test_a_nul_character_in_the_path_is_a_bad_request(world: World) -> None:
    client = _as(world.member)
    for path in ("/requests/SR-2026%00/", "/billing/invoices/%00/", "/pages/%00/"):
        assert client.get(path).status_code == 400, path
    staff = _as(world.staff)
    assert staff.get("/backoffice/servicedesk/servicerequest/1%00/change/").status_code == 400
