"""Health endpoints for load balancers and operators: 503 whenever the answer is UNHEALTHY."""

import hmac
import time

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ops import health
from ops.metrics import PaymentsCollector


class IsOperatorOrHealthToken(BasePermission):
    """A superuser, finance (who read every order), or ``Authorization: Bearer <HEALTH_TOKEN>``.

    Not every staff user: a GOM is staff, and these figures (queue backlog, stuck proofs,
    submissions by status) are every GOM's together.
    """

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        if (
            user
            and user.is_authenticated
            and (user.is_superuser or user.has_perm("payments.view_all_orders"))
        ):
            return True
        token = settings.HEALTH_TOKEN
        supplied = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        return bool(token) and hmac.compare_digest(supplied.encode(), token.encode())


def live(request: HttpRequest) -> HttpResponse:
    """Liveness: the process answers. No dependency is touched (those are the other checks)."""
    return HttpResponse("ok", content_type="text/plain")


def _respond(
    results: list[health.CheckResult], started: float, *, broker_outage_degrades: bool = True
) -> Response:
    status = health.overall(results, broker_outage_degrades=broker_outage_degrades)
    body = {
        "status": str(status),
        "checks": {result.name: result.as_dict() for result in results},
        "response_time_ms": round((time.perf_counter() - started) * 1000, 2),
    }
    return Response(body, status=503 if status == health.Status.UNHEALTHY else 200)


_HEALTH_RESPONSES = {
    200: OpenApiResponse(description="HEALTHY or DEGRADED"),
    503: OpenApiResponse(description="UNHEALTHY, with the reason"),
}


class HealthView(APIView):
    """Overall health: database, Redis and payments."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    # Load balancers poll these, and the throttle's cache is one of the things being checked.
    throttle_classes: list = []

    @extend_schema(responses=_HEALTH_RESPONSES)
    def get(self, request: Request) -> Response:
        started = time.perf_counter()
        results = [health.check_database(), health.check_redis()]
        if results[0].status == health.Status.HEALTHY:
            payments = health.check_payments()
            # The public summary carries the status only; the figures are for operators.
            results.append(
                health.CheckResult(
                    "payments", payments.status, payments.response_time_ms, payments.reason
                )
            )
        return _respond(results, started)


class DatabaseHealthView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    # Load balancers poll these, and the throttle's cache is one of the things being checked.
    throttle_classes: list = []

    @extend_schema(responses=_HEALTH_RESPONSES)
    def get(self, request: Request) -> Response:
        return _respond([health.check_database()], time.perf_counter())


class RedisHealthView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    # Load balancers poll these, and the throttle's cache is one of the things being checked.
    throttle_classes: list = []

    @extend_schema(responses=_HEALTH_RESPONSES)
    def get(self, request: Request) -> Response:
        started = time.perf_counter()
        return _respond([health.check_redis()], started, broker_outage_degrades=False)


class PaymentsHealthView(APIView):
    """Queue backlog, stuck count and rates, for operators or the health token."""

    permission_classes = [IsOperatorOrHealthToken]

    @extend_schema(responses=_HEALTH_RESPONSES)
    def get(self, request: Request) -> Response:
        started = time.perf_counter()
        database = health.check_database()
        results = [database]
        if database.status == health.Status.HEALTHY:
            results.append(health.check_payments())
        return _respond(results, started)


class MetricsView(APIView):
    """Prometheus text exposition, for operators or the health token."""

    permission_classes = [IsOperatorOrHealthToken]

    @extend_schema(responses={200: OpenApiResponse(description="Prometheus text format")})
    def get(self, request: HttpRequest) -> HttpResponse:
        registry = CollectorRegistry()
        registry.register(PaymentsCollector())
        return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
