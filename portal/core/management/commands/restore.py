from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal.core.backup import BackupError, backup_restore, backup_verify


class Command(BaseCommand):
    help = (
        "Restore a backup archive (from manage.py backup) into an empty database and empty "
        "storage, after checking every member against the manifest. Stop the portal first."
    )
    # The database may not exist yet: no checks that could touch it.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("archive", help="The backup archive (.tar).")
        parser.add_argument(
            "--force",
            action="store_true",
            help=(
                "Replace a database that is not empty, and the files in storage, with the backup's."
            ),
        )
        parser.add_argument(
            "--verify-only",
            action="store_true",
            help="Only check the archive against its manifest; change nothing.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self.verbosity = int(options["verbosity"])
        archive = Path(options["archive"])
        try:
            if options["verify_only"]:
                manifest = backup_verify(archive_path=archive)
                self.stdout.write(
                    f"Archive intact: {manifest['database']['engine']} database, "
                    f"{len(manifest['files'])} file(s), made {manifest['created_at']}."
                )
                return
            result = backup_restore(archive_path=archive, force=options["force"], log=self._log)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Restored the {result.engine} database and {result.files} file(s) from {archive}."
        )
        if result.migrations_behind:
            self.stdout.write(
                f"The backup is {result.migrations_behind} migration(s) behind this release: "
                "run manage.py migrate next."
            )

    def _log(self, message: str) -> None:
        if self.verbosity > 1:
            self.stdout.write(message)
