"""Row scoping for admin pages: one mixin so no ModelAdmin re-writes the permission checks.

Django's ``has_*_permission(request, obj)`` ignore ``obj``; here they ask the app's selectors.
An object outside the user's scope is a 404 on every page (change, history, delete), so the
admin never confirms that someone else's object exists.
"""

from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse

from core.admin_history import HistoryAdmin


class ScopedAdmin(HistoryAdmin):
    """Base for every scoped ModelAdmin; subclasses say what a user may see and change."""

    # The selector that says which rows a user may see, e.g. ``submission_list_for_user``.
    scope_selector: Callable[[Any], QuerySet[Any]]

    def scoped_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return type(self).scope_selector(request.user)

    def can_change_object(self, request: HttpRequest, obj: Model) -> bool:
        """Whether the user may edit this row; read-only by default."""
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset = self.scoped_queryset(request)
        ordering = self.get_ordering(request)
        return queryset.order_by(*ordering) if ordering else queryset

    def get_object(
        self, request: HttpRequest, object_id: str, from_field: str | None = None
    ) -> Any:
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404("No such object.")
        return obj

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        # simple-history falls back to the last historical copy when the live row is not in the
        # queryset, which would show another GOM's history; scope first.
        # (A model simple-history does not track gets Django's own page: see HistoryAdmin.)
        self.get_object(request, object_id)
        return super().history_view(request, object_id, extra_context)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        if not super().has_view_permission(request, obj):
            return False
        return obj is None or self.scoped_queryset(request).filter(pk=obj.pk).exists()

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        if not super().has_change_permission(request, obj):
            return False
        return obj is None or self.can_change_object(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        # Money and state rows are never deleted from the admin; they are voided by services.
        return False


class ReadOnlyAdmin(admin.ModelAdmin):
    """For ledgers and logs: viewable by those allowed, never added, changed or deleted."""

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False
