from django.contrib import admin
from django.http import HttpRequest

from legacy.models import ImportBatch, LegacyIdMap


@admin.register(ImportBatch)
class ImportBatchAdmin(admin.ModelAdmin):
    """Read-only: batches are made and rolled back by `manage.py import_gomflow`."""

    list_display = ["name", "status", "source", "created_by", "created_at", "rolled_back_at"]
    list_select_related = ["created_by"]
    list_filter = ["status"]
    search_fields = ["name", "source"]
    readonly_fields = [f.name for f in ImportBatch._meta.fields]
    fieldsets = [
        (None, {"fields": ["name", "status", "source", "created_by"]}),
        ("When", {"fields": ["created_at", "rolled_back_at"]}),
        ("Report", {"fields": ["report"]}),
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(LegacyIdMap)
class LegacyIdMapAdmin(admin.ModelAdmin):
    list_display = ["legacy_table", "legacy_id", "target_model", "target_id", "created", "batch"]
    list_select_related = ["batch"]
    list_filter = ["legacy_table", "target_model", "created"]
    search_fields = ["legacy_id", "target_id"]
    readonly_fields = [f.name for f in LegacyIdMap._meta.fields]
    fieldsets = [
        (None, {"fields": ["batch", "legacy_table", "legacy_id", "created"]}),
        ("Target", {"fields": ["target_model", "target_id", "details"]}),
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
