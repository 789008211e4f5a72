"""Receiving uploads: stop storing a file as soon as it passes the size limit."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.http import HttpRequest


class SizeLimitUploadHandler(FileUploadHandler):
    """First in the chain: a file over ``PORTAL_DOCUMENT_MAX_BYTES`` is skipped while it
    arrives (its temporary file is closed and removed) and its name is remembered in
    ``request.documents_too_large`` so the view can say which file was refused."""

    def __init__(self, request: HttpRequest | None = None) -> None:
        super().__init__(request)
        self.limit: int = settings.PORTAL_DOCUMENT_MAX_BYTES
        if request is not None:
            request.documents_too_large = []  # type: ignore[attr-defined]

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        if start + len(raw_data) > self.limit:
            if self.request is not None:
                self.request.documents_too_large.append(self.file_name or "")  # type: ignore[attr-defined]
            raise SkipFile
        return raw_data

    def file_complete(self, file_size: int) -> Any:
        return None


def limit_upload_size(request: HttpRequest) -> None:
    """Install the size limit; call before anything reads ``request.POST`` or ``FILES``."""
    handlers = list(request.upload_handlers)
    request.upload_handlers = [SizeLimitUploadHandler(request), *handlers]


def too_large(request: HttpRequest) -> list[str]:
    return list(getattr(request, "documents_too_large", []))
