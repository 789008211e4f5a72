"""content_sync: the files into the index; content_refresh_if_changed: only when they changed."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from portal.content import services
from portal.content.models import (
    Audience,
    ContentIndexState,
    ContentPage,
    ContentReference,
    ReferenceKind,
)
from portal.content.services import content_refresh_if_changed, content_sync

from .factories import SEED_ID, copy_seed, page_text, write_page

pytestmark = pytest.mark.django_db


def test_sync_loads_the_seed_record(content_dir: Path) -> None:
    copy_seed(content_dir)
    result = content_sync(directory=content_dir)
    assert result.changed and result.pages == 1 and result.errors == []
    page = ContentPage.objects.get(doc_id=SEED_ID)
    assert page.title == "Customer Portal"
    assert page.owner == "IT Department"
    assert page.version == "2.1.0"
    assert str(page.last_updated) == "2026-01-15"
    assert str(page.next_review) == "2027-01-15"
    assert page.is_public and page.status == "production"
    assert page.criticality == "high"
    assert page.lifecycle_phase == "operate"
    assert page.archimate_type == "application-component"
    assert page.properties == {
        "lifecycle-phase": "operate",
        "legacy-id": "app-comp-customer-portal-001",
    }
    assert page.summary.startswith("The Customer Portal is the primary web-based application")
    assert "Scalability" in page.body_text
    assert [entry["anchor"] for entry in page.toc][:2] == ["description", "key-features"]
    assert 'href="https://www.google.com"' in page.html_for(Audience.ANONYMOUS)
    references = ContentReference.objects.filter(source=page)
    assert [(r.kind, r.target_id) for r in references.order_by("kind", "position")] == [
        (ReferenceKind.LINK, "str-capa-001-cloud-infrastructure-and-modern"),
        (ReferenceKind.LINK, "ms-policy-015-credit-risk"),
        (ReferenceKind.RELATIONSHIP, "bus-proc-005-customer-service-process"),
        (ReferenceKind.RELATIONSHIP, "app-intf-001-web-ui"),
        (ReferenceKind.RELATIONSHIP, "str-capa-010-online-services"),
        (ReferenceKind.RELATIONSHIP, "glossary-customer"),
    ]
    state = ContentIndexState.objects.get()
    assert state.directory == str(content_dir)
    assert len(state.problems) == 6  # the four relationships and two links to unpublished ids


def test_sync_updates_and_removes_pages(content_dir: Path) -> None:
    write_page(content_dir, "one", name="One")
    two = write_page(content_dir, "two")
    content_sync(directory=content_dir)
    first_pk = ContentPage.objects.get(doc_id="one").pk

    write_page(content_dir, "one", name="One, renamed")
    two.unlink()
    result = content_sync(directory=content_dir)

    assert result.removed == 1
    assert list(ContentPage.objects.values_list("doc_id", "title")) == [("one", "One, renamed")]
    assert ContentPage.objects.get(doc_id="one").pk == first_pk


def test_a_broken_file_is_skipped_and_reported_while_the_others_load(content_dir: Path) -> None:
    write_page(content_dir, "good")
    (content_dir / "broken.md").write_text(page_text("broken", status="published"))
    result = content_sync(directory=content_dir)
    assert list(ContentPage.objects.values_list("doc_id", flat=True)) == ["good"]
    (error,) = result.errors
    assert error.path == "broken.md" and error.line == 5
    assert error.message.startswith("status: Input should be")
    stored = ContentIndexState.objects.get().problems
    assert stored == [
        {"path": "broken.md", "line": 5, "severity": "error", "message": error.message}
    ]


def test_a_page_that_breaks_disappears_until_it_is_fixed(content_dir: Path) -> None:
    path = write_page(content_dir, "page")
    content_sync(directory=content_dir)
    path.write_text(page_text("page").replace("owner: Test Team\n", ""))
    content_sync(directory=content_dir)
    assert not ContentPage.objects.exists()
    write_page(content_dir, "page")
    content_sync(directory=content_dir)
    assert ContentPage.objects.filter(doc_id="page").exists()


def test_an_empty_or_missing_directory_empties_the_index(content_dir: Path) -> None:
    write_page(content_dir, "page")
    content_sync(directory=content_dir)
    result = content_sync(directory=content_dir / "nowhere")
    assert not ContentPage.objects.exists()
    assert "does not exist" in result.errors[0].message


def test_sync_without_force_does_nothing_when_the_files_are_unchanged(content_dir: Path) -> None:
    write_page(content_dir, "page")
    assert content_sync(directory=content_dir).changed
    assert not content_sync(directory=content_dir, force=False).changed
    assert content_sync(directory=content_dir).changed  # force is the default


def test_refresh_syncs_only_when_a_file_changed(content_dir: Path) -> None:
    path = write_page(content_dir, "page", name="Before")
    assert content_refresh_if_changed()
    assert not content_refresh_if_changed()  # nothing changed: nothing parsed

    path.write_text(page_text("page", name="After, with a longer name"))
    assert content_refresh_if_changed()
    assert ContentPage.objects.get().title == "After, with a longer name"

    write_page(content_dir, "new")
    assert content_refresh_if_changed()
    assert ContentPage.objects.count() == 2


def test_refresh_notices_an_edit_that_keeps_the_size(content_dir: Path) -> None:
    path = write_page(content_dir, "page", name="AAAA")
    content_refresh_if_changed()
    stat = path.stat()
    path.write_text(page_text("page", name="BBBB"))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert content_refresh_if_changed()
    assert ContentPage.objects.get().title == "BBBB"


def test_refresh_looks_at_most_once_per_interval(
    content_dir: Path, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.PORTAL_CONTENT_CHECK_INTERVAL = 60
    write_page(content_dir, "page")
    assert content_refresh_if_changed()
    write_page(content_dir, "another")
    assert not content_refresh_if_changed()  # within the interval: not even a look
    monkeypatch.setattr(services, "_next_check", 0.0)  # the interval has passed
    assert content_refresh_if_changed()


def test_refresh_can_be_switched_off(content_dir: Path, settings: Any) -> None:
    settings.PORTAL_CONTENT_AUTOSYNC = False
    write_page(content_dir, "page")
    assert not content_refresh_if_changed()
    assert not ContentPage.objects.exists()


def test_a_failing_sync_keeps_the_pages_served_before(
    content_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    write_page(content_dir, "page")
    content_refresh_if_changed()
    write_page(content_dir, "another")

    def explode(**kwargs: Any) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(services, "content_sync", explode)
    assert not content_refresh_if_changed()
    assert list(ContentPage.objects.values_list("doc_id", flat=True)) == ["page"]
    assert "content sync failed" in caplog.text
