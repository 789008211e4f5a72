from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import EmailMessage

logger = logging.getLogger(__name__)


def send_portal_email(*, to: list[str], subject: str, body: str) -> None:
    """Send one plain-text e-mail from the portal. Call it from ``transaction.on_commit``."""
    message = EmailMessage(
        subject=subject, body=body, from_email=settings.DEFAULT_FROM_EMAIL, to=to
    )
    message.send(fail_silently=False)
    logger.info("e-mail sent", extra={"subject": subject, "recipients": len(to)})
