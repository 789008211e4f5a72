from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from portal.content.build import build_site
from portal.content.loader import Problem, display_path
from portal.content.services import content_sync


class Command(BaseCommand):
    help = (
        "Content pages: 'check' validates the files (exit code 1 on errors, or on warnings "
        "with --strict), 'sync' loads them into the database index."
    )
    # `check` needs no database and must work in a content repository's CI.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["check", "sync"])
        parser.add_argument(
            "--dir",
            type=Path,
            default=None,
            help="The content directory (default: PORTAL_CONTENT_DIR).",
        )
        parser.add_argument("--strict", action="store_true", help="check: fail on warnings too.")

    def handle(self, *args: Any, **options: Any) -> None:
        directory: Path = (options["dir"] or settings.PORTAL_CONTENT_DIR).resolve()
        if options["action"] == "check":
            self._check(directory, strict=options["strict"])
        else:
            self._sync(directory)

    def _check(self, directory: Path, *, strict: bool) -> None:
        site = build_site(directory, today=timezone.localdate())
        self._print(directory, site.problems)
        summary = (
            f"{len(site.pages)} page(s) checked in {display_path(directory, '.')}: "
            f"{len(site.errors)} error(s), {len(site.warnings)} warning(s)."
        )
        if site.errors or (strict and site.warnings):
            raise CommandError(summary, returncode=1)
        self.stdout.write(summary)

    def _sync(self, directory: Path) -> None:
        result = content_sync(directory=directory)
        self._print(directory, result.problems)
        self.stdout.write(
            f"Content synced from {display_path(directory, '.')}: {result.pages} page(s), "
            f"{result.removed} removed, {len(result.errors)} file(s) skipped."
        )

    def _print(self, directory: Path, problems: list[Problem]) -> None:
        for problem in problems:
            self.stdout.write(
                f"{display_path(directory, problem.path)}:{problem.line}: "
                f"{problem.severity}: {problem.message}"
            )
