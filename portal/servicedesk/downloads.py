from __future__ import annotations

from django.http import FileResponse

from portal.documents.responses import download_response

from .models import Attachment


def attachment_response(attachment: Attachment) -> FileResponse:
    """A download the browser saves and never renders in the portal's origin."""
    return download_response(
        attachment.file.open("rb"),
        file_name=attachment.original_name,
        content_type="application/octet-stream",
        size=attachment.size,
    )
