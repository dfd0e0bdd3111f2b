"""Forms of the finance admin screens: upload, resolve, run, report filters."""

from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from core.money import Currency
from payments.method_templates import MethodType
from payments.models import PaymentMethod
from payments.reconciliation.models import StatementMapping
from payments.reconciliation.presets import preset_choices
from payments.reconciliation.reports import ReportFilters


class StatementUploadForm(forms.Form):
    payment_method = forms.ModelChoiceField(
        label=_("Provider account"), queryset=PaymentMethod.objects.none()
    )
    preset = forms.ChoiceField(label=_("Format"), required=False)
    mapping = forms.ModelChoiceField(
        label=_("…or a saved custom mapping"),
        queryset=StatementMapping.objects.all(),
        required=False,
    )
    year = forms.IntegerField(
        label=_("Year (for dates without one)"), required=False, min_value=2000, max_value=2100
    )
    file = forms.FileField(label=_("Statement file (CSV or XLSX)"))

    def __init__(self, *args: Any, accounts: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["payment_method"].queryset = accounts  # type: ignore[attr-defined]
        self.fields["preset"].choices = [("", "—"), *preset_choices()]  # type: ignore[attr-defined]

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > settings.STATEMENT_MAX_BYTES:
            raise forms.ValidationError(
                _("The file is larger than %(mb)s MB.")
                % {"mb": settings.STATEMENT_MAX_BYTES // (1024 * 1024)}
            )
        return upload

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if bool(data.get("preset")) == bool(data.get("mapping")):
            raise forms.ValidationError(_("Choose a format or a saved mapping (one of them)."))
        return data


class ResolveForm(forms.Form):
    action = forms.ChoiceField(
        label=_("Resolution"),
        choices=[("close", _("Close with a reason")), ("link", _("Link a line to a payment"))],
    )
    line = forms.IntegerField(label=_("Statement line id"), required=False)
    payment = forms.IntegerField(label=_("Payment id"), required=False)
    reason = forms.CharField(label=_("Reason"), max_length=300, widget=forms.Textarea)


class RunForm(forms.Form):
    payment_method = forms.ModelChoiceField(
        label=_("Provider account"), queryset=PaymentMethod.objects.none()
    )

    def __init__(self, *args: Any, accounts: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["payment_method"].queryset = accounts  # type: ignore[attr-defined]


class ReportForm(forms.Form):
    currency = forms.ChoiceField(choices=Currency.choices, initial=Currency.PHP)
    date_from = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    gom = forms.IntegerField(label=_("GOM (user id)"), required=False)
    group_order = forms.IntegerField(label=_("Group order id"), required=False)
    method_type = forms.ChoiceField(
        label=_("Method"), choices=[("", "—"), *MethodType.choices], required=False
    )

    def filters(self) -> ReportFilters:
        data = self.cleaned_data if self.is_valid() else {}
        return ReportFilters(
            currency=data.get("currency") or Currency.PHP,
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
            gom=data.get("gom"),
            group_order=data.get("group_order"),
            method_type=data.get("method_type") or "",
        )
