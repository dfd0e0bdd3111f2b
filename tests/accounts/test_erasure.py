"""A buyer's erasure: personal data and proof files go, every amount and ledger sum stays equal."""

import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.apps import apps
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Count, Sum
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from accounts.erasure import ERASED_NAME, ERASED_TEXT, ErasureRefused, erase_buyer, erased_email
from accounts.models import User
from accounts.roles import FINANCE_GROUP
from audit.models import AuditEvent
from legacy.models import ImportBatch, LegacyIdMap
from payments.models import (
    IdempotencyRecord,
    Payment,
    PaymentAllocation,
    Refund,
    Submission,
)
from payments.money import services as money
from payments.reconciliation.models import Statement, StatementLine, StatementMatch
from tests.conftest import Personas
from tests.factories import PaymentMethodFactory, StaffFactory, SubmissionFactory
from tests.money.helpers import grant, record
from tests.verification.conftest import stored_files
from verification.decisions import submission_approve, submission_reject
from verification.models import PaymentProof, ProofReview, PurgeReason
from verification.services import proof_submit
from wallet.models import CreditGrant, Wallet, WalletEntry
from webhooks.models import Delivery, Endpoint

NAME = "Maria Clara Santos"
EMAIL = "maria.santos@example.test"
PHONE = "09171112222"
IP = "203.0.113.77"
FILE_NAME = "maria-santos-gcash.png"
RECEIPT_TEXT = "GCash Sent to SAMPLE GOM from MARIA CLARA SANTOS +63 917 111 2222"
REFUND_DETAILS = "Please send it back to my BPI, Maria"
NOTE_TO_BUYER = "The screenshot is cut off at the amount"
REJECTION_NOTE = "The total is cut off"
PERSONAL = [NAME, "Santos", EMAIL, "maria.santos", PHONE, "917 111 2222", IP, FILE_NAME]


def _png(colour: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (60, 90), colour).save(buffer, "PNG")
    return buffer.getvalue()


def _upload(submission: Submission, colour: str) -> PaymentProof:
    proof = proof_submit(
        actor=submission.buyer,
        submission=submission,
        upload=io.BytesIO(_png(colour)),
        original_name=FILE_NAME,
    )
    # What OCR would read off a real receipt: the payer's own name and number.
    PaymentProof.objects.filter(pk=proof.pk).update(raw_text=RECEIPT_TEXT)
    return proof


@dataclass
class Buyer:
    user: User
    proofs: list[PaymentProof]
    line: StatementLine


@pytest.fixture
def buyer(personas: Personas, proof_root: Path, settings: Any) -> Buyer:
    """A buyer with every kind of record: proofs approved and rejected, a manual payment,
    overpayment credit, goodwill credit spent, a refund, a matched statement line, a webhook."""
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = True
    user = personas.buyer
    User.objects.filter(pk=user.pk).update(email=EMAIL, full_name=NAME, phone=PHONE)
    user.refresh_from_db()
    user.save()  # one more history row holding the personal data
    Endpoint.objects.create(
        owner=personas.owner,
        url="http://127.0.0.1:9/hook",
        event_types=["submission.rejected", "submission.verified", "payment.recorded"],
        secrets=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    )
    Submission.objects.filter(buyer=user).update(
        buyer_name=NAME,
        buyer_phone=PHONE,
        terms_accepted_ip=IP,
        terms_accepted_at=timezone.now(),
    )
    first, second = personas.submission, personas.other_submission
    for submission in (first, second):
        submission.refresh_from_db()
    # First order: a rejected proof, then an approved one that overpays (store credit).
    rejected = _upload(first, "red")
    assert submission_reject(
        actor=personas.owner,
        submission_id=first.pk,
        reason_code="other",
        reason_text=NOTE_TO_BUYER,
    ).is_done
    first.refresh_from_db()
    approved = _upload(first, "blue")
    assert submission_approve(
        actor=personas.owner, submission_id=first.pk, amount_minor=130_000
    ).is_done
    # Second order: a manual payment, then a refund the buyer asked for in their own words.
    payment = record([(second, 125_000)], 125_000, actor=personas.other_gom, key="erase-pay")
    refund = money.refund_request(
        actor=user,
        payment=payment,
        amount_minor=25_000,
        destination=Refund.Destination.WALLET,
        reason="item_unavailable",
        idempotency_key="erase-refund",
        submission=second,
        details=REFUND_DETAILS,
    )
    money.refund_approve(actor=personas.other_gom, refund=refund)
    # Goodwill credit from the first GOM, partly spent on a third submission.
    grant(user, personas.owner, 40_000, key="erase-goodwill")
    third = SubmissionFactory(group_order=personas.order, buyer=user, buyer_name=NAME)
    money.wallet_apply_credit(
        actor=user, submission=third, amount_minor=15_000, idempotency_key="erase-spend"
    )
    # The GOM's bank statement names the payer; its line is matched to the manual payment.
    method = PaymentMethodFactory(owner=personas.other_gom)
    statement = Statement.objects.create(
        payment_method=method,
        currency="PHP",
        file_name="bpi-november.csv",
        file_sha256="0" * 64,
        uploaded_by=personas.other_gom,
    )
    line = StatementLine.objects.create(
        statement=statement,
        payment_method=method,
        row_number=1,
        posted_at=timezone.now(),
        direction=StatementLine.Direction.CREDIT,
        amount_minor=125_000,
        currency="PHP",
        reference="1234567890123",
        payer=NAME.upper(),
        checksum="1" * 64,
        match_status=StatementLine.MatchStatus.MATCHED,
    )
    StatementMatch.objects.create(
        line=line,
        payment=payment,
        kind=StatementMatch.Kind.REFERENCE,
        status=StatementMatch.Status.CONFIRMED,
    )
    # Brought across from the earlier platform, where the buyer was known by their e-mail.
    batch = ImportBatch.objects.create(name="gomflow-2025", source="postgres://old/gomflow")
    LegacyIdMap.objects.create(
        batch=batch,
        legacy_table="submissions.buyer",
        legacy_id=EMAIL,
        target_model="accounts.User",
        target_id=str(user.pk),
        created=True,
    )
    IdempotencyRecord.objects.create(
        user=user, key="k1", fingerprint="f" * 64, response_status=201, response_body={"n": NAME}
    )
    AccessAttempt.objects.create(
        username=EMAIL,
        ip_address=IP,
        user_agent="phone",
        http_accept="*/*",
        path_info="/login/",
        get_data="",
        post_data="",
        failures_since_start=2,
    )
    return Buyer(user=user, proofs=[rejected, approved], line=line)


def _sums() -> dict[str, Any]:
    """Every money figure of the database, aggregated and row by row."""
    aggregates: dict[str, Any] = {
        "payments": Payment.objects.aggregate(
            n=Count("pk"),
            amount=Sum("amount_minor"),
            allocated=Sum("allocated_minor"),
            credited=Sum("credited_minor"),
            refunds=Sum("refund_reserved_minor"),
            fees=Sum("fee_minor"),
        ),
        "allocations": PaymentAllocation.objects.aggregate(
            n=Count("pk"), amount=Sum("amount_minor")
        ),
        "refunds": Refund.objects.aggregate(n=Count("pk"), amount=Sum("amount_minor")),
        "grants": CreditGrant.objects.aggregate(
            n=Count("pk"), amount=Sum("amount_minor"), remaining=Sum("remaining_minor")
        ),
        "ledger": WalletEntry.objects.aggregate(n=Count("pk"), amount=Sum("amount_minor")),
        "wallets": Wallet.objects.aggregate(balance=Sum("balance_minor")),
        "submissions": Submission.objects.aggregate(
            due=Sum("amount_due_minor"), paid=Sum("paid_minor"), refunded=Sum("refunded_minor")
        ),
        "approved": ProofReview.objects.aggregate(amount=Sum("amount_approved_minor")),
        "read": PaymentProof.objects.aggregate(amount=Sum("amount_minor")),
    }
    rows = {
        "payments": list(
            Payment.objects.order_by("pk").values_list(
                "pk", "amount_minor", "allocated_minor", "credited_minor", "status", "reference"
            )
        ),
        "refunds": list(
            Refund.objects.order_by("pk").values_list("pk", "amount_minor", "status", "destination")
        ),
        "ledger": list(
            WalletEntry.objects.order_by("pk").values_list(
                "pk", "kind", "amount_minor", "balance_after_minor"
            )
        ),
        "submissions": list(
            Submission.objects.order_by("pk").values_list(
                "pk", "code", "status", "amount_due_minor", "paid_minor", "refunded_minor"
            )
        ),
        "proofs": list(
            PaymentProof.objects.order_by("pk").values_list(
                "pk", "sha256", "perceptual_hash", "size_bytes", "amount_minor", "reference"
            )
        ),
        "reviews": list(
            ProofReview.objects.order_by("pk").values_list(
                "pk", "state", "decided_at", "amount_approved_minor", "reason_code"
            )
        ),
    }
    return {"aggregates": aggregates, "rows": rows}


def _rows_mentioning(needles: list[str], *, exclude: tuple[type, ...] = ()) -> list[str]:
    """Search every row of every table for any of the strings (case-insensitive)."""
    found = []
    lowered = [needle.lower() for needle in needles]
    for model in apps.get_models():
        if model in exclude:
            continue
        for row in model.objects.values():
            text = json.dumps(row, cls=DjangoJSONEncoder).lower()
            found += [
                f"{model._meta.label} #{row.get('pk') or row.get('id')}: {n}"
                for n in lowered
                if n in text
            ]
    return found


def _erase(buyer: Buyer, actor: Any, capture: Callable[..., Any]) -> Any:
    with capture(execute=True):
        return erase_buyer(
            buyer.user, reason="Buyer's e-mail of 2026-11-20, ticket 4411", actor=actor
        )


@pytest.mark.django_db
def test_erasure_keeps_every_sum_equal_and_leaves_no_personal_data(
    buyer: Buyer,
    personas: Personas,
    proof_root: Path,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    before = _sums()
    assert before["aggregates"]["payments"]["n"] == 3
    assert before["aggregates"]["refunds"] == {"n": 1, "amount": 25_000}
    assert before["aggregates"]["grants"]["n"] == 3
    assert len(stored_files(proof_root)) == 2
    # The scan sees the buyer in every place the erasure has to reach.
    personal = [*PERSONAL, RECEIPT_TEXT, REFUND_DETAILS]
    assert sorted({found.split(" #")[0] for found in _rows_mentioning(personal)}) == [
        "accounts.HistoricalUser",
        "accounts.User",
        "axes.AccessAttempt",
        "legacy.LegacyIdMap",
        "payments.HistoricalRefund",
        "payments.HistoricalSubmission",
        "payments.IdempotencyRecord",
        "payments.Refund",
        "payments.StatementLine",
        "payments.Submission",
        "verification.HistoricalPaymentProof",
        "verification.PaymentProof",
        "verification.ProofReview",
    ]
    audit_before = AuditEvent.objects.count()

    result = _erase(buyer, personas.finance, django_capture_on_commit_callbacks)

    assert _sums() == before
    assert _rows_mentioning(PERSONAL) == []
    assert _rows_mentioning([REFUND_DETAILS]) == []
    # Free text goes too, except the rejection note inside the append-only audit log (a GOM's
    # words to the buyer, recorded with the state change; audit rows cannot be updated).
    leftovers = _rows_mentioning([RECEIPT_TEXT, REFUND_DETAILS, NOTE_TO_BUYER])
    noted = [int(found.split("#")[1].split(":")[0]) for found in leftovers]
    assert leftovers == [f"audit.AuditEvent #{pk}: {NOTE_TO_BUYER.lower()}" for pk in noted]
    assert sorted(AuditEvent.objects.filter(pk__in=noted).values_list("action", flat=True)) == [
        "submission.state_changed",
        "verification.rejected",
    ]
    assert stored_files(proof_root) == []
    assert (result.submissions, result.proofs, result.refunds, result.statement_lines) == (
        3,
        2,
        1,
        1,
    )
    assert len(result.files_deleted) == 2
    assert result.files_failed == []

    user = User.objects.get(pk=buyer.user.pk)
    assert (user.email, user.full_name, user.phone) == (erased_email(user.pk), "", "")
    assert user.is_active is False
    assert user.has_usable_password() is False
    assert user.erased_at is not None
    submissions = Submission.objects.filter(buyer=user)
    assert set(submissions.values_list("buyer_name", "buyer_phone", "terms_accepted_ip")) == {
        (ERASED_NAME, "", None)
    }
    assert set(
        ProofReview.objects.filter(submission__buyer=user).values_list("buyer_name", "buyer_email")
    ) == {(ERASED_NAME, erased_email(user.pk))}
    for proof in PaymentProof.objects.filter(pk__in=[p.pk for p in buyer.proofs]):
        assert (proof.original_name, proof.raw_text) == ("", "")
        assert proof.file_purge_reason == PurgeReason.ERASURE
        assert proof.file_purged_at == user.erased_at
    assert Refund.objects.get().details == ERASED_TEXT
    buyer.line.refresh_from_db()
    assert buyer.line.payer == ERASED_TEXT
    assert IdempotencyRecord.objects.filter(user=user).count() == 0
    assert LegacyIdMap.objects.get().legacy_id == f"erased-{user.pk}"
    assert AccessAttempt.objects.count() == 0

    erased = AuditEvent.objects.get(action="user.erased")
    assert AuditEvent.objects.count() == audit_before + 1
    assert (erased.actor_id, erased.object_id, erased.object_repr) == (
        personas.finance.pk,
        str(user.pk),
        f"User #{user.pk}",
    )
    assert erased.after == {
        "reason": "Buyer's e-mail of 2026-11-20, ticket 4411",
        "via": "admin",
        "submissions": 3,
        "proofs": 2,
        "refunds": 1,
        "statement_lines": 1,
        "files": 2,
    }


@pytest.mark.django_db
def test_rejection_webhook_payload_loses_the_note(
    buyer: Buyer, personas: Personas, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    rejected = Delivery.objects.get(event_type="submission.rejected")
    assert NOTE_TO_BUYER in rejected.payload["data"]["reason"]
    verified_before = list(
        Delivery.objects.exclude(pk=rejected.pk).order_by("pk").values_list("pk", "payload")
    )
    _erase(buyer, personas.finance, django_capture_on_commit_callbacks)
    rejected.refresh_from_db()
    assert rejected.payload["data"]["reason"] == ERASED_TEXT
    assert rejected.payload["data"]["submission"] == personas.submission.code
    assert (
        list(Delivery.objects.exclude(pk=rejected.pk).order_by("pk").values_list("pk", "payload"))
        == verified_before
    )


@pytest.mark.django_db
def test_erased_buyer_cannot_sign_in_and_gets_no_more_mail(
    buyer: Buyer,
    personas: Personas,
    django_capture_on_commit_callbacks: Callable[..., Any],
    mailoutbox: list[Any],
) -> None:
    from payments.notifications import deliver_buyer_email

    control = Client()
    signed_in = control.post(
        reverse("accounts:login"), {"username": EMAIL, "password": "correct-horse-battery"}
    )
    assert signed_in.status_code == 302
    _erase(buyer, personas.finance, django_capture_on_commit_callbacks)
    # The session opened before the erasure is dead too (the password hash changed).
    assert control.get(reverse("accounts:home")).status_code == 302
    client = Client()
    for username in (EMAIL, erased_email(buyer.user.pk)):
        response = client.post(
            reverse("accounts:login"), {"username": username, "password": "correct-horse-battery"}
        )
        assert response.status_code == 200
        assert "_auth_user_id" not in client.session
    mailoutbox.clear()
    deliver_buyer_email(
        {"kind": "verified", "submission_id": personas.submission.pk, "refund_id": None}
    )
    assert mailoutbox == []


@pytest.mark.parametrize("kind", ["staff", "superuser", "gom_without_staff", "already_erased"])
@pytest.mark.django_db
def test_refused_erasures_change_nothing(
    kind: str,
    buyer: Buyer,
    personas: Personas,
    proof_root: Path,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    if kind == "staff":
        target, expected = personas.owner, "is a staff account"
    elif kind == "superuser":
        target = User.objects.create_superuser(email="root@example.test", password="x")
        expected = "is a staff account"
    elif kind == "gom_without_staff":
        target = User.objects.create_user(email="former-gom@example.test", full_name="Former GOM")
        PaymentMethodFactory(owner=target)
        expected = "runs group orders"
    else:
        _erase(buyer, personas.finance, django_capture_on_commit_callbacks)
        target, expected = User.objects.get(pk=buyer.user.pk), "was already erased"
    before = _sums()
    users_before = list(User.objects.order_by("pk").values())
    audit_before = AuditEvent.objects.count()
    files_before = stored_files(proof_root)
    with pytest.raises(ErasureRefused, match=expected):
        erase_buyer(target, reason="asked", actor=personas.finance)
    assert _sums() == before
    assert list(User.objects.order_by("pk").values()) == users_before
    assert AuditEvent.objects.count() == audit_before
    assert stored_files(proof_root) == files_before


@pytest.mark.django_db
def test_an_empty_reason_is_refused(buyer: Buyer, personas: Personas) -> None:
    with pytest.raises(ErasureRefused, match="Say why"):
        erase_buyer(buyer.user, reason="  ", actor=personas.finance)
    buyer.user.refresh_from_db()
    assert (buyer.user.email, buyer.user.erased_at) == (EMAIL, None)


# --- The admin: a confirmation page with the reason, for superusers and Finance only.


def _erase_url(user: User) -> str:
    return reverse("admin:accounts_user_erase", args=[user.pk])


@pytest.mark.django_db
def test_finance_confirms_with_a_reason_and_the_buyer_is_erased(
    buyer: Buyer,
    personas: Personas,
    proof_root: Path,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    client = Client()
    client.force_login(personas.finance)
    page = client.get(_erase_url(buyer.user))
    assert page.status_code == 200
    assert 'id="erase-form"' in page.content.decode()
    assert "3 submissions" in page.content.decode()

    missing_reason = client.post(_erase_url(buyer.user), {"reason": ""})
    assert missing_reason.status_code == 200
    buyer.user.refresh_from_db()
    assert buyer.user.erased_at is None

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(_erase_url(buyer.user), {"reason": "ticket 4411"})
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:accounts_user_change", args=[buyer.user.pk])
    buyer.user.refresh_from_db()
    assert buyer.user.email == erased_email(buyer.user.pk)
    assert stored_files(proof_root) == []
    event = AuditEvent.objects.get(action="user.erased")
    assert (event.actor_id, event.after["reason"]) == (personas.finance.pk, "ticket 4411")


@pytest.mark.django_db
def test_action_on_the_user_list_leads_to_the_confirmation(buyer: Buyer) -> None:
    superuser = User.objects.create_superuser(email="root@example.test", password="x")
    client = Client()
    client.force_login(superuser)
    changelist = reverse("admin:accounts_user_changelist")
    response = client.post(
        changelist, {"action": "erase_selected_buyer", "_selected_action": [buyer.user.pk]}
    )
    assert (response.status_code, response["Location"]) == (302, _erase_url(buyer.user))
    two = client.post(
        changelist,
        {"action": "erase_selected_buyer", "_selected_action": [buyer.user.pk, superuser.pk]},
    )
    assert (two.status_code, two["Location"]) == (302, changelist)
    buyer.user.refresh_from_db()
    assert buyer.user.erased_at is None
    assert not AuditEvent.objects.filter(action="user.erased").exists()


@pytest.mark.django_db
def test_admin_shows_the_refusal_for_a_staff_account(personas: Personas) -> None:
    client = Client()
    client.force_login(personas.finance)
    page = client.get(_erase_url(personas.owner))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="erase-refused"' in html
    assert 'id="erase-form"' not in html
    posted = client.post(_erase_url(personas.owner), {"reason": "asked"})
    assert posted.status_code == 200
    assert 'id="erase-refused"' in posted.content.decode()
    assert not AuditEvent.objects.filter(action="user.erased").exists()
    personas.owner.refresh_from_db()
    assert (personas.owner.email, personas.owner.erased_at) == ("owner@example.test", None)


@pytest.mark.parametrize(
    ("persona", "get_status", "post_status"),
    [("owner", 403, 403), ("assistant", 403, 403), ("buyer", 302, 302)],
)
@pytest.mark.django_db
def test_gom_and_buyer_may_not_erase(
    persona: str, get_status: int, post_status: int, buyer: Buyer, personas: Personas
) -> None:
    client = Client()
    client.force_login(getattr(personas, persona))
    before = _sums()
    assert client.get(_erase_url(buyer.user)).status_code == get_status
    assert client.post(_erase_url(buyer.user), {"reason": "x"}).status_code == post_status
    # The user list itself is closed to them, so the action is out of reach too.
    changelist = reverse("admin:accounts_user_changelist")
    listed = client.post(
        changelist, {"action": "erase_selected_buyer", "_selected_action": [buyer.user.pk]}
    )
    assert listed.status_code == get_status
    buyer.user.refresh_from_db()
    assert (buyer.user.email, buyer.user.erased_at) == (EMAIL, None)
    assert _sums() == before
    assert not AuditEvent.objects.filter(action="user.erased").exists()


@pytest.mark.django_db
def test_staff_without_the_permission_gets_403_and_finance_has_it(personas: Personas) -> None:
    plain = StaffFactory(email="helper@example.test")
    assert plain.has_perm("accounts.erase_buyer") is False
    assert personas.finance.has_perm("accounts.erase_buyer") is True
    assert personas.finance.has_perm("accounts.view_user") is True
    assert personas.owner.has_perm("accounts.erase_buyer") is False
    assert Group.objects.get(name=FINANCE_GROUP).permissions.filter(codename="erase_buyer").exists()
    client = Client()
    client.force_login(plain)
    assert client.get(_erase_url(personas.buyer)).status_code == 403


# --- The command.


@pytest.mark.django_db(transaction=True)
def test_command_erases_by_email_with_yes(proof_root: Path) -> None:
    order_owner = StaffFactory()
    submission = SubmissionFactory(
        group_order__owner=order_owner, buyer__email=EMAIL, buyer_name=NAME
    )
    _upload(submission, "green")
    out = io.StringIO()
    call_command("erase_buyer", EMAIL.upper(), "--reason", "ticket 9", "--yes", stdout=out)
    user = User.objects.get(pk=submission.buyer_id)
    assert out.getvalue() == (
        f"User #{user.pk} erased: 1 submissions, 1 proofs, 1 files deleted, 0 files failed.\n"
    )
    assert user.email == erased_email(user.pk)
    assert stored_files(proof_root) == []
    event = AuditEvent.objects.get(action="user.erased")
    assert event.actor_id is None
    assert event.after["via"].startswith("command (")


@pytest.mark.django_db
def test_command_asks_before_erasing(buyer: Buyer, monkeypatch: pytest.MonkeyPatch) -> None:
    answers = iter(["n", "y"])
    monkeypatch.setattr("builtins.input", lambda prompt: next(answers))
    with pytest.raises(CommandError, match="Nothing erased"):
        call_command("erase_buyer", str(buyer.user.pk), "--reason", "ticket 9")
    buyer.user.refresh_from_db()
    assert buyer.user.erased_at is None
    call_command("erase_buyer", str(buyer.user.pk), "--reason", "ticket 9", stdout=io.StringIO())
    buyer.user.refresh_from_db()
    assert buyer.user.erased_at is not None


@pytest.mark.django_db
def test_command_refusals(personas: Personas) -> None:
    with pytest.raises(CommandError, match=r"No account 'nobody@example\.test'"):
        call_command("erase_buyer", "nobody@example.test", "--reason", "x", "--yes")
    with pytest.raises(CommandError, match="is a staff account"):
        call_command("erase_buyer", "owner@example.test", "--reason", "x", "--yes")
    assert not AuditEvent.objects.filter(action="user.erased").exists()
    assert User.objects.filter(erased_at__isnull=False).count() == 0


@pytest.mark.django_db
def test_a_proof_awaiting_a_decision_loses_its_file_but_stays_in_the_queue(
    personas: Personas,
    proof_root: Path,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    from django.core.cache import cache
    from rest_framework.authtoken.models import Token

    from verification.services import proof_thumbnail_cache_key

    proof = _upload(personas.submission, "green")
    Token.objects.create(user=personas.buyer)
    owner = Client()
    owner.force_login(personas.owner)
    thumbnail = owner.get(reverse("verification:proof-thumbnail", args=[proof.pk]))
    assert (thumbnail.status_code, thumbnail["Content-Type"]) == (200, "image/jpeg")
    assert cache.get(proof_thumbnail_cache_key(proof.pk, proof.sha256)) is not None

    with django_capture_on_commit_callbacks(execute=True):
        erase_buyer(personas.buyer, reason="ticket 12", actor=personas.finance)

    assert cache.get(proof_thumbnail_cache_key(proof.pk, proof.sha256)) is None
    assert Token.objects.filter(user=personas.buyer).count() == 0
    assert stored_files(proof_root) == []
    review = ProofReview.objects.get(pk=proof.pk)
    assert review.state == "awaiting"
    page = owner.get(reverse("admin:verification_proofreview_change", args=[proof.pk]))
    assert page.status_code == 200
    assert "File deleted on the buyer&#x27;s erasure request." in page.content.decode()
    gone = owner.get(reverse("verification:proof-file", args=[proof.pk]))
    assert (gone.status_code, gone.content) == (
        410,
        b"File deleted on the buyer's erasure request.",
    )
    # The GOM can still decide it, on the amount and the statement.
    assert submission_approve(
        actor=personas.owner, submission_id=personas.submission.pk, amount_minor=125_000
    ).is_done
    assert Payment.objects.get(buyer=personas.buyer).amount_minor == 125_000


@pytest.mark.django_db
def test_an_analysis_finishing_after_the_erasure_keeps_nothing_it_read(
    personas: Personas, monkeypatch: pytest.MonkeyPatch
) -> None:
    from verification import services
    from verification.agent.extract import Reading

    monkeypatch.setattr("verification.tasks.analyze_proof_task.delay", lambda *args: None)
    proof = _upload(personas.submission, "green")
    PaymentProof.objects.filter(pk=proof.pk).update(raw_text="")

    def read_while_the_buyer_is_erased(*args: object, **kwargs: object) -> Reading:
        # The agent reads with no lock held; the erasure commits meanwhile.
        erase_buyer(personas.buyer, reason="ticket 13", actor=personas.finance)
        return Reading(
            provider="gcash", amount_minor=125_000, currency="PHP", raw_text=RECEIPT_TEXT
        )

    monkeypatch.setattr(services.agent, "read_proof", read_while_the_buyer_is_erased)
    analysed = services.proof_analyze(proof_id=proof.pk)
    assert (analysed.analysis_status, analysed.raw_text, analysed.amount_minor) == (
        "unavailable",
        "",
        None,
    )
    assert analysed.analysis_reason == "File deleted on the buyer's erasure request."
    assert _rows_mentioning([RECEIPT_TEXT]) == []


@pytest.mark.django_db
def test_an_order_placed_while_the_erasure_runs_stops_it(
    buyer: Buyer, personas: Personas, proof_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from accounts import erasure

    before = _sums()
    files_before = stored_files(proof_root)
    monkeypatch.setattr(
        erasure,
        "race_window",
        lambda: SubmissionFactory(group_order=personas.order, buyer=buyer.user, buyer_name=NAME),
    )
    with pytest.raises(ErasureRefused, match="placed an order while the erasure ran"):
        erase_buyer(buyer.user, reason="ticket 5", actor=personas.finance)
    assert _sums() == before
    buyer.user.refresh_from_db()
    assert (buyer.user.email, buyer.user.erased_at) == (EMAIL, None)
    assert set(
        Submission.objects.filter(buyer=buyer.user).values_list("buyer_name", flat=True)
    ) == {NAME}
    assert stored_files(proof_root) == files_before
    assert not AuditEvent.objects.filter(action="user.erased").exists()
