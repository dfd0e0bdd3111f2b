from django.contrib import admin

from core.admin_scoping import ReadOnlyAdmin
from outbox.models import Message


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    list_display = ("id", "topic", "created_at", "delivered_at", "attempts", "last_error")
    list_filter = ("topic",)
    search_fields = ("key",)
    date_hierarchy = "created_at"
    show_full_result_count = False
