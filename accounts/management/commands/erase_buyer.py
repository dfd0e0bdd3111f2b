import getpass
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.erasure import ErasureRefused, erase_buyer, erasure_refusal


class Command(BaseCommand):
    help = (
        "Erase a buyer's personal data and proof files on their request; every amount, payment, "
        "refund and ledger entry stays. Audited with the reason."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("buyer", help="The buyer's e-mail address or user id.")
        parser.add_argument("--reason", required=True, help="The request this answers (audited).")
        parser.add_argument("--yes", action="store_true", help="Do not ask for confirmation.")

    def handle(self, *args: Any, **options: Any) -> None:
        user = self._find(options["buyer"])
        refusal = erasure_refusal(user)
        if refusal is not None:
            raise CommandError(refusal)
        if not options["yes"]:
            answer = input(
                f"Erase user #{user.pk} ({user.email}) with "
                f"{user.submissions.count()} submissions? This cannot be undone. [y/N] "
            )
            if answer.strip().lower() not in ("y", "yes"):
                raise CommandError("Nothing erased.")
        try:
            result = erase_buyer(
                user, reason=options["reason"], actor=None, via=f"command ({getpass.getuser()})"
            )
        except ErasureRefused as refused:
            raise CommandError(refused.message) from refused
        counts = result.as_dict()
        self.stdout.write(
            f"User #{user.pk} erased: {counts['submissions']} submissions, {counts['proofs']} "
            f"proofs, {len(result.files_deleted)} files deleted, "
            f"{len(result.files_failed)} files failed."
        )

    @staticmethod
    def _find(identifier: str) -> Any:
        users = get_user_model().objects
        found = (
            users.filter(pk=int(identifier)).first()
            if identifier.isdigit()
            else users.filter(email__iexact=identifier.strip()).first()
        )
        if found is None:
            raise CommandError(f"No account {identifier!r}.")
        return found
