"""The content pages over HTTP, as anonymous visitors, customers and staff see them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from portal.accounts.models import User
from portal.core.tests.factories import UserFactory
from portal.customers.roles import Role
from portal.customers.tests.factories import make_customer, make_member

from .factories import SEED_ID, copy_seed, page_text, write_page

pytestmark = pytest.mark.django_db


def _client(user: User | None = None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def _body(html: str) -> str:
    match = re.search(r'<div class="content-body">(.*?)</div>\s*(?:<section|</div>)', html, re.S)
    assert match, "no content body"
    return match.group(1)


def _links(html: str) -> dict[str, str]:
    """Link text -> href."""
    return {
        re.sub(r"<[^>]+>", "", text).strip(): href
        for href, text in re.findall(r'<a href="([^"]*)"[^>]*>(.*?)</a>', html, re.S)
    }


@pytest.fixture
def customer() -> User:
    return make_member(make_customer("Acme Ltd"), Role.MEMBER)


@pytest.fixture
def staff() -> User:
    user: User = UserFactory(is_staff=True)
    return user


# --- The record and its three links ------------------------------------------------


def test_the_record_renders_with_its_three_links(content_dir: Path) -> None:
    copy_seed(content_dir)
    response = _client().get(f"/pages/{SEED_ID}/")
    assert response.status_code == 200
    html = response.content.decode()
    body = _body(html)
    links = _links(body)
    # www.google.com "should still go to google": https, never a relative path.
    assert links["google↗ (external site)"] == "https://www.google.com"
    assert re.search(
        r'<a href="https://www.google.com" class="external" rel="noopener noreferrer">', body
    )
    # The two ids have no published page: text marked as such, no dead link.
    assert set(links) == {"google↗ (external site)"}
    for text in ("cloud strategy", "kredit risk is important"):
        assert (
            f'<span class="link-unpublished">{text}<span class="unpublished-mark"> (not published)'
            in body
        )
    assert "<h1>Customer Portal</h1>" in html
    assert html.count("<h1") == 1


def test_the_record_links_to_documents_that_exist(content_dir: Path) -> None:
    copy_seed(content_dir)
    write_page(content_dir, "ms-policy-015-credit-risk", name="Credit risk policy")
    write_page(content_dir, "str-capa-001-cloud-infrastructure-and-modern", name="Cloud strategy")
    body = _body(_client().get(f"/pages/{SEED_ID}/").content.decode())
    links = _links(body)
    assert links["cloud strategy"] == "/pages/str-capa-001-cloud-infrastructure-and-modern/"
    assert links["kredit risk is important"] == "/pages/ms-policy-015-credit-risk/"
    assert links["google↗ (external site)"] == "https://www.google.com"
    assert "not published" not in body
    target = _client().get("/pages/ms-policy-015-credit-risk/")
    assert target.status_code == 200
    # ... and the target knows it is referenced.
    assert "Referenced by" in target.content.decode()
    assert _links(target.content.decode())["Customer Portal"] == f"/pages/{SEED_ID}/"


def test_nothing_executable_comes_through(content_dir: Path) -> None:
    write_page(
        content_dir,
        "evil",
        body=(
            "[click](javascript:alert(1)) [data](data:text/html,<script>alert(2)</script>)\n\n"
            "<script>alert(3)</script>\n\n"
            '<img src=x onerror="alert(4)"> <a href="javascript:alert(5)">a</a>\n'
        ),
    )
    response = _client().get("/pages/evil/")
    assert response.status_code == 200
    body = _body(response.content.decode())
    assert "<script" not in body
    assert "<img" not in body
    assert "<a " not in body
    assert "&lt;script&gt;alert(3)&lt;/script&gt;" in body  # shown as text, harmless
    markup = re.sub(r"&lt;.*?&gt;", "", body)  # what is not text
    assert "javascript" not in markup and "data:" not in markup and "onerror" not in markup


# --- The facts panel, related pages, contents ------------------------------------------


def test_the_facts_panel_and_related_section(content_dir: Path) -> None:
    copy_seed(content_dir)
    write_page(content_dir, "glossary-customer", name="Glossary")
    html = _client().get(f"/pages/{SEED_ID}/").content.decode()
    facts = html[html.index('<aside class="facts"') : html.index("</aside>")]
    for label, value in [
        ("Owner", "IT Department"),
        ("Version", "2.1.0"),
        ("Last updated", "Jan. 15, 2026"),
        ("Next review", "Jan. 15, 2027"),
        ("Lifecycle", "Operate"),
        ("Criticality", "High"),
    ]:
        assert re.search(rf"<dt>{label}</dt><dd>(<time[^>]*>)?{re.escape(value)}", facts), label
    assert "<dt>Status</dt>" not in facts  # staff only
    related = html[html.index('<section class="related"') :]
    assert "<h3>Association</h3>" in related
    assert (
        '<a href="/pages/glossary-customer/">Glossary</a> <span class="muted">— terminology'
        in related
    )
    assert (
        'bus-proc-005-customer-service-process<span class="unpublished-mark"> (not published)'
        in related
    )


def test_a_long_page_has_a_table_of_contents_and_a_short_one_not(content_dir: Path) -> None:
    write_page(content_dir, "long", body="## One\n\n## Two\n\n### Two a\n\n## Three\n")
    write_page(content_dir, "short", body="## Only\n\nText.\n")
    long_html = _client().get("/pages/long/").content.decode()
    assert '<nav class="toc"' in long_html
    assert '<a href="#two-a">Two a</a>' in long_html
    assert '<h3 id="two-a">Two a</h3>' in long_html
    assert '<nav class="toc"' not in _client().get("/pages/short/").content.decode()


# --- Visibility -----------------------------------------------------------------------


@pytest.fixture
def mixed(content_dir: Path) -> Path:
    write_page(content_dir, "public-page", tags=["public"])
    write_page(content_dir, "members-page", tags=["help"])
    write_page(content_dir, "draft-page", status="draft", tags=["public"])
    return content_dir


EXPECTED = {
    "anonymous": {"public-page": 200, "members-page": 404, "draft-page": 404},
    "customer": {"public-page": 200, "members-page": 200, "draft-page": 404},
    "staff": {"public-page": 200, "members-page": 200, "draft-page": 200},
}


@pytest.mark.parametrize("who", list(EXPECTED))
def test_visibility_for_anonymous_customer_and_staff(
    mixed: Path, who: str, request: pytest.FixtureRequest
) -> None:
    client = _client(None if who == "anonymous" else request.getfixturevalue(who))
    for doc_id, status in EXPECTED[who].items():
        response = client.get(f"/pages/{doc_id}/")
        # A hidden page is a 404 exactly like a missing one, never a sign-in redirect.
        assert response.status_code == status, doc_id
    missing = client.get("/pages/no-such-page/")
    assert missing.status_code == 404
    index = client.get("/pages/").content.decode()
    for doc_id, status in EXPECTED[who].items():
        assert (f'href="/pages/{doc_id}/"' in index) == (status == 200), doc_id


def test_a_hidden_page_looks_exactly_like_a_missing_one(mixed: Path) -> None:
    hidden = _client().get("/pages/members-page/")
    missing = _client().get("/pages/never-existed/")
    assert hidden.status_code == missing.status_code == 404

    def comparable(content: bytes, doc_id: str) -> str:
        # Only the CSRF token and the page's own address (in the language form) differ.
        html = re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", content.decode())
        return html.replace(doc_id, "ID")

    assert comparable(hidden.content, "members-page") == comparable(
        missing.content, "never-existed"
    )


def test_staff_see_status_and_overdue_reviews(
    content_dir: Path, staff: User, customer: User
) -> None:
    write_page(content_dir, "stale", next_review="2020-01-01")
    write_page(content_dir, "draft-page", status="draft")
    staff_html = _client(staff).get("/pages/stale/").content.decode()
    assert 'data-testid="review-overdue"' in staff_html
    assert "<dt>Status</dt><dd>Published</dd>" in staff_html
    assert (
        'data-testid="review-overdue"'
        not in _client(customer).get("/pages/stale/").content.decode()
    )
    index = _client(staff).get("/pages/").content.decode()
    assert "Review overdue" in index
    assert '<span class="badge badge-draft">Draft</span>' in index
    assert (
        "Only staff can see this page" in _client(staff).get("/pages/draft-page/").content.decode()
    )
    assert "Review overdue" not in _client(customer).get("/pages/").content.decode()


# --- A broken file ------------------------------------------------------------------------


def test_a_broken_file_is_reported_while_the_other_pages_serve(
    content_dir: Path, staff: User
) -> None:
    write_page(content_dir, "good", name="Good page")
    (content_dir / "broken.md").write_text(
        page_text("broken").replace("owner: Test Team\n", "owner: Test Team\nversion_typo: 1\n")
    )
    assert _client().get("/pages/good/").status_code == 200
    assert _client().get("/pages/broken/").status_code == 404
    index = _client(staff).get("/pages/").content.decode()
    assert "<code>broken.md:5</code>" in index
    assert "version_typo: is not a known field" in index
    assert "Problems in the content files" not in _client().get("/pages/").content.decode()


# --- Edits show without a restart -------------------------------------------------------------


def test_an_edited_file_shows_without_a_restart(content_dir: Path) -> None:
    path = write_page(content_dir, "page", name="First title")
    assert "First title" in _client().get("/pages/page/").content.decode()
    path.write_text(page_text("page", name="Second, edited title"))
    assert "Second, edited title" in _client().get("/pages/page/").content.decode()


def test_a_page_costs_a_handful_of_queries(
    content_dir: Path, django_assert_max_num_queries: Any
) -> None:
    copy_seed(content_dir)
    _client().get(f"/pages/{SEED_ID}/")  # the first request syncs
    with django_assert_max_num_queries(6):
        assert _client().get(f"/pages/{SEED_ID}/").status_code == 200


# --- Search and suggestions -------------------------------------------------------------------


@pytest.fixture
def searchable(content_dir: Path) -> Path:
    write_page(content_dir, "paying-invoices", name="Paying invoices", body="Pay by card.\n")
    write_page(
        content_dir,
        "billing",
        name="Billing",
        body="Every invoice, all invoices, invoices listed and reconciled.\n",
    )
    write_page(content_dir, "secret-invoices", name="Secret invoices", tags=[])
    return content_dir


def test_search_page_ranks_and_highlights(searchable: Path) -> None:
    response = _client().get("/pages/search/", {"q": "invoices"})
    html = response.content.decode()
    results = re.findall(r'<h2><a href="/pages/([^/]+)/">', html)
    assert results == ["paying-invoices", "billing"]
    assert "<mark>invoices</mark>" in html
    assert "2 pages found for “invoices”." in html


def test_search_page_escapes_the_query(searchable: Path) -> None:
    html = _client().get("/pages/search/", {"q": "<script>alert(1)</script>"}).content.decode()
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_search_without_a_query_shows_the_form(searchable: Path) -> None:
    html = _client().get("/pages/search/").content.decode()
    assert 'name="q"' in html and "found for" not in html


def test_suggestions_as_json_for_what_the_user_may_see(searchable: Path, customer: User) -> None:
    data = _client().get("/pages/suggest/", {"q": "invoi"}).json()
    assert [r["id"] for r in data["results"]] == ["paying-invoices", "billing"]
    assert data["results"][0] == {
        "id": "paying-invoices",
        "title": "Paying invoices",
        "url": "/pages/paying-invoices/",
        "summary": "Pay by card.",
    }
    assert data["label"]
    signed_in = _client(customer).get("/pages/suggest/", {"q": "invoi"}).json()
    assert "secret-invoices" in [r["id"] for r in signed_in["results"]]
    assert _client().get("/pages/suggest/").json()["results"] == []


def test_only_get_and_head(searchable: Path) -> None:
    for url in ("/pages/", "/pages/search/", "/pages/suggest/", "/pages/billing/"):
        assert _client().post(url).status_code == 405


# --- The shell --------------------------------------------------------------------------------


def test_help_is_in_the_main_navigation_and_pages_need_no_inline_code(content_dir: Path) -> None:
    write_page(content_dir, "page")
    home = _client().get("/").content.decode()
    nav = home[home.index('aria-label="Main"') : home.index("</nav>")]
    assert '<a href="/pages/">Help</a>' in nav
    html = _client().get("/pages/page/").content.decode()
    nav = html[html.index('aria-label="Main"') : html.index("</nav>")]
    assert '<a href="/pages/" aria-current="page">Help</a>' in nav
    assert "style=" not in html
    assert re.findall(r"<script(?![^>]*\bsrc=)", html) == []
