"""Reads by who is asking: visibility, related pages, references, search (SQLite and PostgreSQL)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.http import Http404

from portal.accounts.models import User
from portal.content import selectors
from portal.content.models import Audience, ContentPage, visible_q, visible_to
from portal.content.services import content_sync
from portal.core.tests.factories import UserFactory
from portal.customers.roles import Role
from portal.customers.tests.factories import make_customer, make_member

from .factories import write_page

pytestmark = pytest.mark.django_db


@dataclass
class Readers:
    anonymous: AnonymousUser
    customer: User
    staff: User


@pytest.fixture
def readers() -> Readers:
    customer = make_member(make_customer("Acme Ltd"), Role.MEMBER)
    return Readers(anonymous=AnonymousUser(), customer=customer, staff=UserFactory(is_staff=True))


@pytest.fixture
def site(content_dir: Path) -> Path:
    write_page(content_dir, "public-page", tags=["help", "public"])
    write_page(content_dir, "members-page", tags=["help"])
    write_page(content_dir, "draft-public", status="draft", tags=["public"])
    write_page(content_dir, "review-page", status="review", tags=[])
    write_page(content_dir, "retired-page", status="retired", tags=["public"])
    content_sync(directory=content_dir)
    return content_dir


VISIBLE = {
    "anonymous": {"public-page"},
    "customer": {"public-page", "members-page"},
    "staff": {"public-page", "members-page", "draft-public", "review-page", "retired-page"},
}


@pytest.mark.parametrize("who", ["anonymous", "customer", "staff"])
def test_visibility_by_tag_and_status(site: Path, readers: Readers, who: str) -> None:
    user = getattr(readers, who)
    visible = set(selectors.pages_for_user(user=user).values_list("doc_id", flat=True))
    assert visible == VISIBLE[who]
    for doc_id in VISIBLE["staff"]:
        if doc_id in visible:
            assert selectors.page_get_for_user(user=user, doc_id=doc_id).doc_id == doc_id
        else:
            with pytest.raises(Http404):
                selectors.page_get_for_user(user=user, doc_id=doc_id)


def test_an_inactive_staff_account_is_not_staff(site: Path) -> None:
    user = UserFactory(is_staff=True, is_active=False)
    assert selectors.audience_of(user) == Audience.SIGNED_IN


def test_the_python_and_database_rules_agree(site: Path) -> None:
    for audience in Audience:
        in_python = {
            page.doc_id
            for page in ContentPage.objects.all()
            if visible_to(audience, status=page.status, is_public=page.is_public)
        }
        in_database = set(
            ContentPage.objects.filter(visible_q(audience)).values_list("doc_id", flat=True)
        )
        assert in_python == in_database


def test_links_render_per_reader(content_dir: Path, readers: Readers) -> None:
    write_page(
        content_dir,
        "hub",
        body="[A](public-page) [B](members-page) [C](draft-page) [D](nowhere)\n",
    )
    write_page(content_dir, "public-page")
    write_page(content_dir, "members-page", tags=[])
    write_page(content_dir, "draft-page", status="draft")
    content_sync(directory=content_dir)
    hub = ContentPage.objects.get(doc_id="hub")

    def linked(user: selectors.Reader) -> list[str]:
        html = selectors.page_body_for_user(user=user, page=hub)
        return [
            doc for doc in ("public-page", "members-page", "draft-page") if f"/pages/{doc}/" in html
        ]

    assert linked(readers.anonymous) == ["public-page"]
    assert linked(readers.customer) == ["public-page", "members-page"]
    assert linked(readers.staff) == ["public-page", "members-page", "draft-page"]
    assert "/pages/nowhere/" not in selectors.page_body_for_user(user=readers.staff, page=hub)


def test_related_groups_relationships_and_links_only_what_the_reader_sees(
    content_dir: Path, readers: Readers
) -> None:
    write_page(
        content_dir,
        "main",
        relationships=[
            {"type": "association", "target": "glossary", "description": "terminology"},
            {"type": "composition", "target": "part", "description": "a part"},
            {"type": "association", "target": "missing", "description": "not there"},
            {"type": "association", "target": "secret", "description": "a draft"},
        ],
    )
    write_page(content_dir, "glossary", name="Glossary")
    write_page(content_dir, "part", name="Part")
    write_page(content_dir, "secret", status="draft")
    content_sync(directory=content_dir)
    main = ContentPage.objects.get(doc_id="main")

    groups = selectors.page_related(user=readers.anonymous, page=main)
    assert [
        (g.type, [(i.target_id, i.description, i.page is not None) for i in g.items])
        for g in groups
    ] == [
        (
            "association",
            [
                ("glossary", "terminology", True),
                ("missing", "not there", False),
                ("secret", "a draft", False),
            ],
        ),
        ("composition", [("part", "a part", True)]),
    ]
    staff_groups = selectors.page_related(user=readers.staff, page=main)
    assert staff_groups[0].items[2].page is not None


def test_referenced_by_comes_from_links_and_relationships_of_visible_pages(
    content_dir: Path, readers: Readers
) -> None:
    write_page(content_dir, "target", name="Target")
    write_page(content_dir, "linker", name="Linker", body="See [the target](target#x).\n")
    write_page(
        content_dir,
        "relater",
        name="Relater",
        relationships=[{"type": "association", "target": "target", "description": ""}],
    )
    write_page(
        content_dir, "hidden-linker", name="Hidden linker", status="draft", body="[t](target)\n"
    )
    write_page(content_dir, "unrelated")
    content_sync(directory=content_dir)
    target = ContentPage.objects.get(doc_id="target")

    def titles(user: selectors.Reader) -> list[str]:
        return [p.title for p in selectors.page_referenced_by(user=user, page=target)]

    assert titles(readers.anonymous) == ["Linker", "Relater"]
    assert titles(readers.staff) == ["Hidden linker", "Linker", "Relater"]


# --- Search: the same tests run on SQLite (make test) and PostgreSQL (CI) ------------


@pytest.fixture
def searchable(content_dir: Path) -> Path:
    write_page(
        content_dir,
        "billing-overview",
        name="Billing overview",
        body=(
            "Invoices, invoices, invoices. Every invoice is listed here, and each invoice "
            "shows its invoices total. Reconciliation happens monthly.\n"
        ),
    )
    write_page(
        content_dir,
        "paying-invoices",
        name="Paying invoices",
        body="You can pay by card. An invoice number is on every bill.\n",
    )
    write_page(content_dir, "passwords", name="Passwords", body="Choose a long password.\n")
    write_page(
        content_dir,
        "internal-invoices",
        name="Internal invoices",
        status="draft",
        body="Invoices for staff.\n",
    )
    write_page(
        content_dir,
        "html-page",
        name="Tricky",
        body="Raw <b>markup</b> & <script>alert('searchterm')</script> here.\n",
    )
    content_sync(directory=content_dir)
    return content_dir


def test_search_finds_pages_by_words_in_their_body(searchable: Path, readers: Readers) -> None:
    hits = selectors.page_search(user=readers.anonymous, query="reconciliation")
    assert [hit.page.doc_id for hit in hits] == ["billing-overview"]
    assert "<mark>Reconciliation</mark>" in hits[0].snippet
    assert not hits[0].title_match


def test_a_title_match_ranks_first(searchable: Path, readers: Readers) -> None:
    hits = selectors.page_search(user=readers.anonymous, query="invoices")
    # "Billing overview" mentions invoices far more often, but only in its text.
    assert [hit.page.doc_id for hit in hits] == ["paying-invoices", "billing-overview"]
    assert hits[0].title_match and not hits[1].title_match


def test_search_stems_and_completes_the_last_word(searchable: Path, readers: Readers) -> None:
    assert [h.page.doc_id for h in selectors.page_search(user=readers.anonymous, query="pay")] == [
        "paying-invoices"
    ]
    assert [
        h.page.doc_id for h in selectors.page_search(user=readers.anonymous, query="passw")
    ] == ["passwords"]
    two_words = selectors.page_search(user=readers.anonymous, query="card invoice")
    assert [h.page.doc_id for h in two_words] == ["paying-invoices"]


def test_search_only_finds_what_the_reader_may_see(searchable: Path, readers: Readers) -> None:
    anonymous = {
        h.page.doc_id for h in selectors.page_search(user=readers.anonymous, query="invoices")
    }
    staff = {h.page.doc_id for h in selectors.page_search(user=readers.staff, query="invoices")}
    assert "internal-invoices" not in anonymous
    assert "internal-invoices" in staff


def test_snippets_are_escaped_before_they_are_highlighted(
    searchable: Path, readers: Readers
) -> None:
    (hit,) = selectors.page_search(user=readers.anonymous, query="markup")
    snippet = str(hit.snippet)
    assert "<b>" not in snippet and "<script" not in snippet
    assert "<mark>markup</mark>" in snippet
    assert " &amp; " in snippet
    # Only our <mark> is markup (PostgreSQL drops the tags from a headline, SQLite keeps them).
    assert snippet.replace("<mark>", "").replace("</mark>", "").count("<") == 0


@pytest.mark.parametrize(
    "query",
    ['"', "invoices OR", "NEAR(", "title:", "*", "')--", "a & | ! b", "\x00", "x" * 500],
)
def test_search_syntax_in_a_query_is_harmless(
    searchable: Path, readers: Readers, query: str
) -> None:
    selectors.page_search(user=readers.anonymous, query=query)  # does not raise


def test_search_runs_on_this_database(searchable: Path) -> None:
    assert connection.vendor in {"sqlite", "postgresql"}
