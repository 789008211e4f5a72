from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from portal.apikit.tests.client import ApiClient
from portal.apikit.tests.world import World, build_world
from portal.core.models import AuditAction, AuditEvent
from portal.customers.models import Membership
from portal.documents.models import Document

from .samples import HTML, PDF

pytestmark = pytest.mark.django_db


@pytest.fixture
def world() -> World:
    return build_world()


def _upload(secret: str, path: str = "documents", **fields: Any) -> Any:
    fields.setdefault("file", SimpleUploadedFile("offer.pdf", PDF))
    return Client(headers={"Authorization": f"Bearer {secret}"}).post(f"/api/v1/{path}", fields)


def _read(response: Any) -> bytes:
    return b"".join(response.streaming_content)  # reading to the end closes the file


def test_list_the_tokens_customers_library(world: World) -> None:
    body = ApiClient(world.read_token).get("documents").json()
    assert body["count"] == 1
    (document,) = body["results"]
    assert document["id"] == world.document_id and document["title"] == "Contract"
    assert document["customer_id"] == world.acme.pk
    version = document["current_version"]
    assert version["number"] == 1 and version["file_name"] == "contract.txt"
    assert version["download_url"].endswith(f"/documents/{world.document_id}/versions/1/download")


def test_a_role_without_documents_gets_403_and_another_customer_404(world: World) -> None:
    assert ApiClient(world.billing_token).get("documents").status_code == 403
    assert (
        ApiClient(world.read_token).get("documents", customer_id=world.other.pk).status_code == 404
    )


def test_a_session_with_several_customers_says_which(world: World) -> None:
    Membership.objects.create(user=world.member, customer=world.other, role="member")
    client = Client()
    client.force_login(world.member)
    api = ApiClient(client=client)
    response = api.get("documents")
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "customer_id"
    assert api.get("documents", customer_id=world.acme.pk).json()["count"] == 1


def test_upload_a_document_and_a_new_version(world: World) -> None:
    response = _upload(world.write_token, title="Offer", request_reference="SR-2026-000001")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["title"] == "Offer" and body["request_reference"] == "SR-2026-000001"
    assert body["current_version"]["content_type"] == "application/pdf"
    assert [v["number"] for v in body["versions"]] == [1]
    assert AuditEvent.objects.filter(action=AuditAction.DOCUMENT_UPLOADED).count() == 3

    added = _upload(world.write_token, f"documents/{body['id']}/versions")
    assert added.status_code == 201, added.content
    assert added.json()["number"] == 2
    versions = ApiClient(world.read_token).get(f"documents/{body['id']}/versions").json()
    assert [v["number"] for v in versions] == [2, 1]


def test_uploads_are_checked_by_content_and_name_the_field(world: World) -> None:
    response = _upload(world.write_token, file=SimpleUploadedFile("page.pdf", HTML))
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "file"
    assert not Document.objects.filter(title="page.pdf").exists()
    missing = Client(headers={"Authorization": f"Bearer {world.write_token}"}).post(
        "/api/v1/documents", {"title": "no file"}
    )
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "file"


def test_a_file_over_the_limit_is_a_413(world: World, settings: Any) -> None:
    settings.PORTAL_DOCUMENT_MAX_BYTES = 50
    response = _upload(world.write_token, file=SimpleUploadedFile("big.pdf", PDF + b"x" * 100))
    assert response.status_code == 413
    assert response["Content-Type"] == "application/problem+json"
    assert "big.pdf" in response.json()["detail"]


def test_uploads_need_write_access_the_upload_permission_and_no_extra_fields(
    world: World,
) -> None:
    assert _upload(world.read_token).status_code == 403
    assert _upload(world.billing_token).status_code == 403
    response = _upload(world.write_token, customer=str(world.other.pk), source="staff")
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} == {"customer", "source"}
    assert _upload(world.write_token, customer_id=str(world.other.pk)).status_code == 404
    assert Document.objects.filter(customer=world.other).count() == 1


def test_download_streams_the_file_as_an_attachment_and_is_audited(world: World) -> None:
    response = ApiClient(world.read_token).get(f"documents/{world.document_id}/versions/1/download")
    assert response.status_code == 200
    assert _read(response) == b"The contract, signed.\n"
    assert response["Content-Disposition"].startswith("attachment")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]
    assert AuditEvent.objects.filter(action=AuditAction.DOCUMENT_DOWNLOADED).count() == 1
    missing = ApiClient(world.read_token).get(f"documents/{world.document_id}/versions/9/download")
    assert missing.status_code == 404


def test_a_file_held_for_its_virus_check_is_a_409(world: World, settings: Any) -> None:
    settings.PORTAL_SCAN_POLICY = "hold"
    response = ApiClient(world.read_token).get(f"documents/{world.document_id}/versions/1/download")
    assert response.status_code == 409
    assert response["Content-Type"] == "application/problem+json"


def test_listing_documents_costs_the_same_queries_for_one_or_many(world: World) -> None:
    api = ApiClient(world.read_token)
    api.get("documents")
    with CaptureQueriesContext(connection) as one:
        api.get("documents")
    for n in range(8):
        assert _upload(world.write_token, title=f"Doc {n}").status_code == 201
    with CaptureQueriesContext(connection) as many:
        assert api.get("documents").json()["count"] == 9
    assert len(many) == len(one) <= 7, [q["sql"] for q in many]


def test_an_unknown_category_names_the_category_field(world: World) -> None:
    response = _upload(world.write_token, category="nope")
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "category"
    assert ApiClient(world.read_token).get("documents", category="nope").json()["count"] == 0
