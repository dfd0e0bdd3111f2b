"""Group orders, the GOMs' payment methods, and buyers' submissions with their state machine."""

import secrets
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from core.history import History
from core.money import Currency
from payments.exceptions import InvalidTransition
from payments.method_templates import (
    TEMPLATE_CHOICES,
    Country,
    MethodType,
    PaymentMethodTemplate,
    get_template,
    validate_account_details,
)

COUNTRY_CURRENCY = {Country.PH: Currency.PHP, Country.MY: Currency.MYR}
COUNTRY_TIMEZONE = {Country.PH: "Asia/Manila", Country.MY: "Asia/Kuala_Lumpur"}


class RefundReason(models.TextChoices):
    ITEM_UNAVAILABLE = "item_unavailable", _("Item unavailable or out of stock")
    ORDER_CANCELLED = "order_cancelled", _("Group order cancelled")
    DUPLICATE_PAYMENT = "duplicate_payment", _("Paid twice")
    OVERPAID = "overpaid", _("Paid more than due")
    DAMAGED = "damaged", _("Item arrived damaged")
    CHANGED_MIND = "changed_mind", _("Changed my mind")
    OTHER = "other", _("Other")


def default_refund_reasons() -> list[str]:
    # A buyer changing their mind is not accepted unless the GOM opts in.
    return [reason for reason in RefundReason.values if reason != RefundReason.CHANGED_MIND]


class PaymentTiming(models.TextChoices):
    FULL = "full", _("Full payment")
    DEPOSIT = "deposit", _("Deposit, then the balance")
    INSTALLMENTS = "installments", _("Installments")


class GroupOrder(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        CLOSED = "closed", _("Closed")
        ARCHIVED = "archived", _("Archived")

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("GOM"),
        on_delete=models.PROTECT,
        related_name="group_orders",
    )
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    country = models.CharField(_("country"), max_length=2, choices=Country.choices)
    currency = models.CharField(_("currency"), max_length=3, choices=Currency.choices)
    order_deadline = models.DateTimeField(_("order deadline"))
    payment_deadline = models.DateTimeField(_("payment deadline"))
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.OPEN, db_index=True
    )
    accepted_methods = models.ManyToManyField(
        "PaymentMethod",
        verbose_name=_("accepted payment methods"),
        blank=True,
        related_name="group_orders",
    )
    payment_timing = models.CharField(
        _("payment timing"),
        max_length=16,
        choices=PaymentTiming.choices,
        default=PaymentTiming.FULL,
    )
    deposit_percent = models.PositiveSmallIntegerField(
        _("deposit %"),
        null=True,
        blank=True,
        help_text=_("With a deposit: the share paid now, 1 to 99."),
    )
    installment_count = models.PositiveSmallIntegerField(
        _("number of installments"),
        null=True,
        blank=True,
        help_text=_("With installments: how many parts, 2 to 12."),
    )
    installment_interval_days = models.PositiveSmallIntegerField(
        _("days between installments"),
        default=30,
        help_text=_(
            "With installments: the last part is due on the payment deadline, "
            "each earlier one this many days before the next."
        ),
    )
    # Refund policy: what a buyer's refund request is checked against.
    refunds_accepted_until = models.DateTimeField(
        _("refunds accepted until"),
        null=True,
        blank=True,
        help_text=_("Empty: refunds may be asked for at any time."),
    )
    refundable_percent = models.PositiveSmallIntegerField(
        _("refundable share %"),
        default=100,
        help_text=_("The share of what was paid for a submission that can be refunded."),
    )
    refund_reasons = models.JSONField(
        _("reasons accepted for a refund"),
        default=default_refund_reasons,
        blank=True,
        help_text=_(
            "A list of codes: item_unavailable, order_cancelled, duplicate_payment, overpaid, "
            "damaged, changed_mind, other."
        ),
    )
    # The triple match (payments.reconciliation): approve without a human when the proof, a
    # statement line and the submission all agree. Off unless the GOM opts in.
    auto_approve_statement_confirmed = models.BooleanField(
        _("approve automatically when confirmed by statement"),
        default=False,
        help_text=_(
            "When the proof's reference and amount, a line of an imported statement and the "
            "amount due all agree, the system approves the payment and records why."
        ),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    history = History()

    class Meta:
        ordering = ["-created_at"]
        permissions = [
            ("verify_grouporder", _("Can verify the payments of a group order")),
            ("view_all_orders", _("Can view every group order (finance)")),
            ("export_finance", _("Can export finance reports (finance)")),
            ("reconcile", _("Can import statements and reconcile (finance)")),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(country="PH", currency="PHP") | Q(country="MY", currency="MYR"),
                name="grouporder_currency_matches_country",
            ),
            models.CheckConstraint(
                condition=Q(payment_deadline__gte=models.F("order_deadline")),
                name="grouporder_payment_after_order_deadline",
            ),
            models.CheckConstraint(
                condition=Q(deposit_percent__isnull=True)
                | Q(deposit_percent__gte=1, deposit_percent__lte=99),
                name="grouporder_deposit_percent_range",
            ),
            models.CheckConstraint(
                condition=Q(installment_count__isnull=True)
                | Q(installment_count__gte=2, installment_count__lte=12),
                name="grouporder_installment_count_range",
            ),
            models.CheckConstraint(
                condition=Q(refundable_percent__lte=100), name="grouporder_refundable_percent_max"
            ),
            models.CheckConstraint(
                condition=Q(installment_interval_days__gte=1, installment_interval_days__lte=90),
                name="grouporder_installment_interval_range",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def timezone(self) -> ZoneInfo:
        return ZoneInfo(COUNTRY_TIMEZONE[self.country])

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.country and self.currency and COUNTRY_CURRENCY[self.country] != self.currency:
            errors["currency"] = _("A group order in %(country)s is priced in %(currency)s.") % {
                "country": self.get_country_display(),
                "currency": COUNTRY_CURRENCY[self.country],
            }
        if (
            self.order_deadline
            and self.payment_deadline
            and self.payment_deadline < self.order_deadline
        ):
            errors["payment_deadline"] = _(
                "The payment deadline cannot be before the order deadline."
            )
        if self.payment_timing == PaymentTiming.DEPOSIT and not self.deposit_percent:
            errors["deposit_percent"] = _("Say what share is paid as a deposit.")
        if self.payment_timing == PaymentTiming.INSTALLMENTS and not self.installment_count:
            errors["installment_count"] = _("Say in how many installments buyers pay.")
        reasons = self.refund_reasons
        if not isinstance(reasons, list) or not set(reasons) <= set(RefundReason.values):
            errors["refund_reasons"] = _("A list of reasons among: %(codes)s.") % {
                "codes": ", ".join(RefundReason.values)
            }
        if errors:
            raise ValidationError(errors)


class GroupOrderUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(GroupOrder, on_delete=models.CASCADE)


class GroupOrderGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(GroupOrder, on_delete=models.CASCADE)


class GroupOrderItem(models.Model):
    group_order = models.ForeignKey(GroupOrder, on_delete=models.CASCADE, related_name="items")
    name = models.CharField(_("item"), max_length=200)
    unit_price_minor = models.BigIntegerField(_("unit price (minor units)"))
    is_available = models.BooleanField(_("available"), default=True)
    history = History()

    class Meta:
        ordering = ["group_order", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(unit_price_minor__gt=0), name="grouporderitem_price_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class PaymentMethod(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("GOM"),
        on_delete=models.PROTECT,
        related_name="payment_methods",
    )
    template_code = models.CharField(_("provider"), max_length=32, choices=TEMPLATE_CHOICES)
    method_type = models.CharField(
        _("type"), max_length=16, choices=MethodType.choices, editable=False, db_index=True
    )
    country = models.CharField(_("country"), max_length=2, choices=Country.choices, editable=False)
    display_name = models.CharField(_("display name"), max_length=100)
    account_name = models.CharField(_("account name"), max_length=100, blank=True)
    account_number = models.CharField(_("account number"), max_length=40, blank=True)
    extra_details = models.JSONField(_("other details"), default=dict, blank=True)
    qr_image = models.ImageField(_("QR code"), upload_to="payment-methods/qr/", blank=True)
    instructions = models.TextField(_("instructions"), blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    monthly_limit_minor = models.BigIntegerField(
        _("monthly receiving limit (minor units)"),
        null=True,
        blank=True,
        help_text=_("E-wallets cap what an account may receive per month; leave empty for none."),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    history = History()

    class Meta:
        ordering = ["owner", "display_name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(monthly_limit_minor__isnull=True) | Q(monthly_limit_minor__gt=0),
                name="paymentmethod_limit_positive",
            ),
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def template(self) -> "PaymentMethodTemplate":
        return get_template(self.template_code)

    def clean(self) -> None:
        if not self.template_code:
            return
        template = self.template
        self.method_type = template.method_type
        self.country = template.country
        values = {"account_name": self.account_name, "account_number": self.account_number}
        values.update({k: str(v) for k, v in (self.extra_details or {}).items()})
        cleaned, errors = validate_account_details(template, values)
        if self.qr_image and not template.qr_allowed:
            errors["qr_image"] = str(
                _("%(name)s does not take a QR code.") % {"name": template.name}
            )
        if errors:
            field_names = {"account_name", "account_number", "qr_image"}
            raise ValidationError(
                {
                    name if name in field_names else "extra_details": message
                    for name, message in errors.items()
                }
            )
        self.account_name = cleaned.get("account_name", "")
        self.account_number = cleaned.get("account_number", "")
        self.extra_details = {
            k: v for k, v in cleaned.items() if k not in ("account_name", "account_number")
        }


class SubmissionStatus(models.TextChoices):
    PENDING_PAYMENT = "pending_payment", _("Waiting for payment")
    PROOF_SUBMITTED = "proof_submitted", _("Proof submitted")
    VERIFIED = "verified", _("Verified")
    PARTIALLY_PAID = "partially_paid", _("Partially paid")
    REJECTED = "rejected", _("Rejected")
    EXPIRED = "expired", _("Expired")
    CANCELLED = "cancelled", _("Cancelled")
    PARTIALLY_REFUNDED = "partially_refunded", _("Partially refunded")
    REFUNDED = "refunded", _("Refunded")


_S = SubmissionStatus
# The single source of truth for a submission's life. PRODUCT.md's edges, plus those the money
# core needs: a manual or credit payment can settle a submission that has no proof, a partly paid
# submission takes another proof for the rest, and refunds leave any paid state.
SUBMISSION_TRANSITIONS: dict[str, frozenset[str]] = {
    _S.PENDING_PAYMENT: frozenset(
        {_S.PROOF_SUBMITTED, _S.VERIFIED, _S.PARTIALLY_PAID, _S.EXPIRED, _S.CANCELLED}
    ),
    _S.PROOF_SUBMITTED: frozenset({_S.VERIFIED, _S.PARTIALLY_PAID, _S.REJECTED}),
    _S.REJECTED: frozenset({_S.PROOF_SUBMITTED}),
    # → pending_payment: voiding the only payment of a partly paid submission (payment_void).
    _S.PARTIALLY_PAID: frozenset(
        {_S.PROOF_SUBMITTED, _S.VERIFIED, _S.PARTIALLY_REFUNDED, _S.REFUNDED, _S.PENDING_PAYMENT}
    ),
    # → partially_paid / pending_payment: voiding one or all of the payments that settled it
    # (a bounced transfer, a cash record entered twice), through payment_void with a reason.
    _S.VERIFIED: frozenset(
        {_S.PARTIALLY_REFUNDED, _S.REFUNDED, _S.PARTIALLY_PAID, _S.PENDING_PAYMENT}
    ),
    _S.PARTIALLY_REFUNDED: frozenset({_S.REFUNDED}),
    _S.REFUNDED: frozenset(),
    _S.EXPIRED: frozenset(),
    _S.CANCELLED: frozenset(),
}


def _new_code() -> str:
    # 8 characters from an alphabet without 0/O and 1/I, easy to read aloud and type.
    alphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
    return "".join(secrets.choice(alphabet) for _ in range(8))


class Submission(models.Model):
    Status = SubmissionStatus

    code = models.CharField(
        _("code"), max_length=12, unique=True, default=_new_code, editable=False
    )
    group_order = models.ForeignKey(
        GroupOrder,
        verbose_name=_("group order"),
        on_delete=models.PROTECT,
        related_name="submissions",
    )
    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("buyer"),
        on_delete=models.PROTECT,
        related_name="submissions",
    )
    buyer_name = models.CharField(_("buyer name"), max_length=150)
    buyer_phone = models.CharField(_("buyer phone"), max_length=32, blank=True)
    amount_due_minor = models.BigIntegerField(_("amount due (minor units)"))
    currency = models.CharField(_("currency"), max_length=3, choices=Currency.choices)
    payment_method = models.ForeignKey(
        PaymentMethod,
        verbose_name=_("payment method"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="submissions",
    )
    status = models.CharField(
        _("status"),
        max_length=24,
        choices=SubmissionStatus.choices,
        default=SubmissionStatus.PENDING_PAYMENT,
    )
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("verified by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    verified_at = models.DateTimeField(_("verified at"), null=True, blank=True)
    verification_notes = models.TextField(_("verification notes"), blank=True)
    payment_instructions_sent_at = models.DateTimeField(
        _("payment instructions sent"), null=True, blank=True
    )
    # Kept by the money services under the submission's row lock, equal to the sums of its live
    # allocations and paid refunds; the constraints below make over-allocation impossible.
    paid_minor = models.BigIntegerField(_("paid (minor units)"), default=0)
    refunded_minor = models.BigIntegerField(_("refunded (minor units)"), default=0)
    # Optimistic locking: every state change bumps it, so a form built on an old copy is refused.
    version = models.PositiveIntegerField(_("version"), default=1)
    terms_version = models.CharField(_("terms version"), max_length=32, blank=True)
    terms_accepted_at = models.DateTimeField(_("terms accepted at"), null=True, blank=True)
    terms_accepted_ip = models.GenericIPAddressField(
        _("terms accepted from"), null=True, blank=True
    )
    created_at = models.DateTimeField(_("placed"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    history = History()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["group_order", "status", "created_at"]),
            models.Index(fields=["buyer", "created_at"]),
            models.Index(fields=["status", "created_at"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount_due_minor__gt=0), name="submission_amount_due_positive"
            ),
            models.CheckConstraint(
                condition=Q(paid_minor__gte=0) & Q(paid_minor__lte=models.F("amount_due_minor")),
                name="submission_paid_within_due",
            ),
            models.CheckConstraint(
                condition=Q(refunded_minor__gte=0) & Q(refunded_minor__lte=models.F("paid_minor")),
                name="submission_refunded_within_paid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} · {self.buyer_name}"

    @property
    def audit_label(self) -> str:
        return f"Submission {self.code}"

    @property
    def outstanding_minor(self) -> int:
        """What is still to be paid; refunds do not make a submission payable again."""
        return self.amount_due_minor - self.paid_minor

    def can_transition_to(self, target: str) -> bool:
        return target in SUBMISSION_TRANSITIONS[self.status]

    def apply_transition(self, target: str) -> str:
        """Move to ``target`` in memory and return the old status; raise when the table forbids it.

        Services call this on a row they hold locked, then save it; nothing changes on refusal.
        """
        if not self.can_transition_to(target):
            raise InvalidTransition(self.status, target)
        previous = self.status
        self.status = target
        self.version += 1
        return previous


class SubmissionLine(models.Model):
    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="lines")
    item = models.ForeignKey(
        GroupOrderItem, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # The name and price are copied so later edits of the catalogue never change what was ordered.
    description = models.CharField(_("item"), max_length=200)
    quantity = models.PositiveIntegerField(_("quantity"))
    unit_price_minor = models.BigIntegerField(_("unit price (minor units)"))
    history = History()

    class Meta:
        ordering = ["submission", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gte=1), name="submissionline_quantity_min"
            ),
            models.CheckConstraint(
                condition=Q(unit_price_minor__gt=0), name="submissionline_price_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.description}"

    @property
    def total_minor(self) -> int:
        return self.quantity * self.unit_price_minor


# --- Money: payments that arrived, how they are split, fees, refunds, and idempotency keys.


class FeeRule(models.Model):
    """What a provider charges per payment, in force between two dates (inclusive)."""

    method_type = models.CharField(_("method type"), max_length=16, choices=MethodType.choices)
    currency = models.CharField(_("currency"), max_length=3, choices=Currency.choices)
    percent_basis_points = models.PositiveIntegerField(
        _("percentage (basis points)"), help_text=_("350 = 3.5%.")
    )
    fixed_minor = models.BigIntegerField(_("fixed fee (minor units)"), default=0)
    effective_from = models.DateField(_("effective from"))
    effective_to = models.DateField(_("effective to"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=200, blank=True)
    history = History()

    class Meta:
        ordering = ["method_type", "currency", "-effective_from"]
        indexes = [models.Index(fields=["method_type", "currency", "effective_from"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(percent_basis_points__lte=10_000), name="feerule_percent_max"
            ),
            models.CheckConstraint(condition=Q(fixed_minor__gte=0), name="feerule_fixed_min"),
            models.CheckConstraint(
                condition=Q(effective_to__isnull=True)
                | Q(effective_to__gte=models.F("effective_from")),
                name="feerule_dates_ordered",
            ),
            models.UniqueConstraint(
                fields=["method_type", "currency", "effective_from"],
                name="feerule_one_start_per_method",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_method_type_display()} {self.currency} from {self.effective_from}"

    def clean(self) -> None:
        if not (self.method_type and self.currency and self.effective_from):
            return
        overlapping = FeeRule.objects.filter(
            method_type=self.method_type, currency=self.currency
        ).exclude(pk=self.pk)
        if self.effective_to is not None:
            overlapping = overlapping.filter(effective_from__lte=self.effective_to)
        overlapping = overlapping.filter(
            Q(effective_to__isnull=True) | Q(effective_to__gte=self.effective_from)
        )
        if overlapping.exists():
            raise ValidationError(
                _("Another fee rule for this method is in force during these dates.")
            )


class Payment(models.Model):
    """Money that arrived for a buyer's submissions in one group order."""

    class Source(models.TextChoices):
        PROOF = "proof", _("Verified proof of payment")
        MANUAL = "manual", _("Manual record (cash, offline)")
        WALLET = "wallet", _("Store credit")

    class Status(models.TextChoices):
        RECORDED = "recorded", _("Recorded")
        VOIDED = "voided", _("Voided")

    # Looked up through the (group order, created) and (buyer, created) indexes below.
    group_order = models.ForeignKey(
        GroupOrder,
        verbose_name=_("group order"),
        on_delete=models.PROTECT,
        related_name="payments",
        db_index=False,
    )
    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("buyer"),
        on_delete=models.PROTECT,
        related_name="payments",
        db_index=False,
    )
    currency = models.CharField(_("currency"), max_length=3, choices=Currency.choices)
    amount_minor = models.BigIntegerField(_("amount (minor units)"))
    # Split of the amount: allocated to submissions + turned into credit (overpayment) <= amount.
    allocated_minor = models.BigIntegerField(_("allocated (minor units)"), default=0)
    credited_minor = models.BigIntegerField(_("to credit (minor units)"), default=0)
    # Sum of the refunds that are not rejected; kept under the payment's row lock.
    refund_reserved_minor = models.BigIntegerField(_("refunds (minor units)"), default=0)
    fee_minor = models.BigIntegerField(_("fee (minor units)"), default=0)
    fee_rule = models.ForeignKey(
        FeeRule, on_delete=models.PROTECT, null=True, blank=True, related_name="payments"
    )
    source = models.CharField(_("source"), max_length=16, choices=Source.choices)
    source_reference = models.CharField(
        _("source reference"),
        max_length=100,
        blank=True,
        help_text=_("What recorded it, e.g. the verified proof's id."),
    )
    # Empty for store credit, which goes through no provider.
    method_type = models.CharField(
        _("method type"), max_length=16, choices=MethodType.choices, blank=True
    )
    payment_method = models.ForeignKey(
        PaymentMethod, on_delete=models.PROTECT, null=True, blank=True, related_name="payments"
    )
    reference = models.CharField(_("reference number"), max_length=64, blank=True)
    paid_at = models.DateTimeField(_("paid at"))
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.RECORDED
    )
    idempotency_key = models.CharField(_("idempotency key"), max_length=200, unique=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    void_reason = models.CharField(_("void reason"), max_length=300, blank=True)
    voided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("voided by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    voided_at = models.DateTimeField(_("voided at"), null=True, blank=True)
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)
    history = History()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["group_order", "created_at"]),
            models.Index(fields=["buyer", "created_at"]),
            models.Index(fields=["reference"]),
            # Reconciliation reads the payments paid within a statement's date window.
            models.Index(fields=["paid_at"], name="payment_paid_at_idx"),
            models.Index(fields=["created_at"], name="payment_created_at_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount_minor__gt=0), name="payment_amount_positive"),
            models.CheckConstraint(condition=Q(fee_minor__gte=0), name="payment_fee_not_negative"),
            models.CheckConstraint(
                condition=Q(allocated_minor__gte=0, credited_minor__gte=0)
                & Q(amount_minor__gte=models.F("allocated_minor") + models.F("credited_minor")),
                name="payment_not_below_allocations",
            ),
            models.CheckConstraint(
                condition=Q(refund_reserved_minor__gte=0)
                & Q(refund_reserved_minor__lte=models.F("amount_minor")),
                name="payment_refunds_within_amount",
            ),
        ]

    def __str__(self) -> str:
        return f"Payment #{self.pk} {self.amount_minor} {self.currency}"


class PaymentAllocation(models.Model):
    """The share of a payment that pays one submission; reversed (never deleted) on void."""

    # Looked up through the (payment, submission) unique index below.
    payment = models.ForeignKey(
        Payment, on_delete=models.PROTECT, related_name="allocations", db_index=False
    )
    submission = models.ForeignKey(Submission, on_delete=models.PROTECT, related_name="allocations")
    amount_minor = models.BigIntegerField(_("amount (minor units)"))
    is_reversed = models.BooleanField(_("reversed"), default=False)
    created_at = models.DateTimeField(_("allocated at"), auto_now_add=True)
    reversed_at = models.DateTimeField(_("reversed at"), null=True, blank=True)

    class Meta:
        ordering = ["payment", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount_minor__gt=0), name="allocation_amount_positive"
            ),
            models.UniqueConstraint(
                fields=["payment", "submission"], name="allocation_one_per_submission"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.amount_minor} of payment #{self.payment_id} to {self.submission_id}"


class RefundStatus(models.TextChoices):
    REQUESTED = "requested", _("Requested")
    APPROVED = "approved", _("Approved")
    PAID = "paid", _("Paid")
    REJECTED = "rejected", _("Rejected")


_R = RefundStatus
# A refund's life; an approved payout that cannot be made is rejected, which frees its amount.
REFUND_TRANSITIONS: dict[str, frozenset[str]] = {
    _R.REQUESTED: frozenset({_R.APPROVED, _R.REJECTED}),
    _R.APPROVED: frozenset({_R.PAID, _R.REJECTED}),
    _R.PAID: frozenset(),
    _R.REJECTED: frozenset(),
}


class Refund(models.Model):
    Status = RefundStatus

    class Destination(models.TextChoices):
        WALLET = "wallet", _("Store credit (at once)")
        ORIGINAL_METHOD = "original_method", _("Back to the original payment method")

    # Looked up through the (payment, status) index below.
    payment = models.ForeignKey(
        Payment, on_delete=models.PROTECT, related_name="refunds", db_index=False
    )
    submission = models.ForeignKey(Submission, on_delete=models.PROTECT, related_name="refunds")
    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="refunds"
    )
    currency = models.CharField(_("currency"), max_length=3, choices=Currency.choices)
    amount_minor = models.BigIntegerField(_("amount (minor units)"))
    destination = models.CharField(_("destination"), max_length=16, choices=Destination.choices)
    status = models.CharField(
        _("status"), max_length=16, choices=RefundStatus.choices, default=RefundStatus.REQUESTED
    )
    reason = models.CharField(_("reason"), max_length=24, choices=RefundReason.choices)
    details = models.CharField(_("details"), max_length=500, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    processed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)
    rejection_reason = models.CharField(_("rejection reason"), max_length=300, blank=True)
    payout_reference = models.CharField(_("payout reference"), max_length=64, blank=True)
    credit_grant = models.ForeignKey(
        "wallet.CreditGrant", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    idempotency_key = models.CharField(_("idempotency key"), max_length=200, unique=True)
    created_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    history = History()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "created_at"]),
            models.Index(fields=["payment", "status"]),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount_minor__gt=0), name="refund_amount_positive"),
            models.CheckConstraint(
                condition=~Q(status="paid")
                | ~Q(destination="original_method")
                | ~Q(payout_reference=""),
                name="refund_payout_has_reference",
            ),
        ]

    def __str__(self) -> str:
        return f"Refund #{self.pk} {self.amount_minor} {self.currency}"


class IdempotencyRecord(models.Model):
    """The first answer to an API request made with an ``Idempotency-Key``, kept for replays."""

    # Looked up through the (user, key) unique index below.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    key = models.CharField(_("key"), max_length=200)
    fingerprint = models.CharField(_("request fingerprint"), max_length=64)
    response_status = models.PositiveSmallIntegerField()
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(_("first seen"), auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_per_user"),
        ]

    def __str__(self) -> str:
        return f"{self.key} → {self.response_status}"


# Reconciliation lives in its own module (payments/reconciliation/) but in this app's tables.
from payments.reconciliation.models import (  # noqa: E402, F401
    Discrepancy,
    ReconciliationRun,
    Statement,
    StatementLine,
    StatementMapping,
    StatementMatch,
)
