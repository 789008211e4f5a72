from typing import Any

from django.core.management.base import BaseCommand

from portal.documents.services import documents_purge


class Command(BaseCommand):
    help = (
        "Delete documents that have been in the trash longer than PORTAL_DOCUMENT_TRASH_DAYS, "
        "and stored files no document refers to. Run it daily (cron, systemd timer)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        result = documents_purge()
        self.stdout.write(
            f"Purged {result.documents} document(s) from the trash "
            f"and {result.orphans} orphaned file(s)."
        )
