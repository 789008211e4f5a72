from typing import Any

from django.core.management.base import BaseCommand

from portal.accounts.secrets import secrets_rotate


class Command(BaseCommand):
    help = (
        "Re-encrypt second-factor secrets under the current SECRET_KEY "
        "(after a rotation, before dropping the old key from SECRET_KEY_FALLBACKS)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        changed = secrets_rotate()
        self.stdout.write(f"{changed} second factor(s) re-encrypted under the current key.")
