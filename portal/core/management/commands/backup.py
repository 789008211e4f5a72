from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal.core.backup import BackupError, backup_create


class Command(BaseCommand):
    help = (
        "Write one consistent backup archive of the database and the stored files "
        "(documents, attachments), with a manifest of SHA-256 checksums."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "destination",
            help="The archive's path (.tar), or an existing directory for a time-stamped one.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self.verbosity = int(options["verbosity"])
        try:
            result = backup_create(destination=Path(options["destination"]), log=self._log)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        for name in result.missing:
            self.stderr.write(
                f"warning: {name} is referenced by the database but was not in storage "
                "(deleted after the snapshot?)"
            )
        self.stdout.write(
            f"Backup written: {result.path} ({result.engine} database, {result.files} file(s), "
            f"{result.bytes} bytes of files)."
        )

    def _log(self, message: str) -> None:
        if self.verbosity > 1:
            self.stdout.write(message)
