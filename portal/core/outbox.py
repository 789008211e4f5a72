"""Development outbox: the e-mails the file backend wrote, readable in the browser."""

from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

SEPARATOR = b"\n" + b"-" * 79 + b"\n"


@dataclass(frozen=True)
class OutboxMessage:
    id: str
    subject: str
    to: str
    date: str
    body: str


def _parse(file: Path) -> list[OutboxMessage]:
    messages = []
    for index, chunk in enumerate(file.read_bytes().split(SEPARATOR)):
        if not chunk.strip():
            continue
        parsed = email.message_from_bytes(chunk.lstrip(), policy=email.policy.default)
        part = parsed.get_body(preferencelist=("plain", "html"))
        body = part.get_content() if part is not None else ""
        messages.append(
            OutboxMessage(
                id=f"{file.stem}-{index}",
                subject=str(parsed.get("Subject", "")),
                to=str(parsed.get("To", "")),
                date=str(parsed.get("Date", "")),
                body=str(body),
            )
        )
    return messages


def outbox_messages(limit: int = 100) -> list[OutboxMessage]:
    """The newest messages first."""
    folder = Path(settings.EMAIL_FILE_PATH)
    if not folder.is_dir():
        return []
    files = sorted(folder.glob("*.log"), key=lambda f: f.stat().st_mtime, reverse=True)
    found: list[OutboxMessage] = []
    for file in files:
        found.extend(reversed(_parse(file)))
        if len(found) >= limit:
            break
    return found[:limit]


def outbox_message(message_id: str) -> OutboxMessage | None:
    return next((m for m in outbox_messages(limit=1000) if m.id == message_id), None)
