import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from accounts.models import User
from legacy.models import ImportBatch
from legacy.proof_files import DEFAULT_TIMEOUT_SECONDS
from legacy.services import (
    LegacyImportError,
    claim_invitations_send,
    legacy_batch_rollback,
    legacy_import_run,
)
from legacy.source import LegacySourceError


class Command(BaseCommand):
    help = (
        "Import an earlier GOMFLOW PostgreSQL database (users, orders, payment methods, "
        "submissions, payment transactions, payment proofs and their files). Run with --dry-run "
        "first; --rollback BATCH undoes one batch."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--source", help="postgres://user:password@host:port/database")
        parser.add_argument("--dry-run", action="store_true", help="Report; write nothing.")
        parser.add_argument("--batch", help="Name of this import batch (default: a timestamp).")
        parser.add_argument("--rollback", metavar="BATCH", help="Undo the batch with this name.")
        parser.add_argument(
            "--actor", help="E-mail of the operator running the import (for the audit trail)."
        )
        parser.add_argument(
            "--send-claim-emails",
            action="store_true",
            help="After the import, e-mail each new account a link to choose its password.",
        )
        parser.add_argument(
            "--base-url", default="http://127.0.0.1:8000", help="Site address for claim links."
        )
        parser.add_argument("--json", action="store_true", help="Print the report as JSON.")
        parser.add_argument(
            "--fetch-timeout",
            type=float,
            default=DEFAULT_TIMEOUT_SECONDS,
            help="Seconds to wait for each proof file before recording it as missing.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        actor = None
        if options["actor"]:
            actor = User.objects.filter(email__iexact=options["actor"]).first()
            if actor is None:
                raise CommandError(f"No account {options['actor']!r} to act as.")
        try:
            if options["rollback"]:
                batch = legacy_batch_rollback(actor=actor, batch_name=options["rollback"])
                self.stdout.write(f"Batch {batch.name} is rolled back ({batch.rolled_back_at}).")
                return
            if not options["source"]:
                raise CommandError("Give --source postgres://… (or --rollback BATCH).")
            name = options["batch"] or timezone.now().strftime("gomflow-%Y%m%dT%H%M%S")

            def invite(batch: ImportBatch) -> None:
                sent = claim_invitations_send(
                    actor=actor, batch=batch, base_url=options["base_url"]
                )
                self.stdout.write(f"Sent {sent} claim-your-account e-mails.")

            outcome = legacy_import_run(
                actor=actor,
                source_dsn=options["source"],
                batch_name=name,
                dry_run=options["dry_run"],
                on_imported=invite if options["send_claim_emails"] else None,
                fetch_timeout=options["fetch_timeout"],
            )
        except (LegacyImportError, LegacySourceError) as error:
            raise CommandError(str(error)) from error
        if options["json"]:
            self.stdout.write(json.dumps(outcome.report, indent=2, sort_keys=True, default=str))
        else:
            self._print(outcome.report)
        if outcome.batch is not None:
            self.stdout.write(f"Imported as batch {outcome.batch.name}; validation passed.")
        else:
            self.stdout.write("Dry run: nothing was written.")

    def _print(self, report: dict[str, Any]) -> None:
        self.stdout.write(
            "Per legacy table (source rows: create / link / already imported / refused)"
        )
        for table, counts in report["tables"].items():
            self.stdout.write(
                f"  {table:24} {counts['source_rows']:6}: {counts['create']} / {counts['link']} / "
                f"{counts['already_imported']} / {counts['unimportable']}"
            )
        self.stdout.write("Objects to create")
        for model, count in report["created"].items():
            self.stdout.write(f"  {model:40} {count}")
        self.stdout.write("Sums (minor units) per currency and status: source | refused")
        for table, sums in report["sums"].items():
            for key, facts in sums["source"].items():
                refused = sums["unimportable"].get(key, {"rows": 0, "amount_minor": 0})
                self.stdout.write(
                    f"  {table:12} {key:28} {facts['rows']:5} rows {facts['amount_minor']:14} | "
                    f"{refused['rows']:5} rows {refused['amount_minor']:14}"
                )
        for table, facts in report["not_imported_tables"].items():
            self.stdout.write(f"Not imported: {table} ({facts['rows']} rows): {facts['reason']}")
        self.stdout.write(f"Refused rows ({len(report['unimportable'])})")
        for problem in report["unimportable"]:
            self.stdout.write(f"  {problem['table']}/{problem['id']}: {problem['reason']}")
        self.stdout.write(f"Warnings ({len(report['warnings'])})")
        for problem in report["warnings"]:
            self.stdout.write(f"  {problem['table']}/{problem['id']}: {problem['reason']}")
