from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.backups import BackupError, backup_create


class Command(BaseCommand):
    help = (
        "Write one archive: a consistent database dump (pg_dump custom format, or the SQLite "
        "backup API), a manifest of row counts and money sums, and the stored media files."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--output", default="backups", help="Directory for the archive.")
        parser.add_argument(
            "--no-media",
            action="store_true",
            help="Leave the media files out (for storages backed up elsewhere, such as S3).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = backup_create(
                output_dir=Path(options["output"]), include_media=not options["no_media"]
            )
        except BackupError as error:
            raise CommandError(str(error)) from error
        tables = result.manifest["tables"]
        files = sum(len(found) for found in result.manifest["media"].values())
        self.stdout.write(
            f"{result.path}\n{len(tables)} tables, {sum(t['rows'] for t in tables.values())} rows, "
            f"{files} media files"
        )
