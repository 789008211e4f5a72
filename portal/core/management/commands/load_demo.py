from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from portal.core.demo import demo_password, load_demo_data


class Command(BaseCommand):
    help = (
        "Load the demo users and records (safe to run again: it changes nothing the second time)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PRODUCTION:
            # Demo users (one of them staff) have a published password.
            raise CommandError("Demo data is not loaded in production (PORTAL_ENV=production).")
        changed = load_demo_data(password=demo_password())
        self.stdout.write(f"Demo data: {changed} record(s) created or updated.")
