from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from payments.models import GroupOrder, GroupOrderItem, PaymentMethod


class GrantAccessForm(forms.Form):
    email = forms.EmailField(label=_("Assistant's e-mail address"))
    level = forms.ChoiceField(
        label=_("Rights"),
        choices=[("view", _("View payments")), ("verify", _("View and verify payments"))],
    )

    def clean_email(self) -> User:
        email = self.cleaned_data["email"]
        try:
            user = User.objects.get(email__iexact=email, is_active=True)
        except User.DoesNotExist:
            raise forms.ValidationError(_("No active account uses this e-mail address.")) from None
        if not user.is_staff:
            raise forms.ValidationError(
                _("This account is not staff; ask an administrator to make it an assistant.")
            )
        return user


class PlaceSubmissionForm(forms.Form):
    """Quantities per item, the buyer's details, a payment method and the terms."""

    buyer_name = forms.CharField(label=_("Your name"), max_length=150)
    buyer_phone = forms.CharField(
        label=_("Mobile number"),
        max_length=32,
        required=False,
        help_text=_("So the GOM can reach you about this order."),
    )
    payment_method = forms.ModelChoiceField(
        label=_("How will you pay?"),
        queryset=PaymentMethod.objects.none(),
        widget=forms.RadioSelect,
        empty_label=None,
    )
    accept_terms = forms.BooleanField(
        label=_("I accept the terms of this group order."),
        required=True,
        error_messages={"required": _("Accept the terms to place your order.")},
    )

    def __init__(
        self,
        *args: object,
        order: GroupOrder,
        items: list[GroupOrderItem],
        methods: list[PaymentMethod],
        **kwargs: object,
    ) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.items = items
        self.fields["payment_method"].queryset = PaymentMethod.objects.filter(
            pk__in=[method.pk for method in methods]
        )
        for item in items:
            self.fields[f"qty_{item.pk}"] = forms.IntegerField(
                label=item.name,
                min_value=0,
                max_value=99,
                initial=0,
                required=False,
            )

    def item_fields(self) -> list[tuple[GroupOrderItem, forms.BoundField]]:
        return [(item, self[f"qty_{item.pk}"]) for item in self.items]

    def quantities(self) -> dict[int, int]:
        return {
            item.pk: self.cleaned_data.get(f"qty_{item.pk}") or 0
            for item in self.items
            if self.cleaned_data.get(f"qty_{item.pk}")
        }

    def clean(self) -> dict[str, object]:
        data = super().clean()
        if not any(data.get(f"qty_{item.pk}") for item in self.items):
            raise forms.ValidationError(_("Choose at least one item."))
        return data


class RefundRequestForm(forms.Form):
    """A buyer's refund request on one paid submission."""

    amount = forms.CharField(
        label=_("Amount to refund"),
        max_length=20,
        help_text=_("For example 350.00; at most what you paid."),
    )
    reason = forms.ChoiceField(label=_("Why?"))
    destination = forms.ChoiceField(label=_("Refund to"), widget=forms.RadioSelect)
    details = forms.CharField(
        label=_("Anything the GOM should know"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    form_token = forms.CharField(widget=forms.HiddenInput)

    def __init__(
        self,
        *args: object,
        currency: str,
        reasons: list[tuple[str, str]],
        destinations: list[tuple[str, str]],
        **kwargs: object,
    ) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.currency = currency
        self.fields["reason"].choices = reasons
        self.fields["destination"].choices = destinations

    def clean_amount(self) -> int:
        from core.money import MoneyError, parse_amount

        try:
            amount = parse_amount(self.cleaned_data["amount"], self.currency)
        except MoneyError as error:
            raise forms.ValidationError(str(error)) from None
        if amount <= 0:
            raise forms.ValidationError(_("Enter an amount above zero."))
        return amount
