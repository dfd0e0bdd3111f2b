"""The buyer's page for one submission: timeline, proofs and what the agent read, money, receipt.

It lives on the verification side because it shows proofs; the money parts come from the
payments and wallet selectors (dependencies run verification → payments → wallet).
"""

import hashlib
import uuid
from typing import Any

from django.contrib.auth import SESSION_KEY
from django.contrib.auth.decorators import login_required
from django.core.cache import caches
from django.core.exceptions import ValidationError
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import get_language

from accounts.models import User, user_row_already_read
from core.page_cache import csrf_cookie_digest, page_cacheable
from core.prepared import PreparedStatement
from payments.models import Refund, RefundStatus, Submission
from payments.money.schedule import submission_schedule
from payments.money.selectors import refund_list_for_buyer
from payments.money.services import PAYABLE_STATES
from payments.selectors import submission_get_for_buyer
from verification.agent.providers import BY_SLUG
from verification.models import PaymentProof
from verification.selectors import proof_list_for_submission
from verification.services import ACCEPTS_PROOF
from verification.views import ProofUploadForm
from wallet.models import Wallet
from wallet.selectors import wallet_list_for_buyer

# A receipt is issued once money has been verified for the submission.
_RECEIPT_STATES = {
    Submission.Status.VERIFIED,
    Submission.Status.PARTIALLY_PAID,
    Submission.Status.PARTIALLY_REFUNDED,
    Submission.Status.REFUNDED,
}


def _timeline(submission: Submission) -> list[dict[str, object]]:
    """Return each status the submission went through, oldest first, from its history."""
    timeline: list[dict[str, object]] = []
    for row in submission.history.order_by("history_date", "history_id"):
        if timeline and timeline[-1]["status"] == row.status:
            continue
        timeline.append(
            {
                "status": row.status,
                "label": Submission.Status(row.status).label,
                "at": row.history_date,
                "notes": row.verification_notes if row.status == Submission.Status.REJECTED else "",
            }
        )
    return timeline


def _store_credit(request: HttpRequest, submission: Submission) -> int:
    return next(
        (
            wallet.balance_minor
            for wallet in wallet_list_for_buyer(request.user)
            if wallet.issuer_id == submission.group_order.owner_id
            and wallet.currency == submission.currency
        ),
        0,
    )


# A rendered order page is kept this long at most; its key changes with everything it shows.
_PAGE_CACHE_SECONDS = 300


def _fingerprint_sql(buyer: str) -> str:
    """Everything the order page shows that can change, for the buyer ``buyer`` and code %s."""
    submission = Submission._meta.db_table
    order = Submission._meta.get_field("group_order").related_model._meta.db_table
    proof = PaymentProof._meta.db_table
    wallet = Wallet._meta.db_table
    refund = Refund._meta.db_table
    latest_proof = f"FROM {proof} p WHERE p.submission_id = s.id ORDER BY p.id DESC LIMIT 1"
    # Constants from the code, not input: the state names are the model's choices.
    refund_counts = " || ',' || ".join(
        f"COUNT(CASE WHEN r.status = '{state}' THEN 1 END)" for state in RefundStatus.values
    )
    return (
        "SELECT s.id, s.version, s.updated_at,"  # noqa: S608 (table names from the models)
        f" (SELECT p.id {latest_proof}), (SELECT p.analysis_status {latest_proof}),"
        f" (SELECT w.balance_minor FROM {wallet} w WHERE w.buyer_id = s.buyer_id"
        "   AND w.issuer_id = o.owner_id AND w.currency = s.currency),"
        # A refund's request and decision may leave the submission's version as it was. How
        # many refunds stand in each state: a new refund or any step of one changes it, as
        # steps only go forward (and SQLite before 3.44 has no ordered string_agg).
        f" (SELECT {refund_counts} FROM {refund} r WHERE r.submission_id = s.id),"
        " o.title, o.payment_deadline"
        f" FROM {submission} s JOIN {order} o ON o.id = s.group_order_id"
        f" WHERE s.buyer_id = {buyer} AND s.code = %s"
    )


def _user_and_fingerprint_sql() -> str:
    user = User._meta.db_table
    return (
        f"SELECT {User.objects.row_columns('u')}, f.*"  # noqa: S608 (names from the models)
        f" FROM {user} u LEFT JOIN LATERAL ({_fingerprint_sql(buyer='u.id')}) f ON true"
        " WHERE u.id = %s"
    )


# Built once and prepared once per connection: these run on every reload of the page. Compiling
# the equivalent ORM query (three subqueries) cost four times what PostgreSQL takes to answer it,
# and PostgreSQL in turn took five times longer to plan the statement than to run it.
_FINGERPRINT = PreparedStatement(
    "order_page_fingerprint", _fingerprint_sql(buyer="%s"), ["bigint", "text"]
)
# The same, with the signed-in user's row: one statement where the session's user would
# otherwise cost a second one (each costs more CPU in the driver and the server than the rows).
_USER_AND_FINGERPRINT = PreparedStatement(
    "order_page_user_and_fingerprint", _user_and_fingerprint_sql(), ["text", "bigint"]
)
_USER_COLUMNS = len(User._meta.concrete_fields)


def _fingerprint_of(row: tuple[object, ...]) -> str:
    return hashlib.sha256(repr(row).encode()).hexdigest()[:32]


def _page_fingerprint(buyer: Any, code: str) -> str | None:
    """One query for everything the order page shows that can change; None when not theirs.

    The page is rendered again only when the submission (its version moves with every state
    and money change), its latest proof or analysis, its refunds, the buyer's credit with this
    GOM, or the order's title and deadline change.
    """
    with connection.cursor() as cursor:
        _FINGERPRINT.execute(cursor, [buyer.pk, code])
        row = cursor.fetchone()
    return None if row is None else _fingerprint_of(row)


def _session_user_and_fingerprint(
    request: HttpRequest, code: str
) -> tuple[User | None, str | None]:
    """The row of the user the session names and the page's fingerprint for them, in one query.

    Nothing here decides who is signed in: Django's session authentication does, on this row.
    Elsewhere than on PostgreSQL (no LATERAL) it reads nothing and the page reads its own.
    """
    if connection.vendor != "postgresql":
        return None, None
    try:
        user_id = User._meta.pk.to_python(request.session[SESSION_KEY])
    except (KeyError, ValidationError):
        return None, None
    with connection.cursor() as cursor:
        _USER_AND_FINGERPRINT.execute(cursor, [code, user_id])
        row = cursor.fetchone()
    if row is None:
        return None, None
    user = User.objects.from_row(row[:_USER_COLUMNS], using=connection.alias)
    page = tuple(row[_USER_COLUMNS:])
    # s.id is never NULL: a NULL means the lateral join found no such submission of theirs.
    return user, None if page[0] is None else _fingerprint_of(page)


def _page_cache_key(request: HttpRequest, code: str, fingerprint: str) -> str:
    # The forms carry a CSRF token tied to this browser's cookie: one copy per cookie.
    csrf = csrf_cookie_digest(request)
    return f"order-page:{request.user.pk}:{code}:{fingerprint}:{csrf}:{get_language()}"


def submission_status(request: HttpRequest, code: str) -> HttpResponse:
    """Everything a buyer needs about one order: did it work, what was read, what is next.

    Buyers reload this page while they wait; it is served from the cache until something on
    it changes (a page with a one-time message is never cached).
    """
    user, fingerprint = _session_user_and_fingerprint(request, code)
    with user_row_already_read(user):
        return _submission_status(request, code, user_read=user, fingerprint=fingerprint)


@login_required
def _submission_status(
    request: HttpRequest, code: str, *, user_read: User | None, fingerprint: str | None
) -> HttpResponse:
    if user_read is None or request.user.pk != user_read.pk:
        # Signed in as someone else than the session's user row read above (another
        # authentication backend or middleware): the fingerprint must be request.user's.
        fingerprint = _page_fingerprint(request.user, code)
    if fingerprint is None:
        raise Http404("No such submission.")
    cacheable = page_cacheable(request)
    key = _page_cache_key(request, code, fingerprint)
    # Kept as bytes: a str would be encoded again on every reload.
    if cacheable and (content := caches["pages"].get(key)) is not None:
        return HttpResponse(content)
    response = _render_status(request, code)
    if cacheable:
        caches["pages"].set(key, response.content, _PAGE_CACHE_SECONDS)
    return response


def _render_status(request: HttpRequest, code: str) -> HttpResponse:
    submission = submission_get_for_buyer(request.user, code)
    proofs = list(proof_list_for_submission(submission))
    credit = _store_credit(request, submission)
    latest_proof = proofs[0] if proofs else None
    # The agent stores the provider's slug ("gcash"); the buyer reads its name ("GCash").
    provider = BY_SLUG.get(latest_proof.provider) if latest_proof else None
    with timezone.override(submission.group_order.timezone):
        return render(
            request,
            "verification/submission_status.html",
            {
                "submission": submission,
                "order": submission.group_order,
                "timeline": _timeline(submission),
                "lines": list(submission.lines.all()),
                "schedule": submission_schedule(submission),
                "proofs": proofs,
                "refunds": list(refund_list_for_buyer(request.user, submission)),
                "latest_proof": latest_proof,
                "provider_name": provider.name
                if provider
                else getattr(latest_proof, "provider", ""),
                "accepts_proof": submission.status in ACCEPTS_PROOF,
                "upload_form": ProofUploadForm(),
                "credit_minor": credit,
                "can_use_credit": credit > 0
                and submission.outstanding_minor > 0
                and submission.status in PAYABLE_STATES,
                "can_refund": submission.paid_minor > submission.refunded_minor,
                "has_receipt": submission.status in _RECEIPT_STATES and submission.paid_minor > 0,
                "form_token": uuid.uuid4().hex,
            },
        )


@login_required
def submission_receipt(request: HttpRequest, code: str) -> HttpResponse:
    """The receipt as a PDF (WeasyPrint), once money was verified for the submission."""
    from weasyprint import HTML  # heavy import, only for this view

    submission = submission_get_for_buyer(request.user, code)
    if submission.status not in _RECEIPT_STATES or submission.paid_minor == 0:
        return render(
            request, "verification/no_receipt.html", {"submission": submission}, status=404
        )
    allocations = (
        submission.allocations.filter(is_reversed=False)
        .select_related("payment")
        .order_by("created_at", "id")
    )
    with timezone.override(submission.group_order.timezone):
        html = render_to_string(
            "verification/receipt.html",
            {
                "submission": submission,
                "order": submission.group_order,
                "lines": list(submission.lines.all()),
                "allocations": list(allocations),
                "issued_at": timezone.now(),
            },
            request=request,
        )
    pdf = HTML(string=html, base_url=request.build_absolute_uri("/")).write_pdf()
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="receipt-{submission.code}.pdf"'
    return response
