from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from core.money import format_money
from ops.models import DailyMetric

_MONEY_COLUMNS = (
    "submissions_due_minor",
    "proofs_approved_minor",
    "payments_minor",
    "fees_minor",
    "payments_voided_minor",
    "allocated_minor",
    "credited_minor",
    "refunds_paid_minor",
    "credit_granted_minor",
    "credit_used_minor",
    "credit_expired_minor",
)


def _money_column(name: str) -> Any:
    @admin.display(description=DailyMetric._meta.get_field(name).verbose_name, ordering=name)
    def show(metric: DailyMetric) -> str:
        return format_money(getattr(metric, name), metric.currency)

    show.__name__ = f"show_{name}"
    return show


@admin.register(DailyMetric)
class DailyMetricAdmin(admin.ModelAdmin):
    """The roll-up's rows, read-only: they are written by the ops.roll_up_metrics task alone."""

    list_display = (
        "date",
        "currency",
        "submissions_placed",
        "proofs_received",
        "proofs_approved",
        "proofs_rejected",
        "payments_count",
        "show_payments_minor",
        "show_allocated_minor",
        "show_credited_minor",
        "refunds_paid_count",
        "show_refunds_paid_minor",
        "show_credit_granted_minor",
    )
    list_filter = ("currency",)
    date_hierarchy = "date"
    ordering = ("-date", "currency")
    # Two rows a day: the table stays small, but the (date, currency) unique index serves the
    # date hierarchy and the ordering anyway.
    fieldsets = (
        (None, {"fields": ("date", "currency", "computed_at")}),
        (
            "Verification",
            {
                "fields": (
                    "submissions_placed",
                    "submissions_due_minor",
                    "proofs_received",
                    "proofs_approved",
                    "proofs_approved_minor",
                    "proofs_rejected",
                    "proofs_reupload_requested",
                )
            },
        ),
        (
            "Money",
            {
                "fields": (
                    "payments_count",
                    "payments_minor",
                    "fees_minor",
                    "payments_voided_count",
                    "payments_voided_minor",
                    "allocated_minor",
                    "credited_minor",
                    "refunds_paid_count",
                    "refunds_paid_minor",
                )
            },
        ),
        (
            "Store credit",
            {"fields": ("credit_granted_minor", "credit_used_minor", "credit_expired_minor")},
        ),
    )
    readonly_fields = [field.name for field in DailyMetric._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


for _name in _MONEY_COLUMNS:
    setattr(DailyMetricAdmin, f"show_{_name}", staticmethod(_money_column(_name)))
