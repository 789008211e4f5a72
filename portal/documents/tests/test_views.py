"""Who may open which document page, and what the pages do. Every route of the app
must appear in ACCESS, so a new URL cannot skip the access rules."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from allauth.mfa.models import Authenticator
from django.test import Client
from django.urls import get_resolver
from django.utils import timezone

from portal.accounts.models import User
from portal.core.fragments import versions_bump
from portal.core.models import AuditAction, AuditEvent
from portal.core.tests.factories import UserFactory
from portal.customers.models import Customer
from portal.customers.roles import Role
from portal.customers.tests.factories import make_customer, make_member
from portal.documents import services
from portal.documents.models import Category, Document, DocumentVersion

from . import samples

pytestmark = pytest.mark.django_db


def finish(response: Any) -> Any:
    """Read a streamed response to its end, which closes its file (as a server would)."""
    if response.streaming:
        response.content_read = b"".join(response.streaming_content)
    return response


@dataclass
class World:
    acme: Customer
    globex: Customer
    admin: User
    member: User
    billing: User
    outsider: User
    staff: User
    doc: Document
    trashed: Document
    other_doc: Document
    other_trashed: Document


def _upload(customer: Customer, user: User, name: str, content: bytes = samples.PDF) -> Document:
    version = services.document_upload(
        customer=customer, uploaded_by=user, file=samples.upload(name, content)
    )
    return version.document


@pytest.fixture
def world(commit: Any) -> World:
    acme = make_customer("Acme Ltd")
    globex = make_customer("Globex")
    admin = make_member(acme, Role.ADMIN)
    member = make_member(acme, Role.MEMBER)
    billing = make_member(acme, Role.BILLING)
    other_admin = make_member(globex, Role.ADMIN)
    staff = UserFactory(is_staff=True, is_superuser=True)
    # The back office insists on a second factor.
    Authenticator.objects.create(user=staff, type=Authenticator.Type.TOTP, data={"secret": "x"})
    with commit():
        doc = _upload(acme, member, "contract.pdf")
        trashed = _upload(acme, member, "old.pdf")
        services.document_trash(document=trashed, actor=member)
        other_doc = _upload(globex, other_admin, "secret.pdf")
        other_trashed = _upload(globex, other_admin, "secret-old.pdf")
        services.document_trash(document=other_trashed, actor=other_admin)
    return World(
        acme=acme,
        globex=globex,
        admin=admin,
        member=member,
        billing=billing,
        outsider=UserFactory(),
        staff=staff,
        doc=doc,
        trashed=trashed,
        other_doc=other_doc,
        other_trashed=other_trashed,
    )


# Route name -> (method, path builder, status when allowed).
ACCESS: dict[str, tuple[str, Callable[[World], str], int]] = {
    "library": ("get", lambda w: "/documents/", 200),
    "trash": ("get", lambda w: "/documents/trash/", 200),
    "upload": ("post", lambda w: "/documents/upload/", 302),
    "detail": ("get", lambda w: f"/documents/{w.doc.pk}/", 200),
    "edit": ("post", lambda w: f"/documents/{w.doc.pk}/edit/", 400),
    "version_upload": ("post", lambda w: f"/documents/{w.doc.pk}/versions/", 302),
    "download": ("get", lambda w: f"/documents/{w.doc.pk}/versions/1/download/", 200),
    "delete": ("get", lambda w: f"/documents/{w.doc.pk}/delete/", 200),
    "restore": ("post", lambda w: f"/documents/{w.trashed.pk}/restore/", 302),
}
EXPECTED: dict[str, str | int] = {
    "anonymous": "login",
    "outsider": 404,  # belongs to no customer
    "billing": 403,  # the role does not include documents
    "member": "ok",
    "admin": "ok",
}
# The same routes for another customer's document: never more than "not found".
OTHER_CUSTOMERS: dict[str, tuple[str, Callable[[World], str]]] = {
    "detail": ("get", lambda w: f"/documents/{w.other_doc.pk}/"),
    "edit": ("post", lambda w: f"/documents/{w.other_doc.pk}/edit/"),
    "version_upload": ("post", lambda w: f"/documents/{w.other_doc.pk}/versions/"),
    "download": ("get", lambda w: f"/documents/{w.other_doc.pk}/versions/1/download/"),
    "delete": ("get", lambda w: f"/documents/{w.other_doc.pk}/delete/"),
    "delete_post": ("post", lambda w: f"/documents/{w.other_doc.pk}/delete/"),
    "restore": ("post", lambda w: f"/documents/{w.other_trashed.pk}/restore/"),
}


def test_every_document_route_has_an_access_rule() -> None:
    resolver = get_resolver()
    names = {
        name
        for name in resolver.namespace_dict["documents"][1].reverse_dict
        if isinstance(name, str)
    }
    assert names == set(ACCESS)
    assert {name.removesuffix("_post") for name in OTHER_CUSTOMERS} == set(ACCESS) - {
        "library",
        "trash",
        "upload",
    }


@pytest.mark.parametrize("route", sorted(ACCESS))
@pytest.mark.parametrize("actor", sorted(EXPECTED))
def test_access_matrix(client: Client, world: World, route: str, actor: str) -> None:
    method, build, ok = ACCESS[route]
    if actor != "anonymous":
        client.force_login(getattr(world, actor))
    response = finish(getattr(client, method)(build(world)))
    expected = EXPECTED[actor]
    if expected == "login":
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=")
    else:
        assert response.status_code == (ok if expected == "ok" else expected)


@pytest.mark.parametrize("route", sorted(OTHER_CUSTOMERS))
def test_another_customers_document_and_version_are_not_found(
    client: Client, world: World, route: str
) -> None:
    client.force_login(world.admin)
    method, build = OTHER_CUSTOMERS[route]
    response = getattr(client, method)(build(world), {"title": "mine now"})
    assert response.status_code == 404
    other = Document.objects.get(pk=world.other_doc.pk)
    assert other.title == "secret.pdf" and other.deleted_at is None
    assert Document.objects.get(pk=world.other_trashed.pk).deleted_at is not None
    assert not AuditEvent.objects.filter(action=AuditAction.DOCUMENT_DOWNLOADED).exists()


def test_a_missing_version_is_not_found(client: Client, world: World) -> None:
    client.force_login(world.member)
    assert client.get(f"/documents/{world.doc.pk}/versions/2/download/").status_code == 404
    assert client.get(f"/documents/{world.trashed.pk}/").status_code == 404
    assert client.get(f"/documents/{world.trashed.pk}/versions/1/download/").status_code == 404


def test_a_download_is_an_audited_attachment(client: Client, world: World) -> None:
    client.force_login(world.member)
    response = client.get(f"/documents/{world.doc.pk}/versions/1/download/")
    assert response.status_code == 200
    assert response.streaming
    assert b"".join(response.streaming_content) == samples.PDF  # type: ignore[attr-defined]
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == (
        "attachment; filename=\"contract.pdf\"; filename*=UTF-8''contract.pdf"
    )
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Length"] == str(len(samples.PDF))
    assert "no-store" in response["Cache-Control"]
    assert "sandbox" in response["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    event = AuditEvent.objects.get(action=AuditAction.DOCUMENT_DOWNLOADED)
    assert (event.actor, event.customer) == (world.member, world.acme)
    assert event.data == {"document": world.doc.pk, "version": 1}


def test_a_quarantined_version_cannot_be_downloaded(client: Client, world: World) -> None:
    DocumentVersion.objects.filter(document=world.doc).update(scan_status="infected")
    client.force_login(world.member)
    response = client.get(f"/documents/{world.doc.pk}/versions/1/download/")
    assert response.status_code == 403
    assert b"A virus was found in this file" in response.content
    assert not AuditEvent.objects.filter(action=AuditAction.DOCUMENT_DOWNLOADED).exists()
    page = client.get(f"/documents/{world.doc.pk}/").content.decode()
    assert "/versions/1/download/" not in page
    assert "Quarantined" in page


def test_uploading_several_files_with_the_plain_form(
    client: Client, world: World, commit: Any
) -> None:
    client.force_login(world.member)
    contracts = Category.objects.get(slug="contracts")
    with commit():
        response = client.post(
            "/documents/upload/",
            {
                "files": [
                    samples.upload("a.pdf", samples.PDF),
                    samples.upload("b.png", samples.PNG),
                    samples.upload("fake.pdf", samples.HTML),
                ],
                "category": contracts.pk,
            },
            follow=True,
        )
    page = response.content.decode()
    assert "a.pdf has been uploaded." in page
    assert "b.png has been uploaded." in page
    assert "fake.pdf cannot be uploaded: its content is web page (HTML)" in page
    assert set(Document.objects.filter(category=contracts).values_list("title", flat=True)) == {
        "a.pdf",
        "b.png",
    }


def test_uploading_with_javascript_answers_json(client: Client, world: World, commit: Any) -> None:
    client.force_login(world.member)
    with commit():
        ok = client.post(
            "/documents/upload/",
            {"files": samples.upload("a.pdf", samples.PDF)},
            headers={"Accept": "application/json"},
        )
    assert ok.status_code == 200
    [result] = ok.json()["files"]
    assert result["ok"] and result["name"] == "a.pdf"
    assert result["url"].startswith("/documents/")
    refused = client.post(
        "/documents/upload/",
        {"files": samples.upload("a.pdf", samples.EXE)},
        headers={"Accept": "application/json"},
    )
    assert refused.status_code == 400
    assert "its content is program" in refused.json()["files"][0]["error"]


def test_an_oversize_file_is_dropped_while_it_arrives(
    client: Client, world: World, settings: Any, document_root: Any
) -> None:
    settings.PORTAL_DOCUMENT_MAX_BYTES = 10_000
    client.force_login(world.member)
    before = Document.objects.count()
    response = client.post(
        "/documents/upload/",
        {"files": samples.upload("huge.pdf", samples.PDF + b"\0" * 50_000)},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["files"][0]["error"] == (
        "huge.pdf is too large: files may be at most 9.8\xa0KB."
    )
    assert Document.objects.count() == before


def test_uploads_need_a_valid_csrf_token(world: World) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.member)
    response = client.post("/documents/upload/", {"files": samples.upload("a.pdf", samples.PDF)})
    assert response.status_code == 403
    assert Document.objects.filter(title="a.pdf").count() == 0


def test_adding_a_version(client: Client, world: World, commit: Any) -> None:
    client.force_login(world.member)
    with commit():
        response = client.post(
            f"/documents/{world.doc.pk}/versions/",
            {"file": samples.upload("contract-v2.pdf", samples.PDF + b"%v2")},
            follow=True,
        )
    assert "Version 2 has been uploaded." in response.content.decode()
    assert world.doc.versions.count() == 2
    download = finish(client.get(f"/documents/{world.doc.pk}/versions/2/download/"))
    assert download.status_code == 200


def test_rename_move_and_delete_with_confirmation(
    client: Client, world: World, commit: Any
) -> None:
    client.force_login(world.member)
    photos = Category.objects.get(slug="photos")
    with commit():
        response = client.post(
            f"/documents/{world.doc.pk}/edit/", {"title": "Lease", "category": photos.pk}
        )
    assert response.status_code == 302
    world.doc.refresh_from_db()
    assert (world.doc.title, world.doc.category) == ("Lease", photos)

    confirm = client.get(f"/documents/{world.doc.pk}/delete/").content.decode()
    assert "Move “Lease” to the trash?" in confirm
    assert "for 30 days" in confirm
    world.doc.refresh_from_db()
    assert world.doc.deleted_at is None  # asking changes nothing
    with commit():
        client.post(f"/documents/{world.doc.pk}/delete/")
    assert "Lease" in client.get("/documents/trash/").content.decode()
    with commit():
        client.post(f"/documents/{world.doc.pk}/restore/")
    world.doc.refresh_from_db()
    assert world.doc.deleted_at is None


def test_library_filters_search_sort_and_empty_states(
    client: Client, world: World, commit: Any
) -> None:
    client.force_login(world.member)
    contracts = Category.objects.get(slug="contracts")
    with commit():
        services.document_upload(
            customer=world.acme,
            uploaded_by=world.member,
            file=samples.upload("invoice.pdf", samples.PDF),
            category=contracts,
            request_reference="SR-2026-000042",
        )

    def titles(query: str) -> list[str]:
        response = client.get(f"/documents/?{query}")
        assert response.status_code == 200
        return [d.title for d in response.context["page"].object_list]

    assert titles("") == ["invoice.pdf", "contract.pdf"]
    assert titles("sort=title") == ["contract.pdf", "invoice.pdf"]
    assert titles("sort=-title") == ["invoice.pdf", "contract.pdf"]
    assert titles("q=CONTR") == ["contract.pdf"]
    assert titles("category=contracts") == ["invoice.pdf"]
    assert titles("request=SR-2026-000042") == ["invoice.pdf"]
    today = timezone.localdate()
    assert titles(f"since={today + timedelta(days=1)}") == []
    assert titles(f"until={today}") == ["invoice.pdf", "contract.pdf"]
    assert "No documents match these filters." in client.get("/documents/?q=zzz").content.decode()

    empty = make_member(make_customer("Empty Co"), Role.MEMBER)
    client.force_login(empty)
    page = client.get("/documents/").content.decode()
    assert "No documents yet." in page
    assert "The trash is empty." in client.get("/documents/trash/").content.decode()


def test_the_library_paginates_and_keeps_filters(
    client: Client, world: World, settings: Any
) -> None:
    from portal.documents import views

    client.force_login(world.member)
    for number in range(views.PAGE_SIZE + 1):
        Document.objects.create(customer=world.acme, title=f"doc {number:02}")
    page = client.get("/documents/?q=doc&sort=title").content.decode()
    assert "Page 1 of 2" in page
    assert 'href="?q=doc&amp;sort=title&amp;page=2"' in page


def test_staff_shared_documents_are_read_only_and_on_the_dashboard(
    client: Client, world: World, commit: Any
) -> None:
    with commit():
        version = services.document_share(
            customer=world.acme,
            shared_by=world.staff,
            file=samples.upload("statement.pdf", samples.PDF),
            title="Statement 2026",
        )
    client.force_login(world.member)
    dashboard = client.get("/dashboard/").content.decode()
    assert "Documents from us" in dashboard
    assert f'href="/documents/{version.document_id}/"' in dashboard
    detail = client.get(f"/documents/{version.document_id}/").content.decode()
    assert "Shared by us" in detail
    assert "Upload a new version" not in detail
    assert client.get(f"/documents/{version.document_id}/delete/").status_code == 200
    with commit():
        client.post(f"/documents/{version.document_id}/delete/")
    assert Document.objects.get(pk=version.document_id).deleted_at is None


def test_the_nav_shows_documents_to_roles_that_may_see_them(client: Client, world: World) -> None:
    client.force_login(world.member)
    assert 'href="/documents/"' in client.get("/dashboard/").content.decode()
    client.force_login(world.billing)
    assert 'href="/documents/"' not in client.get("/dashboard/").content.decode()


def test_the_library_needs_a_constant_number_of_queries(
    client: Client, world: World, django_assert_max_num_queries: Any, commit: Any
) -> None:
    client.force_login(world.member)
    client.get("/documents/")  # warm caches (content types, sessions)
    versions_bump(customers=[world.acme.pk])  # a view that renders the page again
    with django_assert_max_num_queries(20) as few:
        client.get("/documents/")
    baseline = len(few.captured_queries)
    with commit():
        for number in range(15):
            _upload(world.acme, world.member, f"more-{number}.pdf")
    with django_assert_max_num_queries(baseline):
        response = client.get("/documents/")
    assert len(response.context["page"].object_list) == 16


def test_the_detail_page_needs_a_constant_number_of_queries(
    client: Client, world: World, django_assert_max_num_queries: Any, commit: Any
) -> None:
    client.force_login(world.member)
    url = f"/documents/{world.doc.pk}/"
    client.get(url)
    with django_assert_max_num_queries(25) as few:
        client.get(url)
    baseline = len(few.captured_queries)
    with commit():
        for _ in range(10):
            services.document_version_add(
                document=world.doc,
                uploaded_by=world.admin,
                file=samples.upload("v.pdf", samples.PDF),
            )
    with django_assert_max_num_queries(baseline):
        client.get(url)


def test_staff_share_a_document_in_the_back_office(
    client: Client, world: World, commit: Any
) -> None:
    client.force_login(world.staff)
    assert client.get("/backoffice/documents/document/").status_code == 200
    assert client.get("/backoffice/documents/document/share/").status_code == 200
    with commit():
        response = client.post(
            "/backoffice/documents/document/share/",
            {
                "customer": world.acme.pk,
                "file": samples.upload("contract.pdf", samples.PDF),
                "title": "Framework contract",
            },
        )
    assert response.status_code == 302
    document = Document.objects.get(title="Framework contract")
    assert document.source == "staff" and document.created_by == world.staff
    assert client.get(response["Location"]).status_code == 200
    version = document.current_version
    assert version is not None
    download = client.get(f"/backoffice/documents/document/versions/{version.pk}/download/")
    assert finish(download).status_code == 200
    refused = client.post(
        "/backoffice/documents/document/share/",
        {"customer": world.acme.pk, "file": samples.upload("x.pdf", samples.HTML)},
    )
    assert "cannot be uploaded" in refused.content.decode()
