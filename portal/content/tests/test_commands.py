"""manage.py content check | sync."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from portal.content.models import ContentPage

from .factories import SEED_ID, copy_seed, page_text, write_page


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command("content", *args, stdout=out)
    return out.getvalue()


def test_the_shipped_content_passes_the_check() -> None:
    output = _run("check", "--dir", str(Path(settings.BASE_DIR) / "content"))
    assert "0 error(s)" in output
    # The record links to two documents nobody has published yet: reported, not fatal.
    assert "no document has the id 'ms-policy-015-credit-risk'" in output
    assert "no document has the id 'glossary-customer'" not in output  # shipped


def test_check_names_file_line_and_field_and_fails(tmp_path: Path) -> None:
    write_page(tmp_path, "good")
    (tmp_path / "bad.md").write_text(page_text("bad").replace("status: production", "status: live"))
    with pytest.raises(CommandError) as raised:
        _run("check", "--dir", str(tmp_path))
    assert raised.value.returncode == 1
    assert "1 page(s) checked" in str(raised.value)
    assert "1 error(s)" in str(raised.value)


def test_check_prints_one_line_per_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "bad.md").write_text(page_text("bad").replace("status: production", "status: live"))
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("content", "check", "--dir", str(tmp_path), stdout=out)
    (line,) = out.getvalue().splitlines()
    assert line.endswith(
        "bad.md:5: error: status: Input should be 'draft', 'review', "
        "'production', 'deprecated' or 'retired'"
    )


def test_strict_check_fails_on_warnings(tmp_path: Path) -> None:
    copy_seed(tmp_path)
    assert "6 warning(s)" in _run("check", "--dir", str(tmp_path))
    with pytest.raises(CommandError):
        _run("check", "--strict", "--dir", str(tmp_path))


@pytest.mark.django_db
def test_sync_loads_the_files(tmp_path: Path) -> None:
    copy_seed(tmp_path)
    output = _run("sync", "--dir", str(tmp_path))
    assert "1 page(s), 0 removed, 0 file(s) skipped" in output
    assert ContentPage.objects.filter(doc_id=SEED_ID).exists()
