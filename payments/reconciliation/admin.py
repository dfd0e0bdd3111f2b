"""Finance's admin: statements (upload → preview → import, progress), lines, runs, discrepancies,
custom mappings, the finance report and the exports. Views call services and selectors only."""

import uuid
from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Model
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from core.admin_scoping import ReadOnlyAdmin, ScopedAdmin
from core.money import format_money
from payments.models import Payment
from payments.money.selectors import payment_list_for_user
from payments.reconciliation import selectors
from payments.reconciliation.exports import EXPORTS, csv_chunks, xlsx_file
from payments.reconciliation.forms import ReportForm, ResolveForm, RunForm, StatementUploadForm
from payments.reconciliation.importing import (
    PENDING_PREFIX,
    statement_create,
    statement_import,
    statement_import_later,
    statement_preview,
)
from payments.reconciliation.models import (
    Discrepancy,
    ReconciliationRun,
    Statement,
    StatementLine,
    StatementMapping,
    statement_storage,
)
from payments.reconciliation.parsing import StatementFileError
from payments.reconciliation.reports import finance_report
from payments.reconciliation.services import (
    ReconciliationError,
    discrepancy_close,
    discrepancy_link,
    export_record,
)
from payments.selectors import paymentmethod_list_for_user

_SIGNING_SALT = "payments.statement-preview"


def _money(obj: Any, field: str) -> str:
    return format_money(getattr(obj, field), obj.currency)


def _require_reconcile(request: HttpRequest) -> None:
    if not selectors.user_can_reconcile(request.user):
        raise PermissionDenied


@admin.register(Statement)
class StatementAdmin(ScopedAdmin):
    scope_selector = staticmethod(selectors.statement_list_for_user)
    list_display = (
        "file_name",
        "payment_method",
        "status",
        "progress",
        "lines_added",
        "lines_already_present",
        "error_count",
        "created_at",
    )
    list_select_related = ("payment_method",)
    list_filter = ("status", "preset")
    search_fields = ("file_name", "file_sha256")
    readonly_fields = (
        "payment_method",
        "preset",
        "mapping",
        "currency",
        "file_name",
        "file_sha256",
        "status",
        "progress",
        "rows_read",
        "lines_added",
        "lines_already_present",
        "total",
        "period_start",
        "period_end",
        "error_report",
        "failure_reason",
        "uploaded_by",
        "created_at",
        "finished_at",
    )
    fieldsets = (
        (None, {"fields": ("payment_method", "file_name", "preset", "mapping", "status")}),
        (
            _("Import report"),
            {
                "fields": (
                    "progress",
                    "rows_read",
                    "lines_added",
                    "lines_already_present",
                    "total",
                    "period_start",
                    "period_end",
                    "error_report",
                    "failure_reason",
                )
            },
        ),
        (_("Record"), {"fields": ("currency", "file_sha256", "uploaded_by", "created_at")}),
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Statements come in through the upload → preview → confirm screens only.
        return False

    @admin.display(description=_("progress"))
    def progress(self, obj: Statement) -> str:
        return format_html(
            '<progress value="{}" max="100" aria-label="{}"></progress> {}%',
            obj.progress_percent,
            _("import progress"),
            obj.progress_percent,
        )

    @admin.display(description=_("rows with errors"))
    def error_count(self, obj: Statement) -> int:
        return len(obj.error_rows or [])

    @admin.display(description=_("total"))
    def total(self, obj: Statement) -> str:
        return _money(obj, "total_minor")

    @admin.display(description=_("rows not imported"))
    def error_report(self, obj: Statement) -> str:
        if not obj.error_rows:
            return "—"
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                "<li>{} {}: {}</li>",
                ((_("row"), error["row"], error["reason"]) for error in obj.error_rows),
            ),
        )

    def get_urls(self) -> list[Any]:
        wrap = self.admin_site.admin_view
        return [
            path("upload/", wrap(self.upload_view), name="payments_statement_upload"),
            path("confirm/", wrap(self.confirm_view), name="payments_statement_confirm"),
            *super().get_urls(),
        ]

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        extra = {"can_upload": selectors.user_can_reconcile(request.user), **(extra_context or {})}
        return super().changelist_view(request, extra)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        statement = self.get_object(request, object_id)
        busy = statement.status in (Statement.Status.QUEUED, Statement.Status.IMPORTING)
        # The progress bar refreshes the page while the task imports (no script: strict CSP).
        return super().change_view(
            request,
            object_id,
            form_url,
            {"refresh_seconds": 2 if busy else 0, **(extra_context or {})},
        )

    def _accounts(self, request: HttpRequest) -> Any:
        return paymentmethod_list_for_user(request.user).order_by("owner_id", "display_name")

    def upload_view(self, request: HttpRequest) -> HttpResponse:
        _require_reconcile(request)
        form = StatementUploadForm(
            request.POST or None, request.FILES or None, accounts=self._accounts(request)
        )
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "form": form}
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data["file"].read()
            try:
                preview = statement_preview(
                    data=data,
                    file_name=form.cleaned_data["file"].name,
                    payment_method=form.cleaned_data["payment_method"],
                    preset=form.cleaned_data["preset"],
                    mapping=form.cleaned_data["mapping"],
                    year=form.cleaned_data["year"],
                )
            except StatementFileError as error:
                form.add_error("file", str(error))
                return TemplateResponse(request, "admin/payments/statement/upload.html", context)
            # The bytes wait under a random name until confirmed; only the signed token travels.
            pending = statement_storage().save(
                f"{PENDING_PREFIX}{uuid.uuid4().hex}", ContentFile(data)
            )
            token = signing.dumps(
                {
                    "path": pending,
                    "name": form.cleaned_data["file"].name,
                    "account": form.cleaned_data["payment_method"].pk,
                    "preset": form.cleaned_data["preset"],
                    "mapping": form.cleaned_data["mapping"].pk
                    if form.cleaned_data["mapping"]
                    else None,
                    "year": form.cleaned_data["year"],
                    "user": request.user.pk,
                },
                salt=_SIGNING_SALT,
            )
            currency = "PHP" if form.cleaned_data["payment_method"].country == "PH" else "MYR"
            context.update(
                preview=preview,
                token=token,
                currency=currency,
                credit_total=format_money(preview.credit_total_minor, currency),
                debit_total=format_money(preview.debit_total_minor, currency),
                file_name=form.cleaned_data["file"].name,
                account=form.cleaned_data["payment_method"],
                in_background=preview.good_rows > settings.STATEMENT_IMPORT_INLINE_MAX_ROWS,
            )
            return TemplateResponse(request, "admin/payments/statement/preview.html", context)
        return TemplateResponse(request, "admin/payments/statement/upload.html", context)

    def confirm_view(self, request: HttpRequest) -> HttpResponse:
        _require_reconcile(request)
        if request.method != "POST":
            return HttpResponseRedirect(reverse("admin:payments_statement_upload"))
        try:
            pending = signing.loads(request.POST.get("token", ""), salt=_SIGNING_SALT, max_age=3600)
        except signing.BadSignature:
            messages.error(request, _("This preview expired; upload the file again."))
            return HttpResponseRedirect(reverse("admin:payments_statement_upload"))
        if pending["user"] != request.user.pk or not statement_storage().exists(pending["path"]):
            raise Http404("No such preview.")
        account = self._accounts(request).filter(pk=pending["account"]).first()
        if account is None:
            raise Http404("No such account.")
        with statement_storage().open(pending["path"], "rb") as handle:
            data = handle.read()
        mapping = StatementMapping.objects.filter(pk=pending["mapping"]).first()
        with transaction.atomic():
            statement = statement_create(
                actor=request.user,
                payment_method=account,
                data=data,
                file_name=pending["name"],
                preset=pending["preset"],
                mapping=mapping,
            )
            background = data.count(b"\n") > settings.STATEMENT_IMPORT_INLINE_MAX_ROWS
            if background:
                statement_import_later(statement=statement)
        statement_storage().delete(pending["path"])
        if not background:
            statement = statement_import(statement_id=statement.pk, year=pending["year"])
            messages.success(
                request,
                _("%(added)s lines added, %(there)s already there, %(bad)s rows with errors.")
                % {
                    "added": statement.lines_added,
                    "there": statement.lines_already_present,
                    "bad": len(statement.error_rows),
                },
            )
        else:
            messages.info(request, _("The import runs in the background; this page follows it."))
        return HttpResponseRedirect(reverse("admin:payments_statement_change", args=[statement.pk]))


@admin.register(StatementLine)
class StatementLineAdmin(ScopedAdmin, ReadOnlyAdmin):
    scope_selector = staticmethod(selectors.statement_line_list_for_user)
    list_display = (
        "posted_at",
        "payment_method",
        "direction",
        "amount",
        "reference",
        "payer",
        "match_status",
    )
    list_select_related = ("payment_method",)
    list_filter = ("match_status", "direction", "currency")
    # The (payment_method, reference_normalized) index serves exact reference searches.
    search_fields = ("=reference_normalized", "payer")
    readonly_fields = [field.name for field in StatementLine._meta.fields]
    show_full_result_count = False

    @admin.display(description=_("amount"))
    def amount(self, obj: StatementLine) -> str:
        return _money(obj, "amount_minor")


@admin.register(StatementMapping)
class StatementMappingAdmin(admin.ModelAdmin):
    list_display = ("name", "date_column", "date_format", "amount_column", "decimal_style")
    search_fields = ("name",)
    fieldsets = (
        (None, {"fields": ("name", "delimiter", "header_marker")}),
        (
            _("Columns"),
            {
                "fields": (
                    "date_column",
                    "date_format",
                    "amount_column",
                    "debit_column",
                    "credit_column",
                    "reference_column",
                    "payer_column",
                    "description_column",
                    "currency_column",
                    "decimal_style",
                )
            },
        ),
    )

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(Discrepancy)
class DiscrepancyAdmin(ScopedAdmin):
    scope_selector = staticmethod(selectors.discrepancy_list_for_user)
    list_display = (
        "created_at",
        "kind",
        "status",
        "payment_method",
        "amount",
        "line",
        "payment",
        "group_order",
    )
    list_select_related = ("payment_method", "line", "payment", "group_order")
    list_filter = ("status", "kind", "currency")
    search_fields = ("key",)
    readonly_fields = [field.name for field in Discrepancy._meta.fields]
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description=_("amount"))
    def amount(self, obj: Discrepancy) -> str:
        return _money(obj, "amount_minor")

    def get_urls(self) -> list[Any]:
        wrap = self.admin_site.admin_view
        return [
            path(
                "<int:pk>/resolve/",
                wrap(self.resolve_view),
                name="payments_discrepancy_resolve",
            ),
            *super().get_urls(),
        ]

    def resolve_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        _require_reconcile(request)
        discrepancy = self.get_object(request, str(pk))
        form = ResolveForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                if form.cleaned_data["action"] == "close":
                    discrepancy_close(
                        actor=request.user,
                        discrepancy=discrepancy,
                        reason=form.cleaned_data["reason"],
                    )
                else:
                    line = (
                        selectors.statement_line_list_for_user(request.user)
                        .filter(pk=form.cleaned_data["line"])
                        .first()
                    )
                    payment = (
                        payment_list_for_user(request.user)
                        .filter(pk=form.cleaned_data["payment"], status=Payment.Status.RECORDED)
                        .first()
                    )
                    if line is None or payment is None:
                        raise ReconciliationError("Give the id of a statement line and a payment.")
                    discrepancy_link(
                        actor=request.user,
                        discrepancy=discrepancy,
                        line=line,
                        payment=payment,
                        reason=form.cleaned_data["reason"],
                    )
            except ReconciliationError as error:
                form.add_error(None, str(error))
            else:
                messages.success(request, _("Discrepancy resolved."))
                return HttpResponseRedirect(
                    reverse("admin:payments_discrepancy_change", args=[discrepancy.pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": discrepancy,
            "form": form,
            "amount": _money(discrepancy, "amount_minor"),
        }
        return TemplateResponse(request, "admin/payments/discrepancy/resolve.html", context)


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(ScopedAdmin):
    scope_selector = staticmethod(selectors.run_list_for_user)
    list_display = (
        "started_at",
        "payment_method",
        "status",
        "matched",
        "suggested",
        "unmatched",
        "discrepancy_summary",
        "is_alert",
    )
    list_select_related = ("payment_method",)
    list_filter = ("status", "is_alert")
    readonly_fields = [field.name for field in ReconciliationRun._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description=_("open discrepancies"))
    def discrepancy_summary(self, obj: ReconciliationRun) -> str:
        return ", ".join(f"{kind}: {count}" for kind, count in sorted(obj.discrepancies.items()))

    def get_urls(self) -> list[Any]:
        wrap = self.admin_site.admin_view
        return [
            path("run/", wrap(self.run_view), name="payments_reconciliationrun_run"),
            path("report/", wrap(self.report_view), name="payments_finance_report"),
            path(
                "export/<str:kind>.<str:file_format>",
                wrap(self.export_view),
                name="payments_finance_export",
            ),
            *super().get_urls(),
        ]

    def run_view(self, request: HttpRequest) -> HttpResponse:
        _require_reconcile(request)
        form = RunForm(request.POST or None, accounts=paymentmethod_list_for_user(request.user))
        if request.method == "POST" and form.is_valid():
            from payments.reconciliation.tasks import reconcile_account_task

            account_id = form.cleaned_data["payment_method"].pk
            transaction.on_commit(lambda: reconcile_account_task.delay(account_id))
            messages.success(request, _("Reconciliation started; the run appears below."))
            return HttpResponseRedirect(reverse("admin:payments_reconciliationrun_changelist"))
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "form": form}
        return TemplateResponse(request, "admin/payments/reconciliationrun/run.html", context)

    def report_view(self, request: HttpRequest) -> HttpResponse:
        if not request.user.has_perm("payments.view_payment"):
            raise PermissionDenied
        form = ReportForm(request.GET or None)
        filters = form.filters()
        report = finance_report(request.user, filters)
        peak = max((total for _, total in report.daily), default=0)
        bars = [
            {
                "day": day,
                "total": format_money(total, filters.currency),
                "height": round(total * 100 / peak) if peak else 0,
                "y": 100 - (round(total * 100 / peak) if peak else 0),
                "x": index * 14,
            }
            for index, (day, total) in enumerate(report.daily)
        ]
        money = {
            name: format_money(getattr(report, f"{name}_minor"), filters.currency)
            for name in (
                "gross",
                "fees",
                "net",
                "refunds",
                "credit_issued",
                "credit_used",
                "credit_expired",
                "outstanding",
            )
        }
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Finance report"),
            "form": form,
            "report": report,
            "money": money,
            "bars": bars,
            "chart_width": max(14 * len(bars), 14),
            "query": request.GET.urlencode(),
            "can_export": request.user.has_perm("payments.export_finance"),
            "exports": EXPORTS.values(),
        }
        return TemplateResponse(request, "admin/payments/finance_report.html", context)

    def export_view(self, request: HttpRequest, kind: str, file_format: str) -> HttpResponse:
        if not request.user.has_perm("payments.export_finance"):
            raise PermissionDenied
        export = EXPORTS.get(kind)
        if export is None or file_format not in ("csv", "xlsx"):
            raise Http404("No such export.")
        filters = ReportForm(request.GET or None).filters()
        export_record(
            actor=request.user,
            kind=kind,
            file_format=file_format,
            filters=filters.as_dict(),
            row_count=None,
        )
        name = f"gomflow-{kind}-{filters.currency.lower()}.{file_format}"
        if file_format == "csv":
            response = StreamingHttpResponse(
                csv_chunks(export, request.user, filters), content_type="text/csv; charset=utf-8"
            )
            response["Content-Disposition"] = f'attachment; filename="{name}"'
            return response
        return FileResponse(
            xlsx_file(export, request.user, filters),
            as_attachment=True,
            filename=name,
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
