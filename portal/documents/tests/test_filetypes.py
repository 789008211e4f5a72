"""Types are decided by content; names are cleaned; downloads get a safe name."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from portal.documents.naming import clean_file_name, content_disposition
from portal.documents.services import _inspect

from . import samples

OOXML = "application/vnd.openxmlformats-officedocument."


@pytest.mark.parametrize(
    ("name", "content", "mime"),
    [
        ("scan.pdf", samples.PDF, "application/pdf"),
        ("photo.png", samples.PNG, "image/png"),
        ("photo.JPG", samples.JPEG, "image/jpeg"),
        ("anim.gif", samples.GIF, "image/gif"),
        ("pic.webp", samples.WEBP, "image/webp"),
        ("note.txt", samples.TEXT, "text/plain; charset=utf-8"),
        ("latin1.txt", "Straße 1\n".encode("cp1252"), "text/plain; charset=windows-1252"),
        ("table.csv", samples.CSV, "text/csv; charset=utf-8"),
        ("letter.docx", samples.docx(), OOXML + "wordprocessingml.document"),
        ("sheet.xlsx", samples.xlsx(), OOXML + "spreadsheetml.sheet"),
        ("letter.odt", samples.odt(), "application/vnd.oasis.opendocument.text"),
        ("bundle.zip", samples.zip_bytes({"a.txt": b"hello"}), "application/zip"),
    ],
)  # fmt: skip
def test_allowed_types_are_recognised_by_content(name: str, content: bytes, mime: str) -> None:
    inspected = _inspect(samples.upload(name, content))
    assert inspected.content_type == mime
    assert inspected.size == len(content)


@pytest.mark.parametrize(
    ("name", "content", "code"),
    [
        ("invoice.pdf", samples.HTML, "type"),  # a web page named .pdf
        ("page.html", samples.HTML, "type"),
        ("invoice.pdf", samples.EXE, "type"),  # a renamed program
        ("report.docx", samples.ELF, "type"),
        ("run.txt", b"#!/bin/sh\nrm -rf /\n", "type"),
        ("image.svg", b"<svg xmlns='http://www.w3.org/2000/svg'></svg>", "type"),
        ("invoice.pdf", samples.TEXT, "extension"),  # text claiming to be a PDF
        ("photo.png", samples.PDF, "extension"),
        ("letter.docx", samples.zip_bytes({"a.txt": b"x"}), "extension"),  # a plain zip
        ("tool.exe", samples.PDF, "extension"),
        ("blob.bin", b"\x00\x01\x02\x03" * 100, "type"),
        ("empty.txt", b"", "empty"),
    ],
)
def test_disallowed_content_is_refused_with_a_reason(name: str, content: bytes, code: str) -> None:
    with pytest.raises(ValidationError) as refused:
        _inspect(samples.upload(name, content))
    assert refused.value.code == code
    assert name.rsplit("/")[-1] in refused.value.messages[0]


def test_a_missing_extension_is_added_from_the_content() -> None:
    assert _inspect(samples.upload("scan", samples.PDF)).file_name == "scan.pdf"


def test_the_allow_list_is_a_setting(settings: object) -> None:
    settings.PORTAL_DOCUMENT_TYPES = ["pdf"]  # type: ignore[attr-defined]
    with pytest.raises(ValidationError) as refused:
        _inspect(samples.upload("photo.png", samples.PNG))
    assert "Allowed are: PDF document." in refused.value.messages[0]


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\system32\\evil.pdf", "evil.pdf"),
        ("/absolute/path/report.pdf", "report.pdf"),
        ("..", "document"),
        ("", "document"),
        (".hidden.pdf", "hidden.pdf"),
        ("in\x00voice\r\n.pdf", "in_voice__.pdf"),
        ("report\u202etxt.exe", "report_txt.exe"),  # right-to-left override
        ('a<b>c:"d|e?*.pdf', "a_b_c__d_e__.pdf"),
        ("x" * 300 + ".pdf", "x" * 146 + ".pdf"),
    ],
)
def test_file_names_are_cleaned(raw: str, clean: str) -> None:
    assert clean_file_name(raw) == clean


def test_content_disposition_is_an_attachment_with_both_names() -> None:
    header = content_disposition('Bericht "März" ü;x.pdf')
    assert header.startswith("attachment; ")
    assert 'filename="Bericht _Marz_ u_x.pdf"' in header
    assert "filename*=UTF-8''Bericht%20%22M%C3%A4rz%22%20%C3%BC%3Bx.pdf" in header
