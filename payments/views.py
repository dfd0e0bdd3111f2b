"""Buyer pages: the group order, placing a submission, paying, following it, credit, refunds."""

import uuid

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from audit.middleware import client_ip
from core.money import format_money
from payments import selectors
from payments.exceptions import PaymentsError
from payments.forms import PlaceSubmissionForm, RefundRequestForm
from payments.models import GroupOrder, PaymentMethod, Refund, RefundReason, Submission
from payments.money import selectors as money_selectors
from payments.money import services as money
from payments.money.fees import fee_describe, feerule_in_force, local_date
from payments.money.schedule import submission_next_due, submission_schedule
from payments.services import LineRequest, submission_create
from wallet.exceptions import WalletError


@require_http_methods(["GET", "POST"])
def group_order_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Show an order's items, deadlines and methods; place a submission on POST."""
    order = selectors.grouporder_get_public(pk)
    items = list(order.items.filter(is_available=True))
    methods = selectors.paymentmethod_list_offered(order)
    is_open = order.status == GroupOrder.Status.OPEN and timezone.now() <= order.order_deadline
    if request.method == "POST" and not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    last_used = selectors.paymentmethod_last_used_by(request.user, methods)
    initial = {
        "buyer_name": getattr(request.user, "full_name", ""),
        "buyer_phone": getattr(request.user, "phone", ""),
        "payment_method": last_used.pk if last_used else None,
    }
    form = PlaceSubmissionForm(
        request.POST or None, initial=initial, order=order, items=items, methods=methods
    )
    if request.method == "POST" and form.is_valid():
        try:
            submission = submission_create(
                actor=request.user,
                group_order=order,
                buyer=request.user,
                buyer_name=form.cleaned_data["buyer_name"],
                buyer_phone=form.cleaned_data["buyer_phone"],
                lines=[LineRequest(pk, qty) for pk, qty in form.quantities().items()],
                payment_method=form.cleaned_data["payment_method"],
                terms_accepted=form.cleaned_data["accept_terms"],
                ip_address=client_ip(request),
            )
        except PaymentsError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, _("Order placed. Here is how to pay."))
            return redirect("payments:submission-pay", code=submission.code)
    with timezone.override(order.timezone):
        return render(
            request,
            "payments/group_order.html",
            {"order": order, "items": items, "methods": methods, "form": form, "is_open": is_open},
        )


def _own_submission(request: HttpRequest, code: str) -> Submission:
    if not request.user.is_authenticated:
        raise Http404("No such submission.")
    return selectors.submission_get_for_buyer(request.user, code)


def submission_pay(request: HttpRequest, code: str) -> HttpResponse:
    """What to pay now and how: one card per accepted method, with copy buttons and a countdown."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    submission = _own_submission(request, code)
    order = submission.group_order
    methods = selectors.paymentmethod_list_offered(order)
    chosen = submission.payment_method_id
    methods.sort(key=lambda method: method.pk != chosen)  # the buyer's choice first
    today = local_date(timezone.now(), submission.currency)
    fees = {
        method.pk: fee_describe(
            rule=feerule_in_force(
                method_type=method.method_type, currency=submission.currency, on=today
            ),
            currency=submission.currency,
        )
        for method in methods
    }
    full = {method.pk for method in methods if _is_past_monthly_limit(method, submission)}
    with timezone.override(order.timezone):
        return render(
            request,
            "payments/pay.html",
            {
                "submission": submission,
                "order": order,
                "methods": [(method, fees[method.pk], method.pk in full) for method in methods],
                "next_due": submission_next_due(submission),
                "schedule": submission_schedule(submission),
            },
        )


def _is_past_monthly_limit(method: PaymentMethod, submission: Submission) -> bool:
    """Whether paying this submission through ``method`` would pass its monthly limit."""
    if method.monthly_limit_minor is None:
        return False
    committed = selectors.paymentmethod_month_committed_minor(method, currency=submission.currency)
    is_own_method = method.pk == submission.payment_method_id
    if is_own_method and submission.status in selectors.OPEN_STATES:
        committed -= submission.outstanding_minor  # already counted as owed to this method
    return committed + submission.outstanding_minor > method.monthly_limit_minor


def payment_method_qr(request: HttpRequest, pk: int) -> FileResponse:
    """Serve a method's QR code; only methods an open or closed order accepts are shown."""
    method = PaymentMethod.objects.filter(
        pk=pk,
        is_active=True,
        group_orders__status__in=[GroupOrder.Status.OPEN, GroupOrder.Status.CLOSED],
    ).first()
    if method is None or not method.qr_image:
        raise Http404("No QR code.")
    response = FileResponse(default_storage.open(method.qr_image.name, "rb"))
    response["Cache-Control"] = "private, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _page_key(request: HttpRequest, token: str, purpose: str) -> str:
    # The form carries a token made when the page was drawn: a double click or a resubmitted
    # form reaches the service with the same key, and the service answers with the first result.
    return f"page:{purpose}:{request.user.pk}:{token}"


@require_http_methods(["POST"])
def submission_apply_credit(request: HttpRequest, code: str) -> HttpResponse:
    """Pay what is due on a submission from the buyer's store credit with its GOM."""
    if not request.user.is_authenticated:
        return redirect_to_login(reverse("buyer:submission-status", args=[code]))
    submission = _own_submission(request, code)
    token = request.POST.get("form_token", "")
    if not token:
        messages.error(request, _("The form expired; please try again."))
        return redirect("buyer:submission-status", code=code)
    try:
        payment = money.wallet_apply_credit(
            actor=request.user,
            submission=submission,
            idempotency_key=_page_key(request, token, "credit"),
        )
    except (PaymentsError, WalletError) as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request,
            _("%(amount)s of store credit paid this order.")
            % {"amount": format_money(payment.amount_minor, payment.currency)},
        )
    return redirect("buyer:submission-status", code=code)


@require_http_methods(["GET", "POST"])
def submission_refund(request: HttpRequest, code: str) -> HttpResponse:
    """Ask for a refund of (part of) what was paid on a submission."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    submission = _own_submission(request, code)
    order = submission.group_order
    allocation = money_selectors.refundable_allocation_for_buyer(request.user, submission)
    if allocation is None:
        messages.error(request, _("Nothing has been paid on this order that could be refunded."))
        return redirect("buyer:submission-status", code=code)
    reasons = [(code_, RefundReason(code_).label) for code_ in order.refund_reasons]
    destinations = list(Refund.Destination.choices)
    form = RefundRequestForm(
        request.POST or None,
        currency=submission.currency,
        reasons=reasons,
        destinations=destinations,
        initial={"form_token": uuid.uuid4().hex, "destination": Refund.Destination.WALLET},
    )
    if request.method == "POST" and form.is_valid():
        try:
            money.refund_request(
                actor=request.user,
                payment=allocation.payment,
                submission=submission,
                amount_minor=form.cleaned_data["amount"],
                destination=form.cleaned_data["destination"],
                reason=form.cleaned_data["reason"],
                details=form.cleaned_data["details"],
                idempotency_key=_page_key(request, form.cleaned_data["form_token"], "refund"),
            )
        except PaymentsError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, _("Refund requested. The GOM will review it."))
            return redirect("buyer:submission-status", code=code)
    with timezone.override(order.timezone):
        return render(
            request,
            "payments/refund.html",
            {
                "submission": submission,
                "order": order,
                "form": form,
                "refundable_minor": allocation.amount_minor,
            },
        )
