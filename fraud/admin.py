"""Fraud check hits: read-only, scoped to the group orders a user may see."""

from django.contrib import admin

from core.admin_scoping import ScopedAdmin
from fraud.models import FraudLog
from fraud.selectors import fraudlog_list_for_user


@admin.register(FraudLog)
class FraudLogAdmin(ScopedAdmin):
    scope_selector = staticmethod(fraudlog_list_for_user)
    list_display = ("created_at", "rule", "submission", "proof", "group_order", "buyer", "summary")
    list_select_related = ("submission", "proof", "group_order", "buyer")
    list_filter = ("rule",)
    # Exact submission codes (the review page links here with ?q=<code>); the FK's index serves it.
    search_fields = ("=submission__code",)
    ordering = ("-created_at", "-id")
    readonly_fields = [field.name for field in FraudLog._meta.fields] + ["summary"]
    fieldsets = (
        (None, {"fields": ("rule", "summary", "details", "created_at")}),
        ("About", {"fields": ("buyer", "group_order", "submission", "proof")}),
    )
    show_full_result_count = False

    def has_add_permission(self, request: object) -> bool:
        return False
