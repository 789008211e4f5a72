"""Content files for tests, written to a temporary content directory."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from django.conf import settings

SEED_FILE = "app-comp-001-customer-portal.md"
SEED_ID = "app-comp-001-customer-portal"


def page_text(
    doc_id: str,
    *,
    name: str | None = None,
    status: str = "production",
    tags: Iterable[str] = ("public",),
    relationships: Iterable[Mapping[str, str]] = (),
    body: str = "Some text.\n",
    **fields: Any,
) -> str:
    front: dict[str, Any] = {
        "id": doc_id,
        "name": name or doc_id.replace("-", " ").capitalize(),
        "owner": "Test Team",
        "status": status,
        "version": "1.0.0",
        "last_updated": "2026-01-15",
        "review_cycle": "annual",
        "next_review": "2099-01-15",
        "relationships": [dict(r) for r in relationships],
        "tags": list(tags),
        "archimate": {"type": "representation", "layer": "business", "criticality": "low"},
        "extensions": {"properties": {"lifecycle-phase": "operate"}},
    }
    front.update(fields)
    return "---\n" + yaml.safe_dump(front, sort_keys=False) + "---\n" + body


def write_page(directory: Path, doc_id: str, **kwargs: Any) -> Path:
    path = directory / f"{doc_id}.md"
    path.write_text(page_text(doc_id, **kwargs), encoding="utf-8")
    return path


def copy_seed(directory: Path) -> Path:
    """The seed record exactly as shipped in the repository's content/ directory."""
    source = Path(settings.BASE_DIR) / "content" / SEED_FILE
    target = directory / SEED_FILE
    target.write_bytes(source.read_bytes())
    return target
