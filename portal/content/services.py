"""Every write to the content index: loading the files into the database.

The files are the source; ``content_sync`` rebuilds the index from them in one
transaction (pages, references, search index, the list of problems), so a
reader sees either the old set of pages or the new one. It is safe to run
from several processes at once: the state row is locked and the second run
finds nothing to do.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from .build import BuiltPage, build_site
from .loader import Problem, Severity, fingerprint
from .models import (
    Audience,
    ContentIndexState,
    ContentPage,
    ContentReference,
    ReferenceKind,
)
from .rendering import LinkKind
from .search import backend

logger = logging.getLogger(__name__)

STATE_PK = ContentIndexState.SINGLETON_PK


@dataclass(frozen=True)
class SyncResult:
    changed: bool
    pages: int = 0
    removed: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == Severity.ERROR]


@transaction.atomic
def content_sync(
    *, directory: Path | None = None, force: bool = True, today: date | None = None
) -> SyncResult:
    """Load every content file into the index; with ``force=False`` only if the files changed."""
    directory = directory or settings.PORTAL_CONTENT_DIR
    digest = fingerprint(directory)
    state = _locked_state()
    if not force and state.fingerprint == digest:
        return SyncResult(changed=False)
    site = build_site(directory, today=today or timezone.localdate())
    kept = [_save_page(built) for built in site.pages]
    _, deleted = ContentPage.objects.exclude(pk__in=[page.pk for page in kept]).delete()
    removed = deleted.get(ContentPage._meta.label, 0)
    ContentReference.objects.all().delete()
    ContentReference.objects.bulk_create(
        reference
        for page, built in zip(kept, site.pages, strict=True)
        for reference in _references(page, built)
    )
    backend().rebuild()
    state.fingerprint = digest
    state.directory = str(directory)
    state.synced_at = timezone.now()
    state.problems = [problem.as_dict() for problem in site.problems]
    state.save()
    for problem in site.errors:
        logger.warning("content file skipped: %s", problem)
    logger.info(
        "content synced: %d pages, %d errors, %d warnings",
        len(kept),
        len(site.errors),
        len(site.warnings),
    )
    return SyncResult(changed=True, pages=len(kept), removed=removed, problems=site.problems)


# When this process may next look at the files (see content_refresh_if_changed).
_next_check = 0.0
_next_check_lock = threading.Lock()


def content_refresh_if_changed(*, directory: Path | None = None) -> bool:
    """Re-sync if the files changed since the last sync, looking at most once per interval.

    Called by the content views, so a running portal shows edited files without
    a restart. The look is cheap (the files' sizes and modification times, and
    one indexed query); nothing is parsed unless something changed. A failing
    sync is logged and the pages already in the index keep being served.
    """
    global _next_check
    if not settings.PORTAL_CONTENT_AUTOSYNC:
        return False
    now = time.monotonic()
    with _next_check_lock:
        if now < _next_check:
            return False
        _next_check = now + settings.PORTAL_CONTENT_CHECK_INTERVAL
    directory = directory or settings.PORTAL_CONTENT_DIR
    try:
        stored = ContentIndexState.objects.filter(pk=STATE_PK).values_list("fingerprint", flat=True)
        if stored.first() == fingerprint(directory):
            return False
        return content_sync(directory=directory, force=False).changed
    except Exception:
        logger.exception("content sync failed; serving the pages indexed before")
        return False


def _locked_state() -> ContentIndexState:
    state = ContentIndexState.objects.select_for_update().filter(pk=STATE_PK).first()
    if state is not None:
        return state
    try:
        with transaction.atomic():
            return ContentIndexState.objects.create(pk=STATE_PK)
    except IntegrityError:  # another process created it just now
        return ContentIndexState.objects.select_for_update().get(pk=STATE_PK)


def _save_page(built: BuiltPage) -> ContentPage:
    front = built.document.front
    archimate = front.archimate
    values: dict[str, Any] = {
        "title": front.name,
        "owner": front.owner,
        "status": front.status,
        "version": front.version,
        "last_updated": front.last_updated,
        "review_cycle": front.review_cycle,
        "next_review": front.next_review,
        "tags": list(front.tags),
        "is_public": front.is_public,
        "archimate_type": archimate.type if archimate else "",
        "archimate_layer": archimate.layer if archimate else "",
        "criticality": (archimate.criticality or "") if archimate else "",
        "lifecycle_phase": front.lifecycle_phase,
        "properties": dict(front.extensions.properties),
        "source_path": built.document.path,
        "summary": built.parsed.summary,
        "body_text": built.parsed.text,
        "toc": [
            {"level": entry.level, "anchor": entry.anchor, "text": entry.text}
            for entry in built.parsed.toc
        ],
        "html_anonymous": built.html[Audience.ANONYMOUS],
        "html_signed_in": built.html[Audience.SIGNED_IN],
        "html_staff": built.html[Audience.STAFF],
    }
    page, _ = ContentPage.objects.update_or_create(doc_id=front.id, defaults=values)
    return page


def _references(page: ContentPage, built: BuiltPage) -> list[ContentReference]:
    references = [
        ContentReference(
            source=page,
            target_id=relationship.target,
            kind=ReferenceKind.RELATIONSHIP,
            relationship_type=relationship.type,
            description=relationship.description,
            position=position,
        )
        for position, relationship in enumerate(built.document.front.relationships)
    ]
    linked: list[str] = []
    for use in built.parsed.links:
        target = use.link.target_id
        if use.link.kind == LinkKind.DOCUMENT and target != page.doc_id and target not in linked:
            linked.append(target)
    references += [
        ContentReference(source=page, target_id=target, kind=ReferenceKind.LINK, position=position)
        for position, target in enumerate(linked)
    ]
    return references
