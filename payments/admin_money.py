"""Admin pages of the money core: payments, refunds (approve / reject / mark paid), fee rules,
and the wallet's grants and ledger (read-only, with a "grant credit" screen).

The wallet's pages are registered here rather than in wallet/admin.py because who may grant
credit to whom depends on group orders, which the wallet must not import.
"""

import uuid
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from core.admin_history import HistoryAdmin
from core.admin_scoping import ReadOnlyAdmin, ScopedAdmin
from core.money import MoneyError, format_money, parse_amount
from payments.exceptions import PaymentsError
from payments.models import FeeRule, GroupOrder, Payment, PaymentAllocation, Refund, Submission
from payments.money import selectors as money_selectors
from payments.money import services as money
from payments.selectors import Access, grouporder_list_for_user
from wallet import selectors as wallet_selectors
from wallet.exceptions import WalletError
from wallet.models import CreditGrant, WalletEntry
from wallet.services import wallet_grant_credit


def _money(obj: Any, field: str) -> str:
    return format_money(getattr(obj, field), obj.currency)


class AllocationInline(admin.TabularInline):
    model = PaymentAllocation
    extra = 0
    can_delete = False
    fields = ("submission", "amount_minor", "is_reversed", "created_at", "reversed_at")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(Payment)
class PaymentAdmin(ScopedAdmin):
    scope_selector = staticmethod(money_selectors.payment_list_for_user)
    list_display = (
        "id",
        "buyer",
        "group_order",
        "amount",
        "fee",
        "source",
        "method_type",
        "reference",
        "status",
        "paid_at",
    )
    list_select_related = ("buyer", "group_order")
    list_filter = ("status", "source", "method_type", "currency")
    search_fields = ("reference", "buyer__email", "idempotency_key")
    date_hierarchy = "paid_at"
    inlines = [AllocationInline]
    show_full_result_count = False
    fieldsets = (
        (None, {"fields": ("group_order", "buyer", "status", "source", "source_reference")}),
        (
            _("Money"),
            {
                "fields": (
                    "currency",
                    "amount_minor",
                    "allocated_minor",
                    "credited_minor",
                    "refund_reserved_minor",
                    "fee_minor",
                    "fee_rule",
                )
            },
        ),
        (_("Method"), {"fields": ("method_type", "payment_method", "reference", "paid_at")}),
        (
            _("Record"),
            {
                "fields": (
                    "idempotency_key",
                    "recorded_by",
                    "created_at",
                    "void_reason",
                    "voided_by",
                    "voided_at",
                )
            },
        ),
    )
    readonly_fields = tuple(
        name for _title, group in fieldsets for name in group["fields"]
    )  # every field: payments change only through services

    @admin.display(description=_("amount"), ordering="amount_minor")
    def amount(self, obj: Payment) -> str:
        return _money(obj, "amount_minor")

    @admin.display(description=_("fee"), ordering="fee_minor")
    def fee(self, obj: Payment) -> str:
        return _money(obj, "fee_minor")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


class RefundDecisionForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[
            ("approve", _("Approve")),
            ("reject", _("Reject")),
            ("mark_paid", _("Mark paid (payout made)")),
        ]
    )
    rejection_reason = forms.CharField(required=False, max_length=300)
    payout_reference = forms.CharField(required=False, max_length=64)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("decision") == "reject" and not data.get("rejection_reason", "").strip():
            self.add_error("rejection_reason", _("Say why the refund is rejected."))
        if data.get("decision") == "mark_paid" and not data.get("payout_reference", "").strip():
            self.add_error("payout_reference", _("Give the reference of the payout."))
        return data


@admin.register(Refund)
class RefundAdmin(ScopedAdmin):
    scope_selector = staticmethod(money_selectors.refund_list_for_user)
    list_display = (
        "id",
        "buyer",
        "submission",
        "amount",
        "destination",
        "reason",
        "status",
        "created_at",
    )
    list_select_related = ("buyer", "submission")
    list_filter = ("status", "destination", "reason")
    search_fields = ("buyer__email", "submission__code", "payout_reference")
    date_hierarchy = "created_at"
    actions = ["approve_selected"]
    fieldsets = (
        (None, {"fields": ("payment", "submission", "buyer", "status")}),
        (_("Money"), {"fields": ("currency", "amount_minor", "destination", "credit_grant")}),
        (_("Why"), {"fields": ("reason", "details", "rejection_reason")}),
        (
            _("Record"),
            {
                "fields": (
                    "requested_by",
                    "created_at",
                    "processed_by",
                    "processed_at",
                    "payout_reference",
                    "paid_at",
                )
            },
        ),
    )
    readonly_fields = tuple(name for _title, group in fieldsets for name in group["fields"])

    @admin.display(description=_("amount"), ordering="amount_minor")
    def amount(self, obj: Refund) -> str:
        return _money(obj, "amount_minor")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description=_("Approve the selected refunds"), permissions=["change"])
    def approve_selected(self, request: HttpRequest, queryset: QuerySet[Refund]) -> None:
        done, failed = 0, []
        for refund in queryset:
            if not money_selectors.user_can_decide_refund(request.user, refund):
                failed.append(f"#{refund.pk}: {_('you may only view this order')}")
                continue
            try:
                money.refund_approve(actor=request.user, refund=refund)
                done += 1
            except (PaymentsError, WalletError) as error:
                failed.append(f"#{refund.pk}: {error}")
        if done:
            self.message_user(request, _("%d refund(s) approved.") % done)
        if failed:
            self.message_user(
                request, _("Not approved: %s") % "; ".join(failed), level=messages.ERROR
            )

    def get_urls(self) -> list[Any]:
        return [
            path(
                "<path:object_id>/decide/",
                self.admin_site.admin_view(self.decide_view),
                name="payments_refund_decide",
            ),
            *super().get_urls(),
        ]

    def decide_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Approve, reject (with a reason) or mark paid (with the payout reference) one refund."""
        try:
            refund = money_selectors.refund_list_for_user(request.user, access=Access.VERIFY).get(
                pk=object_id
            )
        except (Refund.DoesNotExist, ValueError):
            raise Http404("No such refund.") from None
        form = RefundDecisionForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                if data["decision"] == "approve":
                    money.refund_approve(actor=request.user, refund=refund)
                elif data["decision"] == "reject":
                    money.refund_reject(
                        actor=request.user, refund=refund, reason=data["rejection_reason"]
                    )
                else:
                    money.refund_mark_paid(
                        actor=request.user, refund=refund, payout_reference=data["payout_reference"]
                    )
                self.message_user(request, _("Refund #%d updated.") % refund.pk)
                return HttpResponseRedirect(
                    reverse("admin:payments_refund_change", args=[refund.pk])
                )
            except (PaymentsError, WalletError) as error:
                self.message_user(request, str(error), level=messages.ERROR)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": refund,
            "title": _("Decide on refund #%d") % refund.pk,
            "form": form,
            "amount": _money(refund, "amount_minor"),
        }
        return TemplateResponse(request, "admin/payments/refund/decide.html", context)


@admin.register(FeeRule)
class FeeRuleAdmin(HistoryAdmin):
    list_display = (
        "method_type",
        "currency",
        "percent_basis_points",
        "fixed_minor",
        "effective_from",
        "effective_to",
    )
    list_filter = ("method_type", "currency")
    search_fields = ("note",)
    fieldsets = (
        (None, {"fields": ("method_type", "currency", "note")}),
        (_("Fee"), {"fields": ("percent_basis_points", "fixed_minor")}),
        (_("In force"), {"fields": ("effective_from", "effective_to")}),
    )

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        # Payments point at the rule that priced them; end a rule with effective_to instead.
        return False


class GrantCreditForm(forms.Form):
    group_order = forms.ModelChoiceField(queryset=GroupOrder.objects.none())
    buyer_email = forms.EmailField(label=_("Buyer's e-mail address"))
    amount = forms.CharField(label=_("Amount"), help_text=_("For example 250.00"))
    kind = forms.ChoiceField(
        choices=[
            (CreditGrant.Kind.GOODWILL, CreditGrant.Kind.GOODWILL.label),
            (CreditGrant.Kind.PROMO, CreditGrant.Kind.PROMO.label),
        ]
    )
    expires_at = forms.DateTimeField(required=False, help_text=_("Empty: never expires."))
    reason = forms.CharField(max_length=300, help_text=_("Required: why the credit is given."))

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["group_order"].queryset = grouporder_list_for_user(user, access=Access.MANAGE)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        order = data.get("group_order")
        if order is None:
            return data
        try:
            data["amount_minor"] = parse_amount(data.get("amount", ""), order.currency)
        except MoneyError as error:
            self.add_error("amount", str(error))
        email = data.get("buyer_email", "")
        buyer = User.objects.filter(email__iexact=email).first()
        # A GOM grants credit only to buyers who ordered from that group order.
        if buyer is None or not Submission.objects.filter(group_order=order, buyer=buyer).exists():
            self.add_error("buyer_email", _("No buyer with this e-mail ordered in this order."))
        data["buyer"] = buyer
        if not data.get("reason", "").strip():
            self.add_error("reason", _("Say why this credit is given."))
        return data


class _ScopedReadOnly(ReadOnlyAdmin):
    """A read-only page whose rows come from a selector, like ScopedAdmin."""

    scope_selector: Any

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return type(self).scope_selector(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        if not super().has_view_permission(request, obj):
            return False
        return obj is None or self.get_queryset(request).filter(pk=obj.pk).exists()

    def get_object(
        self, request: HttpRequest, object_id: str, from_field: str | None = None
    ) -> Any:
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404("No such object.")
        return obj


@admin.register(CreditGrant)
class CreditGrantAdmin(_ScopedReadOnly):
    scope_selector = staticmethod(wallet_selectors.creditgrant_list_for_user)
    list_display = (
        "id",
        "buyer",
        "kind",
        "amount",
        "remaining",
        "status",
        "expires_at",
        "granted_by",
        "created_at",
    )
    list_select_related = ("buyer", "granted_by")
    list_filter = ("status", "kind", "currency")
    search_fields = ("buyer__email", "description", "source_id")
    date_hierarchy = "created_at"
    change_list_template = "admin/wallet/creditgrant/change_list.html"

    @admin.display(description=_("amount"), ordering="amount_minor")
    def amount(self, obj: CreditGrant) -> str:
        return _money(obj, "amount_minor")

    @admin.display(description=_("remaining"), ordering="remaining_minor")
    def remaining(self, obj: CreditGrant) -> str:
        return _money(obj, "remaining_minor")

    def get_urls(self) -> list[Any]:
        return [
            path(
                "grant/",
                self.admin_site.admin_view(self.grant_view),
                name="wallet_creditgrant_grant",
            ),
            *super().get_urls(),
        ]

    def grant_view(self, request: HttpRequest) -> HttpResponse:
        """Grant goodwill or promo credit, with a required reason, to a buyer of your order."""
        if not request.user.has_perm("wallet.add_creditgrant"):
            raise Http404("No such page.")
        form = GrantCreditForm(request.POST or None, user=request.user)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            order = data["group_order"]
            try:
                grant = wallet_grant_credit(
                    actor=request.user,
                    buyer=data["buyer"],
                    issuer=order.owner,
                    currency=order.currency,
                    amount_minor=data["amount_minor"],
                    kind=data["kind"],
                    description=data["reason"],
                    expires_at=data.get("expires_at"),
                    source_type="payments.grouporder",
                    source_id=str(order.pk),
                    # A form post has no client key; the page's token stops double submits.
                    idempotency_key=request.POST.get("form_token") or uuid.uuid4().hex,
                )
            except WalletError as error:
                self.message_user(request, str(error), level=messages.ERROR)
            else:
                self.message_user(
                    request,
                    _("Granted %(amount)s to %(buyer)s.")
                    % {"amount": _money(grant, "amount_minor"), "buyer": data["buyer"].email},
                )
                return HttpResponseRedirect(reverse("admin:wallet_creditgrant_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Grant credit"),
            "form": form,
            "form_token": request.POST.get("form_token") or uuid.uuid4().hex,
        }
        return TemplateResponse(request, "admin/wallet/creditgrant/grant.html", context)


@admin.register(WalletEntry)
class WalletEntryAdmin(_ScopedReadOnly):
    scope_selector = staticmethod(wallet_selectors.walletentry_list_for_user)
    list_display = (
        "created_at",
        "wallet",
        "kind",
        "amount_minor",
        "balance_after_minor",
        "reason",
        "created_by",
    )
    list_select_related = ("wallet__buyer", "wallet__issuer", "created_by")
    list_filter = ("kind", "currency")
    search_fields = ("wallet__buyer__email", "operation_key", "source_id")
    date_hierarchy = "created_at"
    # The ledger only grows; an exact total would count it on every page.
    show_full_result_count = False
