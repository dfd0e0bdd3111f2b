"""Buyer e-mails: rendered from templates (HTML and text), sent after commit.

Services call ``notify_buyer_on_commit`` inside their transaction: it writes an outbox message
with the change, so a broker outage delays an e-mail but never loses it. Sending happens in
``deliver_buyer_email``, outside any transaction or lock.
"""

import contextvars
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from outbox.services import outbox_publish_many, publish_once
from payments.models import GroupOrder, Refund, Submission
from payments.selectors import paymentmethod_list_offered

# Each kind of e-mail: its template name and subject (the code is filled in).
KINDS: dict[str, tuple[str, str]] = {
    "submission_placed": ("submission_placed", "Your order {code}: how to pay"),
    "proof_received": ("proof_received", "We received your proof of payment for {code}"),
    "verified": ("verified", "Your payment for {code} is verified"),
    "partially_paid": ("partially_paid", "Part of your payment for {code} is verified"),
    "rejected": ("rejected", "Your proof of payment for {code} needs another look"),
    "refund_approved": ("refund_approved", "Your refund for {code} is approved"),
    "refund_paid": ("refund_paid", "Your refund for {code} is paid"),
    "payment_reminder": ("payment_reminder", "Reminder: order {code} is waiting for payment"),
}


def remind_buyer_once(submission: Submission) -> bool:
    """Queue one payment reminder per submission and deadline; False when already queued."""
    deadline = submission.group_order.payment_deadline.isoformat()
    return publish_once(
        topic="email.buyer",
        payload={"kind": "payment_reminder", "submission_id": submission.pk, "refund_id": None},
        key=f"email:payment_reminder:{submission.pk}:{deadline}",
    )


def remind_gom_once(*, order_id: int, waiting: int, day: str) -> bool:
    """Tell a GOM that proofs on an order wait past the SLA, at most once a day per order."""
    return publish_once(
        topic="email.gom",
        payload={"kind": "proofs_overdue", "order_id": order_id, "waiting": waiting},
        key=f"email:proofs_overdue:{order_id}:{day}",
    )


def deliver_gom_email(payload: dict[str, object]) -> None:
    """The outbox handler for e-mails to a GOM."""
    order = GroupOrder.objects.select_related("owner").get(pk=payload["order_id"])
    context = {
        "order": order,
        "waiting": payload["waiting"],
        "queue_url": _absolute("/admin/payments/submission/?status__exact=proof_submitted"),
        "sla_hours": settings.VERIFICATION_SLA_HOURS,
    }
    text = render_to_string("emails/gom_proofs_overdue.txt", context)
    html = render_to_string("emails/gom_proofs_overdue.html", context)
    message = EmailMultiAlternatives(
        subject=_("%(count)s proofs waiting for you in %(title)s")
        % {"count": payload["waiting"], "title": order.title},
        body=text,
        to=[order.owner.email],
        from_email=settings.DEFAULT_FROM_EMAIL,
    )
    message.attach_alternative(html, "text/html")
    message.send()


def _absolute(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


_silenced: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "notifications_silenced", default=False
)


@contextmanager
def silenced() -> Iterator[None]:
    """Announce nothing (no e-mail, no webhook) for changes made in this block.

    For bringing history across (the legacy import): those payments were made and announced
    long ago, on the earlier platform.
    """
    token = _silenced.set(True)
    try:
        yield
    finally:
        _silenced.reset(token)


def is_silenced() -> bool:
    return _silenced.get()


def notify_buyer_on_commit(kind: str, submission_id: int, *, refund_id: int | None = None) -> None:
    """Send the buyer an e-mail of ``kind`` once the current transaction commits."""
    notify_buyers_on_commit(kind, [submission_id], refund_id=refund_id)


def notify_buyers_on_commit(
    kind: str, submission_ids: Sequence[int], *, refund_id: int | None = None
) -> None:
    """``notify_buyer_on_commit`` for many submissions (a batch of decisions), in one write."""
    if kind not in KINDS:
        raise ValueError(f"unknown e-mail kind {kind!r}")
    if is_silenced() or not submission_ids:
        return
    outbox_publish_many(
        topic="email.buyer",
        payloads=[
            {"kind": kind, "submission_id": submission_id, "refund_id": refund_id}
            for submission_id in submission_ids
        ],
    )


def deliver_buyer_email(payload: dict[str, object]) -> None:
    """The outbox handler: send one buyer e-mail (and record sent instructions)."""
    kind = str(payload["kind"])
    submission = Submission.objects.select_related("group_order", "buyer").get(
        pk=payload["submission_id"]
    )
    if submission.buyer.erased_at is not None:
        # Queued before the buyer's erasure; there is no address to write to any more.
        return
    refund_id = payload.get("refund_id")
    refund = Refund.objects.get(pk=refund_id) if refund_id else None
    send_buyer_email(kind, submission, refund)
    if kind == "submission_placed":
        from payments.services import submission_mark_instructions_sent

        submission_mark_instructions_sent(actor=None, submission=submission)


def send_buyer_email(kind: str, submission: Submission, refund: Refund | None = None) -> None:
    """Render ``emails/<template>.txt`` and ``.html`` for one submission and send them."""
    template, subject = KINDS[kind]
    order = submission.group_order
    context = {
        "submission": submission,
        "order": order,
        "refund": refund,
        "status_url": _absolute(reverse("buyer:submission-status", args=[submission.code])),
        "pay_url": _absolute(reverse("payments:submission-pay", args=[submission.code])),
        "methods": paymentmethod_list_offered(order)
        if kind in ("submission_placed", "payment_reminder")
        else [],
    }
    with timezone.override(order.timezone):
        text = render_to_string(f"emails/{template}.txt", context)
        html = render_to_string(f"emails/{template}.html", context)
    message = EmailMultiAlternatives(
        subject=_(subject).format(code=submission.code),
        body=text,
        to=[submission.buyer.email],
        from_email=settings.DEFAULT_FROM_EMAIL,
    )
    message.attach_alternative(html, "text/html")
    message.send()
