"""REST endpoints that move money: record a manual payment, apply credit, request a refund.

Views call selectors (404 for anything not the user's) and the money services; they never write
rows themselves. Every POST honours ``Idempotency-Key`` (see payments.money.idempotency).
"""

import uuid
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.money import format_money
from payments.exceptions import PaymentsError
from payments.method_templates import MethodType
from payments.models import Payment, Refund, RefundReason, Submission
from payments.money import selectors as money_selectors
from payments.money import services as money
from payments.money.idempotency import HEADER, idempotent, service_key
from payments.money.keyed_credit import apply_credit_keyed
from payments.money.keyed_refund import refund_request_keyed
from payments.money.schedule import submission_next_due, submission_schedule
from payments.selectors import Access, submission_list_for_user
from wallet.exceptions import WalletError

_KEY_PARAMETER = OpenApiParameter(
    HEADER,
    str,
    OpenApiParameter.HEADER,
    description="Same key and body: the first response is replayed; other body: 422; "
    "while the first runs: 409. Scoped to you, kept at least 24 hours.",
)


def _key(request: Request) -> str:
    supplied = request.headers.get(HEADER)
    # Without a key every request is new: the services still need a unique one.
    return service_key(request, supplied) if supplied else f"api:{uuid.uuid4().hex}"


def _refused(error: Exception) -> Response:
    return Response({"detail": str(error), "code": "refused"}, status=status.HTTP_400_BAD_REQUEST)


def _payment_data(payment: Payment) -> dict[str, Any]:
    return {
        "id": payment.pk,
        "status": payment.status,
        "source": payment.source,
        "currency": payment.currency,
        "amount_minor": payment.amount_minor,
        "amount": format_money(payment.amount_minor, payment.currency),
        "fee_minor": payment.fee_minor,
        "allocated_minor": payment.allocated_minor,
        "credited_minor": payment.credited_minor,
        "reference": payment.reference,
        "paid_at": payment.paid_at.isoformat(),
    }


def _submission_data(submission: Submission) -> dict[str, Any]:
    next_due = submission_next_due(submission)
    return {
        "id": submission.pk,
        "code": submission.code,
        "status": submission.status,
        "amount_due_minor": submission.amount_due_minor,
        "paid_minor": submission.paid_minor,
        "outstanding_minor": submission.outstanding_minor,
        "next_due": None
        if next_due is None
        else {
            "label": next_due.label,
            "due_at": next_due.due_at.isoformat(),
            "outstanding_minor": next_due.outstanding_minor,
        },
    }


def _credit_body(payment: Payment, submission: Submission) -> dict[str, Any]:
    return {"payment": _payment_data(payment), "submission": _submission_data(submission)}


class ApplyCreditSerializer(serializers.Serializer):
    amount_minor = serializers.IntegerField(min_value=1, required=False)


class ApplyCreditView(APIView):
    """Pay one of your submissions from your store credit with its GOM."""

    @extend_schema(
        request=ApplyCreditSerializer,
        responses={201: OpenApiTypes.OBJECT},
        parameters=[_KEY_PARAMETER],
    )
    def post(self, request: Request, pk: int) -> Response:
        serializer = ApplyCreditSerializer(data=request.data)
        if serializer.is_valid():
            # The plain case in six statements (PostgreSQL); None: the general path answers.
            amount = serializer.validated_data.get("amount_minor")
            answered = apply_credit_keyed(request, pk, amount, _credit_body)
            if answered is not None:
                return answered
        return self._apply(request, pk)

    @idempotent
    def _apply(self, request: Request, pk: int) -> Response:
        submission = money_selectors.submission_get_for_buyer_by_pk(request.user, pk)
        serializer = ApplyCreditSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            payment = money.wallet_apply_credit(
                actor=request.user,
                submission=submission,
                amount_minor=serializer.validated_data.get("amount_minor"),
                idempotency_key=_key(request),
            )
        except (PaymentsError, WalletError) as error:
            return _refused(error)
        submission = Submission.objects.select_related("group_order").get(pk=submission.pk)
        return Response(_credit_body(payment, submission), status=status.HTTP_201_CREATED)


class RefundRequestSerializer(serializers.Serializer):
    amount_minor = serializers.IntegerField(min_value=1)
    destination = serializers.ChoiceField(choices=Refund.Destination.choices)
    reason = serializers.ChoiceField(choices=RefundReason.choices)
    submission_id = serializers.IntegerField(required=False)
    details = serializers.CharField(required=False, allow_blank=True, max_length=500)


def _refund_data(refund: Refund) -> dict[str, Any]:
    return {
        "id": refund.pk,
        "payment_id": refund.payment_id,
        "submission_id": refund.submission_id,
        "status": refund.status,
        "destination": refund.destination,
        "reason": refund.reason,
        "currency": refund.currency,
        "amount_minor": refund.amount_minor,
        "amount": format_money(refund.amount_minor, refund.currency),
    }


class RefundRequestView(APIView):
    """Ask for a refund of one of your payments."""

    @extend_schema(
        request=RefundRequestSerializer,
        responses={201: OpenApiTypes.OBJECT},
        parameters=[_KEY_PARAMETER],
    )
    def post(self, request: Request, pk: int) -> Response:
        serializer = RefundRequestSerializer(data=request.data)
        if serializer.is_valid():
            # The plain case in five statements (PostgreSQL); None: the general path answers.
            answered = refund_request_keyed(request, pk, serializer.validated_data, _refund_data)
            if answered is not None:
                return answered
        return self._request(request, pk)

    @idempotent
    def _request(self, request: Request, pk: int) -> Response:
        payment = money_selectors.payment_get_for_buyer(request.user, pk)
        serializer = RefundRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        submission = None
        if "submission_id" in data:
            submission = money_selectors.submission_get_for_buyer_by_pk(
                request.user, data["submission_id"]
            )
        try:
            refund = money.refund_request(
                actor=request.user,
                payment=payment,
                submission=submission,
                amount_minor=data["amount_minor"],
                destination=data["destination"],
                reason=data["reason"],
                details=data.get("details", ""),
                idempotency_key=_key(request),
            )
        except PaymentsError as error:
            return _refused(error)
        return Response(_refund_data(refund), status=status.HTTP_201_CREATED)


class AllocationSerializer(serializers.Serializer):
    submission_id = serializers.IntegerField()
    amount_minor = serializers.IntegerField(min_value=1)


class PaymentRecordSerializer(serializers.Serializer):
    currency = serializers.CharField(max_length=3)
    amount_minor = serializers.IntegerField(min_value=1)
    method_type = serializers.ChoiceField(choices=MethodType.choices)
    reference = serializers.CharField(required=False, allow_blank=True, max_length=64)
    paid_at = serializers.DateTimeField()
    allocations = AllocationSerializer(many=True, allow_empty=False)


class PaymentRecordView(APIView):
    """Record a manual (cash, offline) payment on your own group order's submissions."""

    @extend_schema(
        request=PaymentRecordSerializer,
        responses={201: OpenApiTypes.OBJECT},
        parameters=[_KEY_PARAMETER],
    )
    @idempotent
    def post(self, request: Request) -> Response:
        serializer = PaymentRecordSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        ids = [part["submission_id"] for part in data["allocations"]]
        # Verify access on the order: the owner or an assistant granted verify; 404 otherwise.
        found = {
            row.pk: row
            for row in submission_list_for_user(request.user, access=Access.VERIFY)
            .select_related("group_order__owner", "buyer")
            .filter(pk__in=ids)
        }
        if len(found) != len(set(ids)):
            return Response({"detail": "No such submission."}, status=status.HTTP_404_NOT_FOUND)
        rows = [found[pk] for pk in ids]
        if len({(row.group_order_id, row.buyer_id) for row in rows}) != 1:
            return _refused(
                PaymentsError("One payment pays one buyer's submissions in one group order.")
            )
        try:
            payment = money.payment_record(
                actor=request.user,
                buyer=rows[0].buyer,
                group_order=rows[0].group_order,
                currency=data["currency"],
                amount_minor=data["amount_minor"],
                method_type=data["method_type"],
                source=Payment.Source.MANUAL,
                reference=data.get("reference", ""),
                paid_at=data["paid_at"],
                allocations=[
                    (found[part["submission_id"]], part["amount_minor"])
                    for part in data["allocations"]
                ],
                idempotency_key=_key(request),
            )
        except (PaymentsError, WalletError) as error:
            return _refused(error)
        return Response(_payment_data(payment), status=status.HTTP_201_CREATED)


class ScheduleView(APIView):
    """What a submission must pay and when: its parts, what each has received, what is next.

    For the buyer who placed it and for staff who may view its group order; 404 for anyone else.
    """

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, pk: int) -> Response:
        found = (
            Submission.objects.filter(pk=pk, buyer=request.user)
            | submission_list_for_user(request.user).filter(pk=pk)
        ).select_related("group_order")
        submission = found.first()
        if submission is None:
            return Response({"detail": "No such submission."}, status=status.HTTP_404_NOT_FOUND)
        return Response(
            {
                **_submission_data(submission),
                "parts": [
                    {
                        "number": part.number,
                        "label": part.label,
                        "due_at": part.due_at.isoformat(),
                        "amount_minor": part.amount_minor,
                        "paid_minor": part.paid_minor,
                        "outstanding_minor": part.outstanding_minor,
                    }
                    for part in submission_schedule(submission)
                ],
            }
        )
