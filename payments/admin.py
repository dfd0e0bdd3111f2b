from typing import Any

from django.contrib import admin, messages
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.translation import gettext_lazy as _
from guardian.shortcuts import get_users_with_perms

from core.admin_scoping import ScopedAdmin
from core.money import format_money
from payments import selectors, services
from payments.exceptions import PaymentsError
from payments.forms import GrantAccessForm
from payments.models import (
    COUNTRY_CURRENCY,
    GroupOrder,
    GroupOrderItem,
    PaymentMethod,
    Submission,
    SubmissionLine,
)


def _money(obj: Any, field: str) -> str:
    return format_money(getattr(obj, field), obj.currency)


class GroupOrderItemInline(admin.TabularInline):
    model = GroupOrderItem
    extra = 1
    fields = ("name", "unit_price_minor", "is_available")

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(GroupOrder)
class GroupOrderAdmin(ScopedAdmin):
    scope_selector = staticmethod(selectors.grouporder_list_for_user)
    list_display = ("title", "owner", "country", "status", "payment_timing", "payment_deadline")
    list_select_related = ("owner",)
    list_filter = ("status", "country", "payment_timing")
    search_fields = ("title", "owner__email")
    date_hierarchy = "payment_deadline"
    readonly_fields = ("owner", "currency", "created_at")
    inlines = [GroupOrderItemInline]
    filter_horizontal = ("accepted_methods",)
    fieldsets = (
        (None, {"fields": ("title", "description", "owner", "status")}),
        (_("Money"), {"fields": ("country", "currency", "accepted_methods")}),
        (_("Deadlines"), {"fields": ("order_deadline", "payment_deadline")}),
        (
            _("Payment timing"),
            {
                "fields": (
                    "payment_timing",
                    "deposit_percent",
                    "installment_count",
                    "installment_interval_days",
                )
            },
        ),
        (
            _("Refund policy"),
            {"fields": ("refunds_accepted_until", "refundable_percent", "refund_reasons")},
        ),
        # The triple match (payments.reconciliation): off unless the GOM opts in.
        (_("Verification"), {"fields": ("auto_approve_statement_confirmed",)}),
        (_("Record"), {"fields": ("created_at",)}),
    )

    def can_change_object(self, request: HttpRequest, obj: Model) -> bool:
        return (
            selectors.grouporder_list_for_user(request.user, access=selectors.Access.MANAGE)
            .filter(pk=obj.pk)
            .exists()
        )

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "accepted_methods":
            # A GOM may only accept their own methods (a superuser sees all).
            kwargs["queryset"] = (
                selectors.paymentmethod_list_for_user(request.user).filter(owner=request.user)
                if not request.user.is_superuser
                else PaymentMethod.objects.all()
            )
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: GroupOrder, form: Any, change: bool) -> None:
        if not change:
            obj.owner = request.user
        obj.currency = COUNTRY_CURRENCY[obj.country]
        super().save_model(request, obj, form, change)

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change, **kwargs)
        # Model.clean() checks currency against country; the form derives it before validation.
        original_clean = form.clean

        def clean(form_self: Any) -> dict[str, Any]:
            data = original_clean(form_self)
            if data.get("country"):
                form_self.instance.currency = COUNTRY_CURRENCY[data["country"]]
            return data

        form.clean = clean
        return form

    def get_urls(self) -> list[Any]:
        return [
            path(
                "<path:object_id>/access/",
                self.admin_site.admin_view(self.access_view),
                name="payments_grouporder_access",
            ),
            *super().get_urls(),
        ]

    def access_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Let the owner grant or revoke assistants' rights on this one group order."""
        order = selectors.grouporder_get_for_user(
            request.user, object_id, access=selectors.Access.MANAGE
        )
        form = GrantAccessForm(request.POST or None)
        if request.method == "POST":
            try:
                if "revoke" in request.POST:
                    assistant = get_users_with_perms(order).get(pk=request.POST["revoke"])
                    services.grouporder_revoke_access(
                        actor=request.user, group_order=order, assistant=assistant
                    )
                    self.message_user(request, _("Access revoked for %s.") % assistant.email)
                    return HttpResponseRedirect(request.path)
                if form.is_valid():
                    services.grouporder_grant_access(
                        actor=request.user,
                        group_order=order,
                        assistant=form.cleaned_data["email"],
                        level=form.cleaned_data["level"],
                    )
                    self.message_user(
                        request, _("Access granted to %s.") % form.cleaned_data["email"].email
                    )
                    return HttpResponseRedirect(request.path)
            except PaymentsError as error:
                self.message_user(request, str(error), level=messages.ERROR)
        assistants = []
        for user, perms in get_users_with_perms(order, attach_perms=True).items():
            level = "verify" if "verify_grouporder" in perms else "view"
            assistants.append({"user": user, "level": level})
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": order,
            "title": _("Who can work on %s") % order.title,
            "form": form,
            "assistants": assistants,
        }
        return TemplateResponse(request, "admin/payments/grouporder/access.html", context)


@admin.register(PaymentMethod)
class PaymentMethodAdmin(ScopedAdmin):
    scope_selector = staticmethod(selectors.paymentmethod_list_for_user)
    list_display = (
        "display_name",
        "template_code",
        "method_type",
        "account_number",
        "is_active",
        "owner",
    )
    list_select_related = ("owner",)
    list_filter = ("method_type", "country", "is_active")
    search_fields = ("display_name", "account_name", "account_number", "owner__email")
    readonly_fields = ("owner", "method_type", "country", "created_at")
    fieldsets = (
        (None, {"fields": ("display_name", "template_code", "is_active", "owner")}),
        (_("Account"), {"fields": ("account_name", "account_number", "extra_details", "qr_image")}),
        (_("For buyers"), {"fields": ("instructions", "monthly_limit_minor")}),
        (_("Record"), {"fields": ("method_type", "country", "created_at")}),
    )

    def can_change_object(self, request: HttpRequest, obj: Model) -> bool:
        return selectors.user_can_manage_paymentmethod(request.user, obj)  # type: ignore[arg-type]

    def save_model(self, request: HttpRequest, obj: PaymentMethod, form: Any, change: bool) -> None:
        if not change:
            obj.owner = request.user
        super().save_model(request, obj, form, change)


class SubmissionLineInline(admin.TabularInline):
    model = SubmissionLine
    extra = 0
    fields = ("description", "quantity", "unit_price_minor")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(Submission)
class SubmissionAdmin(ScopedAdmin):
    scope_selector = staticmethod(selectors.submission_list_for_user)
    list_display = (
        "code",
        "buyer_name",
        "group_order",
        "amount_due",
        "status",
        "payment_method",
        "created_at",
    )
    # The changelist shows the order and method of every row: join them, never one query per row.
    list_select_related = ("group_order", "payment_method")
    list_filter = ("status", "group_order__country", "payment_method__method_type", "created_at")
    search_fields = ("code", "buyer_name", "buyer__email")
    date_hierarchy = "created_at"
    inlines = [SubmissionLineInline]
    readonly_fields = (
        "code",
        "group_order",
        "buyer",
        "buyer_name",
        "buyer_phone",
        "amount_due",
        "currency",
        "payment_method",
        "status",
        "verified_by",
        "verified_at",
        "verification_notes",
        "payment_instructions_sent_at",
        "version",
        "terms_version",
        "terms_accepted_at",
        "terms_accepted_ip",
        "created_at",
        "updated_at",
    )
    fieldsets = (
        (None, {"fields": ("code", "group_order", "status", "version")}),
        (_("Buyer"), {"fields": ("buyer", "buyer_name", "buyer_phone")}),
        (_("Money"), {"fields": ("amount_due", "currency", "payment_method")}),
        (_("Verification"), {"fields": ("verified_by", "verified_at", "verification_notes")}),
        (
            _("Record"),
            {
                "fields": (
                    "payment_instructions_sent_at",
                    "terms_version",
                    "terms_accepted_at",
                    "terms_accepted_ip",
                    "created_at",
                    "updated_at",
                )
            },
        ),
    )

    @admin.display(description=_("amount due"), ordering="amount_due_minor")
    def amount_due(self, obj: Submission) -> str:
        return _money(obj, "amount_due_minor")

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Buyers place submissions on their pages; the admin never invents one.
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).select_related("group_order", "payment_method")


# The money core's pages (payments, refunds, fee rules, wallet) live in their own module.
from payments import admin_money  # noqa: E402, F401

# Finance's screens (statements, reconciliation, reports, exports) live with their package.
from payments.reconciliation import admin as reconciliation_admin  # noqa: E402, F401
