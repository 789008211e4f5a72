"""The same storage tests against local files and an S3 server (moto_server)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from portal.customers.roles import Role
from portal.customers.tests.factories import make_customer, make_member
from portal.documents import services, storage
from portal.documents.models import Document, DocumentVersion

from . import samples

pytestmark = pytest.mark.django_db


def test_store_read_list_and_delete(storage_backend: str) -> None:
    content = samples.PDF + b"\0" * (200 * 1024)  # several chunks
    key = storage.new_key()
    storage.store(key=key, file=samples.upload("x.pdf", content))
    assert storage.exists(key)
    assert b"".join(storage.read_chunks(key)) == content
    assert list(storage.all_keys()) == [key]
    assert abs(storage.modified_at(key) - timezone.now()) < timedelta(minutes=5)
    storage.delete(key)
    assert not storage.exists(key)
    assert list(storage.all_keys()) == []


def test_upload_download_and_purge_through_the_services(storage_backend: str, commit: Any) -> None:
    acme = make_customer("Acme Ltd")
    member = make_member(acme, Role.MEMBER)
    with commit():
        version = services.document_upload(
            customer=acme, uploaded_by=member, file=samples.upload("a.pdf", samples.PDF)
        )
    version = DocumentVersion.objects.get(pk=version.pk)
    with services.document_version_open(version=version, user=member) as handle:
        assert handle.read() == samples.PDF
    with commit():
        services.document_trash(document=version.document, actor=member)
    with commit():
        result = services.documents_purge(now=timezone.now() + timedelta(days=31))
    assert result.documents == 1
    assert not Document.objects.exists()
    assert not storage.exists(version.storage_key)


def test_refused_uploads_store_nothing(storage_backend: str) -> None:
    acme = make_customer("Acme Ltd")
    with pytest.raises(Exception, match="cannot be uploaded"):
        services.document_upload(
            customer=acme, uploaded_by=None, file=samples.upload("a.pdf", samples.HTML)
        )
    assert list(storage.all_keys()) == []


def test_orphans_are_swept(storage_backend: str) -> None:
    key = storage.new_key()
    storage.store(key=key, file=samples.upload("x.pdf", samples.PDF))
    assert services.documents_purge().orphans == 0
    assert services.documents_purge(now=timezone.now() + timedelta(days=2)).orphans == 1
    assert list(storage.all_keys()) == []
