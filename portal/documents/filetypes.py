"""What a file is, decided by its content: magic bytes, and the entries of zip containers.

No libmagic (a fresh machine may lack it) and no guess from the name or from
what the browser says: a handful of formats, each recognised by its own
signature, against an allow-list. A name whose extension belongs to another
type than the content is refused too, so "invoice.pdf" that is really a web
page or a program never gets stored.
"""

from __future__ import annotations

import codecs
import re
import zipfile
from dataclasses import dataclass
from typing import IO

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class FileType:
    key: str
    label: str | Promise
    mime: str
    extensions: tuple[str, ...]


TYPES: dict[str, FileType] = {
    t.key: t
    for t in (
        FileType("pdf", _("PDF document"), "application/pdf", (".pdf",)),
        FileType("png", _("PNG image"), "image/png", (".png",)),
        FileType("jpeg", _("JPEG image"), "image/jpeg", (".jpg", ".jpeg")),
        FileType("gif", _("GIF image"), "image/gif", (".gif",)),
        FileType("webp", _("WebP image"), "image/webp", (".webp",)),
        FileType("text", _("Plain text"), "text/plain", (".txt", ".text", ".log", ".md")),
        FileType("csv", _("CSV table"), "text/csv", (".csv",)),
        FileType(
            "docx",
            _("Word document"),
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            (".docx",),
        ),
        FileType(
            "xlsx",
            _("Excel workbook"),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            (".xlsx",),
        ),
        FileType(
            "pptx",
            _("PowerPoint presentation"),
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            (".pptx",),
        ),
        FileType(
            "odt", _("OpenDocument text"), "application/vnd.oasis.opendocument.text", (".odt",)
        ),
        FileType(
            "ods",
            _("OpenDocument spreadsheet"),
            "application/vnd.oasis.opendocument.spreadsheet",
            (".ods",),
        ),
        FileType("zip", _("ZIP archive"), "application/zip", (".zip",)),
    )
}

# Types that are never accepted whatever the allow-list says, named so the
# message can say what the file really is.
HTML = FileType("html", _("web page (HTML)"), "text/html", (".html", ".htm", ".xhtml", ".svg"))
EXECUTABLE = FileType("executable", _("program"), "application/octet-stream", (".exe",))

# The sniffing window of the WHATWG MIME Sniffing standard for HTML: a browser
# that ignored our headers would treat a text starting like this as a page.
_HTML_START = re.compile(
    rb"^\s*<(?:!doctype\s+html|html|head|script|iframe|h1|div|font|table|a|style|title|b|body"
    rb"|br|p|svg|\?xml|!--)(?:[\s>/]|$)",
    re.IGNORECASE,
)
_OPEN_DOCUMENT = {
    b"application/vnd.oasis.opendocument.text": "odt",
    b"application/vnd.oasis.opendocument.spreadsheet": "ods",
}
_OOXML = {"word/document.xml": "docx", "xl/workbook.xml": "xlsx", "ppt/presentation.xml": "pptx"}
# Control characters that do not occur in text (tab, newlines and form feed do).
_BINARY_BYTES = bytes(set(range(32)) - {9, 10, 12, 13}) + b"\x7f"
_BINARY_TABLE = bytes.maketrans(b"", b"")


def known_extensions() -> dict[str, FileType]:
    table = {ext: t for t in TYPES.values() for ext in t.extensions}
    for t in (HTML, EXECUTABLE):
        table.update({ext: t for ext in t.extensions})
    for ext in (".com", ".bat", ".cmd", ".msi", ".scr", ".js", ".vbs", ".ps1", ".sh", ".jar"):
        table[ext] = EXECUTABLE
    return table


def detect(head: bytes, file: IO[bytes], *, is_text: bool) -> FileType | None:
    """The type of a file from its first bytes (``head``, at least 4 KiB if the file has them).

    ``file`` is the whole file, seekable, for zip containers; ``is_text`` says
    whether the whole content decoded as text (see :class:`TextCheck`).
    Returns None for anything unknown (a program, an unknown binary format).
    """
    if head.startswith(b"%PDF-"):
        return TYPES["pdf"]
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return TYPES["png"]
    if head.startswith(b"\xff\xd8\xff"):
        return TYPES["jpeg"]
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return TYPES["gif"]
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return TYPES["webp"]
    if head.startswith((b"MZ", b"\x7fELF", b"\xca\xfe\xba\xbe", b"\xcf\xfa\xed\xfe", b"#!")):
        return EXECUTABLE
    if head.startswith(b"PK\x03\x04"):
        return _zip_container(file)
    if is_text:
        if _HTML_START.match(head.removeprefix(codecs.BOM_UTF8)[:1024]):
            return HTML
        return TYPES["text"]
    return None


def _zip_container(file: IO[bytes]) -> FileType | None:
    try:
        file.seek(0)
        with zipfile.ZipFile(file) as archive:
            names = set(archive.namelist())
            if "mimetype" in names:
                info = archive.getinfo("mimetype")
                if info.file_size <= 100:
                    kind = _OPEN_DOCUMENT.get(archive.read("mimetype").strip())
                    if kind:
                        return TYPES[kind]
            if "[Content_Types].xml" in names:
                for entry, kind in _OOXML.items():
                    if entry in names:
                        return TYPES[kind]
    except (zipfile.BadZipFile, OSError, RuntimeError, ValueError, NotImplementedError):
        return None
    finally:
        file.seek(0)
    return TYPES["zip"]


class TextCheck:
    """Fed every chunk of a file: is the whole of it text (UTF-8, or a single-byte encoding)?"""

    def __init__(self) -> None:
        self._utf8 = codecs.getincrementaldecoder("utf-8")()
        self.is_utf8 = True
        self.has_binary = False

    def feed(self, chunk: bytes) -> None:
        if self.has_binary:
            return
        if chunk.translate(_BINARY_TABLE, _BINARY_BYTES) != chunk:
            self.has_binary = True
            return
        if self.is_utf8:
            try:
                self._utf8.decode(chunk)
            except UnicodeDecodeError:
                self.is_utf8 = False

    def finish(self) -> bool:
        if self.is_utf8:
            try:
                self._utf8.decode(b"", final=True)
            except UnicodeDecodeError:
                self.is_utf8 = False
        return not self.has_binary

    @property
    def charset(self) -> str:
        return "utf-8" if self.is_utf8 else "windows-1252"


def text_type_for_name(name: str) -> FileType:
    return TYPES["csv"] if name.lower().endswith(".csv") else TYPES["text"]
