"""One way files leave the portal: saved by the browser, never run in its origin."""

from __future__ import annotations

from typing import IO

from django.http import FileResponse

from .naming import content_disposition

# Even if a browser rendered a download, it could run nothing, load nothing and
# be framed by no one.
DOWNLOAD_CSP = "default-src 'none'; frame-ancestors 'none'; sandbox"


def download_response(
    handle: IO[bytes], *, file_name: str, content_type: str, size: int | None = None
) -> FileResponse:
    response = FileResponse(handle, content_type=content_type)
    if size is not None:
        response["Content-Length"] = str(size)
    response["Content-Disposition"] = content_disposition(file_name)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    response["Content-Security-Policy"] = DOWNLOAD_CSP
    return response
