"""simple-history's admin pages, read-only: past versions may be looked at, never restored.

simple-history's past-version page saves whatever is posted to it after checking only the
*view* permission, so anyone allowed to look at a row could roll it back (a refund's status, a
fee rule, a user's rights). Every change goes through a service that locks, re-checks and
audits; a revert would bypass all of that, so here it is refused for everyone. The page also
answers 404 for an object outside the user's scope, exactly like the change page does.

Models that simple-history does not track keep Django's own history page and get no
past-version page at all (simple-history's would fail on them).
"""

from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.urls import URLPattern
from simple_history.admin import SimpleHistoryAdmin

_READ_METHODS = ("GET", "HEAD")


class HistoryAdmin(SimpleHistoryAdmin):
    """Base of every ModelAdmin whose model may have simple-history's records."""

    def has_tracked_history(self) -> bool:
        return getattr(self.model._meta, "simple_history_manager_attribute", None) is not None

    def get_urls(self) -> list[URLPattern]:
        if self.has_tracked_history():
            return super().get_urls()
        return admin.ModelAdmin.get_urls(self)

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if not self.has_tracked_history():
            return admin.ModelAdmin.history_view(self, request, object_id, extra_context)
        return super().history_view(request, object_id, extra_context)

    def history_form_view(
        self,
        request: HttpRequest,
        object_id: str,
        version_id: str,
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        # The live row decides, like the change page: out of scope or missing is a 404, in scope
        # without the right to look is a 403; the version must then belong to that row.
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404("No such object.")
        if not self.has_view_or_change_permission(request, obj):
            raise PermissionDenied
        if request.method not in _READ_METHODS:
            return HttpResponseNotAllowed(_READ_METHODS)
        return super().history_form_view(request, object_id, version_id, extra_context)

    def revert_disabled(self, request: HttpRequest, obj: Any = None) -> bool:
        return True
