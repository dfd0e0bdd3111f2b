from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.backups import BackupError, backup_restore


class Command(BaseCommand):
    help = (
        "Restore a backup archive into an EMPTY database (and empty media directory), then "
        "verify every row count, money sum and media file against its manifest."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="The archive written by `manage.py backup`.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            manifest = backup_restore(archive_path=Path(options["file"]))
        except BackupError as error:
            raise CommandError(str(error)) from error
        files = sum(len(found) for found in manifest["media"].values())
        self.stdout.write(
            f"Restored and verified {len(manifest['tables'])} tables and {files} media files "
            f"from the backup of {manifest['created_at']}."
        )
