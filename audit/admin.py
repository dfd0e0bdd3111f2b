from django.contrib import admin

from audit.models import AuditEvent
from core.admin_scoping import ReadOnlyAdmin


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "action", "object_repr", "actor", "ip_address", "request_id")
    list_select_related = ("actor", "object_type")
    list_filter = ("action", "object_type")
    search_fields = ("object_id", "object_repr", "actor__email", "request_id")
    date_hierarchy = "created_at"
    # The audit table only grows; showing an exact total would count it on every page.
    show_full_result_count = False
