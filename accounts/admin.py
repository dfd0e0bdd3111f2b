from typing import Any

from axes.admin import AccessAttemptAdmin as AxesAccessAttemptAdmin
from axes.models import AccessAttempt
from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.erasure import ErasureRefused, erase_buyer, erasure_refusal
from accounts.models import User
from core.admin_history import HistoryAdmin


class ErasureForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_(
            "The request this answers, e.g. 'E-mail from the buyer of 2026-11-20, ticket 4411'. "
            "It is kept in the audit log; do not repeat the person's name or address here."
        ),
    )


@admin.register(User)
class UserAdmin(HistoryAdmin, DjangoUserAdmin):
    ordering = ("email",)
    list_display = ("email", "full_name", "is_staff", "is_active", "date_joined", "erased_at")
    list_filter = (
        "is_staff",
        "is_superuser",
        "is_active",
        "groups",
        ("erased_at", admin.EmptyFieldListFilter),
    )
    search_fields = ("email", "full_name")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (_("Person"), {"fields": ("full_name", "phone")}),
        (_("Permissions"), {"fields": ("is_active", "is_staff", "is_superuser", "groups")}),
        (_("Dates"), {"fields": ("last_login", "date_joined", "erased_at")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("email", "full_name", "password1", "password2")}),
    )
    readonly_fields = ("last_login", "date_joined", "erased_at")
    actions = ["erase_selected_buyer"]

    def has_erase_buyer_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("accounts.erase_buyer")

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<path:object_id>/erase/",
                self.admin_site.admin_view(self.erase_view),
                name="accounts_user_erase",
            ),
            *super().get_urls(),
        ]

    @admin.action(permissions=["erase_buyer"], description=_("Erase the buyer's personal data…"))
    def erase_selected_buyer(
        self, request: HttpRequest, queryset: QuerySet[User]
    ) -> HttpResponse | None:
        # One person per request: an erasure answers one buyer's request and asks its reason.
        selected = list(queryset.values_list("pk", flat=True)[:2])
        if len(selected) != 1:
            self.message_user(
                request,
                _("Erase one buyer at a time: select exactly one account."),
                messages.WARNING,
            )
            return None
        return HttpResponseRedirect(reverse("admin:accounts_user_erase", args=[selected[0]]))

    def erase_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Confirm a buyer's erasure with the reason, then carry it out."""
        if not self.has_erase_buyer_permission(request):
            raise PermissionDenied
        user = self.get_object(request, object_id)
        if user is None:
            raise Http404("No such account.")
        change_url = reverse("admin:accounts_user_change", args=[user.pk])
        refusal = erasure_refusal(user)
        form = ErasureForm(request.POST or None)
        if request.method == "POST" and refusal is None and form.is_valid():
            try:
                result = erase_buyer(user, reason=form.cleaned_data["reason"], actor=request.user)
            except ErasureRefused as refused:
                self.message_user(request, refused.message, messages.ERROR)
            else:
                self.message_user(
                    request,
                    _(
                        "User #%(id)s erased: %(submissions)s submissions and %(proofs)s proofs "
                        "scrubbed, their files deleted; every amount is unchanged."
                    )
                    % {"id": user.pk, **result.as_dict()},
                    messages.SUCCESS,
                )
            return HttpResponseRedirect(change_url)
        context: dict[str, Any] = {
            **self.admin_site.each_context(request),
            "title": _("Erase a buyer's personal data"),
            "opts": self.opts,
            "account": user,
            "form": form,
            "refusal": refusal,
            "change_url": change_url,
            "submission_count": user.submissions.count(),
        }
        return TemplateResponse(request, "admin/accounts/user/erase_confirmation.html", context)


# django-axes' own page of login attempts, with its clean-up action mended: axes reads the time
# of "this attempt" from the request, which only its login handling sets, so the action failed
# with a server error. It deletes lockouts, so it asks for the delete right, not just a look.
class AccessAttemptAdmin(AxesAccessAttemptAdmin):
    @admin.action(description=_("Clean up expired attempts"), permissions=["delete"])
    def cleanup_expired_attempts(self, request: HttpRequest, queryset: QuerySet) -> None:
        request.axes_attempt_time = timezone.now()  # type: ignore[attr-defined]
        super().cleanup_expired_attempts(request, queryset)


if admin.site.is_registered(AccessAttempt):  # AXES_ENABLE_ADMIN
    admin.site.unregister(AccessAttempt)
    admin.site.register(AccessAttempt, AccessAttemptAdmin)
