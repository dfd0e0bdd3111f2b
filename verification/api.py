"""REST API of the verification app: a buyer uploads a payment proof."""

import json
import time
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.http import Http404, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from payments.method_templates import Country, templates_for_country
from payments.models import Submission
from payments.selectors import submission_list_for_buyer
from verification import queue_events
from verification.decisions import BULK_ACTIONS, BULK_LIMIT, submissions_decide_bulk, summarize
from verification.exceptions import ProofRejected
from verification.models import RejectReason
from verification.selectors import review_queue_counts
from verification.services import proof_submit
from verification.stats import PERIODS, verification_stats

# Multipart framing around the file: boundaries and headers, generously.
_MULTIPART_OVERHEAD = 64 * 1024


def _error(code: str, message: str, http_status: int) -> Response:
    return Response({"error": {"code": code, "message": message}}, status=http_status)


class ProofUploadSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text="PNG, JPEG, WebP, HEIC or a one-page PDF, at most 10 MB."
    )


class SubmissionPaymentProofView(APIView):
    """`PUT /api/submissions/{id}/payment-proof` with a multipart field `file`."""

    parser_classes = [MultiPartParser]

    @extend_schema(
        request={"multipart/form-data": ProofUploadSerializer},
        responses={
            201: OpenApiTypes.OBJECT,
            400: OpenApiTypes.OBJECT,
            404: None,
            409: OpenApiTypes.OBJECT,
            413: OpenApiTypes.OBJECT,
            429: OpenApiTypes.OBJECT,
        },
    )
    def put(self, request: Request, pk: int) -> Response:
        try:
            submission = submission_list_for_buyer(request.user).get(pk=pk)
        except Submission.DoesNotExist:
            raise Http404("No such submission.") from None
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
        if declared > settings.PROOF_MAX_BYTES + _MULTIPART_OVERHEAD:
            limit_mb = settings.PROOF_MAX_BYTES / (1024 * 1024)
            return _error("too_large", f"The file is larger than {limit_mb:g} MB.", 413)
        upload = request.FILES.get("file")
        if upload is None:
            return _error("missing_file", "Send the proof as the multipart field 'file'.", 400)
        try:
            proof = proof_submit(
                actor=request.user, submission=submission, upload=upload, original_name=upload.name
            )
        except ProofRejected as rejection:
            return _error(rejection.code, rejection.message, rejection.http_status)
        submission.refresh_from_db(fields=["status"])
        return Response(
            {
                "id": proof.pk,
                "submission": submission.pk,
                "submission_status": submission.status,
                "content_type": proof.content_type,
                "size_bytes": proof.size_bytes,
                "sha256": proof.sha256,
                "scan_status": proof.scan_status,
                "analysis_status": proof.analysis_status,
            },
            status=status.HTTP_201_CREATED,
        )


# --- The verification dashboard's API: bulk decisions, stats, the live queue, method templates.


class BulkDecisionSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=BULK_ACTIONS)
    submission_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), min_length=1, max_length=BULK_LIMIT
    )
    reason = serializers.ChoiceField(
        choices=RejectReason.choices,
        required=False,
        allow_blank=True,
        help_text="Required to reject unless `note` is given.",
    )
    note = serializers.CharField(required=False, allow_blank=True, max_length=500)


class DecisionResultSerializer(serializers.Serializer):
    submission_id = serializers.IntegerField()
    submission_code = serializers.CharField()
    outcome = serializers.ChoiceField(
        choices=[
            "approved",
            "rejected",
            "reupload_requested",
            "conflict",
            "needs_single_review",
            "not_permitted",
            "not_found",
            "invalid",
        ]
    )
    message = serializers.CharField()
    decided_by = serializers.CharField()
    decided_at = serializers.DateTimeField(allow_null=True)
    payment_id = serializers.IntegerField(allow_null=True)
    status = serializers.CharField()


class BulkDecisionView(APIView):
    """`POST /api/verifications/bulk`: approve or reject many submissions, one result each."""

    @extend_schema(
        request=BulkDecisionSerializer,
        responses={200: DecisionResultSerializer(many=True), 400: OpenApiTypes.OBJECT},
    )
    def post(self, request: Request) -> Response:
        serializer = BulkDecisionSerializer(data=request.data)
        if not serializer.is_valid():
            return Response({"error": {"code": "invalid", "fields": serializer.errors}}, status=400)
        data = serializer.validated_data
        try:
            results = submissions_decide_bulk(
                actor=request.user,
                action=data["action"],
                submission_ids=data["submission_ids"],
                reason_code=data.get("reason", ""),
                reason_text=data.get("note", ""),
            )
        except ValueError as error:
            return _error("invalid", str(error), 400)
        return Response(
            {"results": [result.as_dict() for result in results], "summary": summarize(results)}
        )


class StatsView(APIView):
    """`GET /api/verifications/stats?period=day|week|month`: the stats page's numbers."""

    @extend_schema(
        parameters=[
            OpenApiParameter("period", str, enum=list(PERIODS), required=False, default="week")
        ],
        responses={200: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request) -> Response:
        period = request.query_params.get("period", "week")
        if period not in PERIODS:
            return _error("invalid_period", f"The period is one of: {', '.join(PERIODS)}.", 400)
        if not request.user.is_staff:
            raise Http404("No such page.")
        return Response(verification_stats(request.user, period=period))


class EventStreamRenderer(BaseRenderer):
    media_type = "text/event-stream"
    format = "event-stream"
    charset = "utf-8"

    def render(
        self, data: Any, accepted_media_type: Any = None, renderer_context: Any = None
    ) -> Any:
        return data


def _queue_events(user: Any) -> Iterator[str]:
    """Yield an SSE event whenever the user's queue sizes change (and a keep-alive comment)."""
    deadline = time.monotonic() + settings.VERIFICATION_STREAM_MAX_SECONDS
    poll = settings.VERIFICATION_STREAM_POLL_SECONDS
    pubsub = queue_events.subscribe()
    last: dict[int, int] | None = None
    last_sent = 0.0
    try:
        yield "retry: 2000\n\n"
        while time.monotonic() < deadline:
            counts = review_queue_counts(user)
            if counts != last:
                payload = {
                    "total": sum(counts.values()),
                    "group_orders": {str(pk): count for pk, count in sorted(counts.items())},
                }
                yield f"event: queue\ndata: {json.dumps(payload)}\n\n"
                last, last_sent = counts, time.monotonic()
            elif time.monotonic() - last_sent > 15:
                yield ": keep-alive\n\n"
                last_sent = time.monotonic()
            if pubsub is not None:
                # Wake on the first change message (drain the rest); re-count at least every 10 s
                # in case a message was lost.
                wait = min(10.0, max(0.0, deadline - time.monotonic()))
                if pubsub.get_message(timeout=wait) is not None:
                    while pubsub.get_message(timeout=0.01) is not None:
                        pass
            else:
                time.sleep(poll)
    finally:
        if pubsub is not None:
            pubsub.close()


class QueueStreamView(APIView):
    """`GET /api/verifications/queue/stream`: Server-Sent Events with the queue size per order."""

    renderer_classes = [EventStreamRenderer]
    throttle_classes: list[Any] = []

    @extend_schema(responses={(200, "text/event-stream"): OpenApiTypes.STR})
    def get(self, request: Request) -> StreamingHttpResponse:
        if not request.user.is_staff:
            raise Http404("No such page.")
        response = StreamingHttpResponse(
            _queue_events(request.user), content_type="text/event-stream"
        )
        response["Cache-Control"] = "no-cache"
        # nginx and similar proxies buffer responses unless told not to.
        response["X-Accel-Buffering"] = "no"
        return response


class PaymentMethodTemplatesView(APIView):
    """`GET /api/payment-methods/templates?country=PH|MY`: what each provider's method needs."""

    @extend_schema(
        parameters=[OpenApiParameter("country", str, enum=["PH", "MY"], required=True)],
        responses={200: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request) -> Response:
        country = (request.query_params.get("country") or "").upper()
        if country not in Country.values:
            return _error("invalid_country", "Say country=PH or country=MY.", 400)
        return Response(
            {
                "country": country,
                "templates": [
                    {
                        "code": template.code,
                        "name": template.name,
                        "method_type": template.method_type,
                        "bank_name": template.bank_name,
                        "qr_allowed": template.qr_allowed,
                        "fields": [
                            {"name": spec.name, "label": str(spec.label), "pattern": spec.pattern}
                            for spec in template.fields
                        ],
                        "reference": {
                            "label": str(template.reference_label),
                            "pattern": template.reference_pattern,
                            "example": template.reference_example,
                            "documented": template.reference_documented,
                        },
                    }
                    for template in templates_for_country(country)
                ],
            }
        )
