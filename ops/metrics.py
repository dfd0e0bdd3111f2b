"""Prometheus metrics, read from the database when scraped (no per-process counters to lose)."""

from collections.abc import Iterator

from django.db.models import Count, Sum
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from ops import health
from payments.models import Submission


class PaymentsCollector(Collector):
    def collect(self) -> Iterator[GaugeMetricFamily]:
        by_status = GaugeMetricFamily(
            "gomflow_submissions",
            "Submissions by status and currency",
            labels=["status", "currency"],
        )
        due = GaugeMetricFamily(
            "gomflow_submissions_amount_due_minor",
            "Amount due of submissions, in minor units, by status and currency",
            labels=["status", "currency"],
        )
        rows = (
            Submission.objects.values("status", "currency")
            .annotate(count=Count("id"), amount=Sum("amount_due_minor"))
            .order_by("status", "currency")
        )
        for row in rows:
            by_status.add_metric([row["status"], row["currency"]], row["count"])
            due.add_metric([row["status"], row["currency"]], row["amount"] or 0)
        yield by_status
        yield due

        payments = health.check_payments()
        stuck = GaugeMetricFamily("gomflow_stuck_proofs", "Proofs waiting past the SLA")
        stuck.add_metric([], payments.details.get("stuck", 0))
        yield stuck
        state = GaugeMetricFamily(
            "gomflow_health", "1 for the current health status", labels=["check", "status"]
        )
        for result in (health.check_database(), health.check_redis(), payments):
            state.add_metric([result.name, str(result.status)], 1)
        yield state
