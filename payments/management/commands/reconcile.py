"""Run reconciliation for one provider account, or for every account with statements."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from payments.models import PaymentMethod
from payments.reconciliation.matching import reconcile_account
from payments.reconciliation.models import Statement


class Command(BaseCommand):
    help = "Match statement lines to payments and record discrepancies; safe to run again."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--account", type=int, default=None, help="payment method id")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["account"] is not None:
            if not PaymentMethod.objects.filter(pk=options["account"]).exists():
                raise CommandError(f"No payment method with id {options['account']}.")
            accounts = [options["account"]]
        else:
            accounts = list(
                Statement.objects.filter(status=Statement.Status.IMPORTED)
                .values_list("payment_method_id", flat=True)
                .distinct()
                .order_by("payment_method_id")
            )
        for account_id in accounts:
            run = reconcile_account(payment_method_id=account_id)
            if run is None:
                self.stdout.write(f"Account {account_id}: a run is already in progress.")
                continue
            kinds = ", ".join(
                f"{kind} {count}" for kind, count in sorted(run.discrepancies.items())
            )
            self.stdout.write(
                f"Account {account_id}: matched {run.matched}, suggested {run.suggested}, "
                f"unmatched {run.unmatched}; open discrepancies: {kinds or 'none'}"
                + (" — ALERT" if run.is_alert else "")
            )
