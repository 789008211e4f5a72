"""File names: what a person sees and what a download is called, never a storage path."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

MAX_NAME = 150
_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*\u200b-\u200f\u202a-\u202e\u2066-\u2069]')
_SPACES = re.compile(r"\s+")


def clean_file_name(raw: str, *, fallback: str = "document") -> str:
    """A display name from an uploaded file's name.

    Keeps only the last path component (``../../etc/passwd`` → ``passwd``),
    drops control and bidirectional-override characters and characters that
    file systems refuse, trims dots and spaces at the ends (no hidden files, no
    ``..``), and shortens long names keeping the extension.
    """
    name = unicodedata.normalize("NFC", raw or "")
    name = re.split(r"[/\\]", name)[-1]
    name = _UNSAFE.sub("_", name)
    name = _SPACES.sub(" ", name).strip(" .")
    if not name or set(name) <= {"_", "."}:
        name = fallback
    if len(name) > MAX_NAME:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 10:
            name = stem[: MAX_NAME - len(ext) - 1].rstrip(" .") + "." + ext
        else:
            name = name[:MAX_NAME].rstrip(" .")
    return name


def extension(name: str) -> str:
    _, dot, ext = name.rpartition(".")
    return f".{ext.lower()}" if dot and ext and " " not in ext else ""


def content_disposition(name: str) -> str:
    """``attachment`` with an ASCII fallback name and the exact name as RFC 6266 ``filename*``."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    ascii_name = re.sub(r"[^A-Za-z0-9._ ()+,-]", "_", ascii_name).strip(" .") or "download"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"
