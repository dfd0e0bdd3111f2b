"""Health checks: each one measures itself and says HEALTHY, DEGRADED or UNHEALTHY, and why."""

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Any

import redis
from django.conf import settings
from django.db import connection
from django.utils import timezone

from payments.models import Submission
from webhooks.services import webhook_failure_rate


class Status(StrEnum):
    HEALTHY = "HEALTHY"
    DEGRADED = "DEGRADED"
    UNHEALTHY = "UNHEALTHY"


_RANK = {Status.HEALTHY: 0, Status.DEGRADED: 1, Status.UNHEALTHY: 2}


@dataclass
class CheckResult:
    name: str
    status: Status
    response_time_ms: float = 0.0
    reason: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = str(self.status)
        return data


def _timed(name: str, probe: Callable[[], CheckResult]) -> CheckResult:
    started = time.perf_counter()
    try:
        result = probe()
    except Exception as error:  # any failure of a dependency is the answer
        result = CheckResult(name, Status.UNHEALTHY, reason=f"{type(error).__name__}: {error}")
    result.response_time_ms = round((time.perf_counter() - started) * 1000, 2)
    return result


def check_database() -> CheckResult:
    def probe() -> CheckResult:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return CheckResult("database", Status.HEALTHY, details={"vendor": connection.vendor})

    return _timed("database", probe)


def check_redis() -> CheckResult:
    def probe() -> CheckResult:
        if not settings.REDIS_URL:
            return CheckResult(
                "redis",
                Status.HEALTHY,
                details={"configured": False, "mode": "tasks run in-process"},
            )
        client = redis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2
        )
        client.ping()
        return CheckResult("redis", Status.HEALTHY, details={"configured": True})

    return _timed("redis", probe)


def check_payments() -> CheckResult:
    """Queue backlog, stuck proofs and the verification rate against the alert thresholds."""

    def probe() -> CheckResult:
        now = timezone.now()
        sla = timedelta(hours=settings.VERIFICATION_SLA_HOURS)
        waiting = Submission.objects.filter(status=Submission.Status.PROOF_SUBMITTED)
        backlog = waiting.count()
        stuck = waiting.filter(updated_at__lt=now - sla).count()
        decided = Submission.objects.filter(verified_at__gte=now - timedelta(days=1))
        verified = decided.exclude(status=Submission.Status.REJECTED).count()
        rejected = decided.filter(status=Submission.Status.REJECTED).count()
        total = verified + rejected
        success_rate = round(verified / total, 4) if total else None
        problems = []
        if stuck > settings.ALERT_STUCK_PAYMENTS_MAX:
            problems.append(
                f"{stuck} proofs waiting longer than {settings.VERIFICATION_SLA_HOURS} h "
                f"(alert above {settings.ALERT_STUCK_PAYMENTS_MAX})"
            )
        webhook_failures = webhook_failure_rate(since=now - timedelta(days=1))
        if (
            webhook_failures is not None
            and webhook_failures > settings.ALERT_WEBHOOK_FAILURE_RATE_MAX
        ):
            problems.append(
                f"webhook failure rate {webhook_failures:.0%} is above "
                f"{settings.ALERT_WEBHOOK_FAILURE_RATE_MAX:.0%}"
            )
        if success_rate is not None and success_rate < settings.ALERT_SUCCESS_RATE_MIN:
            problems.append(
                f"verification success rate {success_rate:.0%} is below "
                f"{settings.ALERT_SUCCESS_RATE_MIN:.0%}"
            )
        return CheckResult(
            "payments",
            Status.DEGRADED if problems else Status.HEALTHY,
            reason="; ".join(problems),
            details={
                "queue_backlog": backlog,
                "stuck": stuck,
                "decided_last_24h": total,
                "success_rate": success_rate,
                "rejection_rate": round(rejected / total, 4) if total else None,
                "webhook_failure_rate": webhook_failures,
            },
        )

    return _timed("payments", probe)


def overall(results: list[CheckResult], *, broker_outage_degrades: bool = True) -> Status:
    """The worst status wins, except that in the overall view a broker outage only degrades.

    Without Redis the pages and decisions still work; tasks wait in the outbox until it returns.
    """
    worst = Status.HEALTHY
    for result in results:
        status = result.status
        if broker_outage_degrades and result.name == "redis" and status == Status.UNHEALTHY:
            status = Status.DEGRADED
        if _RANK[status] > _RANK[worst]:
            worst = status
    return worst
