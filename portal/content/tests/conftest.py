from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from portal.content import services


@pytest.fixture(autouse=True)
def _content_checked_on_every_request(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Look at the files on every request, so a test sees what it just wrote."""
    settings.PORTAL_CONTENT_CHECK_INTERVAL = 0
    monkeypatch.setattr(services, "_next_check", 0.0)


@pytest.fixture
def content_dir(tmp_path: Path, settings: Any) -> Iterator[Path]:
    """An empty content directory that the portal serves from."""
    directory = tmp_path / "content"
    directory.mkdir()
    settings.PORTAL_CONTENT_DIR = directory
    yield directory
