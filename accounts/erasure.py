"""A buyer's erasure request: scrub who they are, keep every amount the books rest on.

This module sits on top of the dependency chain like ``ops``: it reaches into every app that copied
something personal about a buyer (payments, verification, webhooks, legacy), and nothing imports it
but the admin and the ``erase_buyer`` command.

What goes: the account's name, e-mail (replaced by a unique address that can never receive mail),
phone and password; the name, phone and terms IP address copied onto each submission; the copies
on the verification queue; free text written about or by the buyer (notes, refund details, the
text read off their receipts, their file names); the payer name on statement lines matched to
their payments; and the proof files themselves. The history tables (django-simple-history) hold
old copies of the same fields and are scrubbed the same way.

What stays, untouched: every amount, state, date, reference and hash: payments, allocations,
refunds, credit grants and the wallet ledger, so every sum is what it was. Audit events are
append-only (a trigger refuses any UPDATE); they name objects by id, never by a person's name.
"""

import logging
from dataclasses import dataclass, field
from typing import Any

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Case, F, Q, QuerySet, Value, When
from django.utils import timezone
from guardian.models import UserObjectPermission
from rest_framework.authtoken.models import Token

from audit.services import audit_record
from legacy.models import LegacyIdMap
from payments.models import IdempotencyRecord, Payment, Refund, Submission
from payments.reconciliation.models import StatementLine
from verification.models import PaymentProof, ProofReview, PurgeReason
from verification.services import proof_forget_cached_images, proof_storage
from webhooks.models import Delivery

logger = logging.getLogger(__name__)

# Only the concurrency test turns it off, to show the deadlock the lock order prevents.
LOCK_REFUNDS_FIRST = True

ERASED_NAME = "Erased buyer"
# What replaces free text that was not empty, so a reader sees that something was removed.
ERASED_TEXT = "[erased]"


class ErasureRefused(Exception):
    """The request cannot be carried out; nothing was changed."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class ErasureResult:
    user_id: int
    submissions: int = 0
    proofs: int = 0
    refunds: int = 0
    statement_lines: int = 0
    # Filled after commit, when the files are deleted.
    files_deleted: list[str] = field(default_factory=list)
    files_failed: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        return {
            "submissions": self.submissions,
            "proofs": self.proofs,
            "refunds": self.refunds,
            "statement_lines": self.statement_lines,
        }


def race_window() -> None:
    """A no-op the concurrency test replaces, to hold the submissions' locks a moment."""


def erased_email(user_id: int) -> str:
    """Return the placeholder address of an erased account: unique, and never deliverable."""
    # .invalid is reserved (RFC 2606): no mail server will ever accept it.
    return f"erased-{user_id}@erased.invalid"


def _scrubbed(field_name: str) -> Case:
    # Empty stays empty; anything written becomes the marker.
    return Case(When(**{field_name: ""}, then=Value("")), default=Value(ERASED_TEXT))


def _scrubbed_change_reason() -> Case:
    # History rows carry the note written with a state change; the automatic "a → b" says
    # nothing about the person and is kept.
    return Case(
        When(history_change_reason__isnull=True, then=F("history_change_reason")),
        When(history_change_reason__regex=r"^[a-z_]+ → [a-z_]+$", then=F("history_change_reason")),
        default=Value(ERASED_TEXT),
    )


def erasure_refusal(user: Any) -> str | None:
    """Return why this account cannot be erased, or None when it can."""
    if user.erased_at is not None:
        return f"User #{user.pk} was already erased on {user.erased_at:%Y-%m-%d %H:%M} UTC."
    if user.is_staff or user.is_superuser:
        return (
            f"User #{user.pk} is a staff account (GOM, assistant or finance); erasure is for "
            "buyers. Remove the staff rights first if this person is only a buyer now."
        )
    if user.group_orders.exists() or user.payment_methods.exists():
        return f"User #{user.pk} runs group orders (a GOM); erasure is for buyers."
    return None


def erase_buyer(user: Any, *, reason: str, actor: Any, via: str = "admin") -> ErasureResult:
    """Erase a buyer's personal data and proof files; keep every amount; audit the erasure.

    Raises ErasureRefused (nothing changed) for staff and GOM accounts, an account already
    erased, or a missing reason. Files are deleted after the commit, so a rolled-back erasure
    never loses one.
    """
    reason = reason.strip()
    if not reason:
        raise ErasureRefused("Say why (the request it answers); the reason is audited.")
    user_model = get_user_model()
    with transaction.atomic():
        # FOR NO KEY UPDATE: it serialises erasures of one account but, unlike FOR UPDATE, lets
        # a refund or payment in flight insert rows that point at the buyer (their foreign-key
        # checks take KEY SHARE) and finish. The e-mail's UPDATE, last, takes the full lock.
        locked = user_model.objects.select_for_update(no_key=True).get(pk=user.pk)
        refusal = erasure_refusal(locked)
        if refusal is not None:
            raise ErasureRefused(refusal)
        now = timezone.now()
        result = ErasureResult(user_id=locked.pk)
        old_email = locked.email
        submission_ids = list(
            Submission.objects.filter(buyer=locked).order_by("pk").values_list("pk", flat=True)
        )
        # Row locks in the money services' order: refunds before submissions (a refund's
        # approval locks refund → payment → submission), submissions by pk, proofs last; a
        # refund or decision in flight finishes first instead of deadlocking with the scrub.
        refunds = Refund.objects.filter(buyer=locked)
        if LOCK_REFUNDS_FIRST:
            result.refunds = _scrub_refunds(refunds)
        list(Submission.objects.select_for_update().filter(pk__in=submission_ids).order_by("pk"))
        race_window()
        if not LOCK_REFUNDS_FIRST:
            result.refunds = _scrub_refunds(refunds)
        result.submissions = len(submission_ids)

        _scrub_submissions(submission_ids, user_id=locked.pk)
        proofs = PaymentProof.objects.filter(submission_id__in=submission_ids)
        cached_images = list(proofs.values_list("pk", "sha256"))
        result.proofs, storage_names = _scrub_proofs(proofs, now=now)
        payments = Payment.objects.filter(buyer=locked)
        result.statement_lines = _scrub_statement_lines(payments)
        _scrub_webhook_payloads(submission_ids)
        _scrub_traces(locked, old_email=old_email)
        # Changing the e-mail (a unique key) locks the account fully: from here no new row can
        # point at the buyer until this commits. One placed since the list above means the
        # scrub missed it: start again rather than leave it.
        _scrub_account(locked, now=now)
        if Submission.objects.filter(buyer=locked).exclude(pk__in=submission_ids).exists():
            raise ErasureRefused(
                "The buyer placed an order while the erasure ran; nothing was erased. Run it again."
            )

        audit_record(
            actor=actor,
            action="user.erased",
            target=locked,
            after={
                "reason": reason,
                "via": via,
                **result.as_dict(),
                "files": len(storage_names),
            },
        )
        transaction.on_commit(lambda: _delete_files(storage_names, result))
        transaction.on_commit(lambda: proof_forget_cached_images(cached_images))
    return result


def _scrub_account(user: Any, *, now: Any) -> None:
    user.email = erased_email(user.pk)
    user.full_name = ""
    user.first_name = ""
    user.last_name = ""
    user.phone = ""
    user.set_unusable_password()
    user.is_active = False
    user.erased_at = now
    # save() writes one more history row, already scrubbed; the older ones are scrubbed below.
    user.save(
        update_fields=[
            "email",
            "full_name",
            "first_name",
            "last_name",
            "phone",
            "password",
            "is_active",
            "erased_at",
        ]
    )
    user.history.filter(id=user.pk).update(
        email=erased_email(user.pk), full_name="", first_name="", last_name="", phone=""
    )


def _scrub_submissions(submission_ids: list[int], *, user_id: int) -> None:
    personal = {
        "buyer_name": Value(ERASED_NAME),
        "buyer_phone": Value(""),
        "terms_accepted_ip": None,
        "verification_notes": _scrubbed("verification_notes"),
    }
    # The version bump refuses any form still open on a copy that shows the old name.
    Submission.objects.filter(pk__in=submission_ids).update(**personal, version=F("version") + 1)
    Submission.history.filter(id__in=submission_ids).update(
        **personal, history_change_reason=_scrubbed_change_reason()
    )
    ProofReview.objects.filter(submission_id__in=submission_ids).update(
        buyer_name=ERASED_NAME,
        buyer_email=erased_email(user_id),
        reason_text=_scrubbed("reason_text"),
    )


def _scrub_proofs(proofs: QuerySet[PaymentProof], *, now: Any) -> tuple[int, list[str]]:
    proof_ids = list(proofs.order_by("pk").values_list("pk", flat=True))
    locked = list(PaymentProof.objects.select_for_update().filter(pk__in=proof_ids).order_by("pk"))
    storage_names = [proof.storage_name for proof in locked if proof.file_purged_at is None]
    # raw_text is what OCR read off the receipt (the payer's name, their number); the reading's
    # amount, reference, date and the hashes stay for duplicate checks and the books.
    PaymentProof.objects.filter(pk__in=proof_ids).update(original_name="", raw_text="")
    PaymentProof.objects.filter(pk__in=proof_ids, file_purged_at__isnull=True).update(
        file_purged_at=now, file_purge_reason=PurgeReason.ERASURE
    )
    PaymentProof.history.filter(id__in=proof_ids).update(original_name="")
    return len(proof_ids), storage_names


def _scrub_refunds(refunds: QuerySet[Refund]) -> int:
    refund_ids = [row.pk for row in refunds.select_for_update().order_by("pk")]
    Refund.objects.filter(pk__in=refund_ids).update(details=_scrubbed("details"))
    Refund.history.filter(id__in=refund_ids).update(
        details=_scrubbed("details"), history_change_reason=_scrubbed_change_reason()
    )
    return len(refund_ids)


def _scrub_statement_lines(payments: QuerySet[Payment]) -> int:
    # The payer's name as the bank printed it, on lines matched to this buyer's payments.
    lines = StatementLine.objects.filter(matches__payment__in=payments).exclude(payer="")
    line_ids = list(lines.values_list("pk", flat=True).distinct())
    StatementLine.objects.filter(pk__in=line_ids).update(payer=ERASED_TEXT)
    return len(line_ids)


def _scrub_webhook_payloads(submission_ids: list[int]) -> None:
    # A rejection event carries the note shown to the buyer; the rest is codes and amounts.
    codes = list(Submission.objects.filter(pk__in=submission_ids).values_list("code", flat=True))
    deliveries = Delivery.objects.filter(payload__data__submission__in=codes)
    for delivery in deliveries.select_for_update().order_by("pk"):
        if _redact_reason(delivery.payload):
            delivery.save(update_fields=["payload"])


def _redact_reason(payload: Any) -> bool:
    changed = False
    if isinstance(payload, dict):
        if payload.get("reason"):
            payload["reason"] = ERASED_TEXT
            changed = True
        for value in payload.values():
            changed = _redact_reason(value) or changed
    return changed


def _scrub_traces(user: Any, *, old_email: str) -> None:
    # Stored API answers may repeat the buyer's name; they are only kept for replays anyway.
    IdempotencyRecord.objects.filter(user=user).delete()
    for model in (AccessAttempt, AccessFailureLog, AccessLog):
        model.objects.filter(username__iexact=old_email).delete()
    UserObjectPermission.objects.filter(user=user).delete()
    # An API token is a credential; an inactive account cannot use it, but it need not exist.
    Token.objects.filter(user=user).delete()
    # A buyer brought across from the earlier platform is keyed by their e-mail there.
    LegacyIdMap.objects.filter(
        Q(legacy_id__iexact=old_email), target_model="accounts.User", target_id=str(user.pk)
    ).update(legacy_id=f"erased-{user.pk}")


def _delete_files(storage_names: list[str], result: ErasureResult) -> None:
    storage = proof_storage()
    for name in storage_names:
        try:
            storage.delete(name)
        except Exception:
            # The rows already say the file is gone; an operator must remove it by hand.
            logger.exception(
                "erasure of user %s: could not delete proof file %s", result.user_id, name
            )
            result.files_failed.append(name)
        else:
            result.files_deleted.append(name)
