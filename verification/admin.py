"""Admin for payment proofs: read-only, scoped like submissions; files open via the proof view."""

import hashlib
from datetime import timedelta
from decimal import Decimal
from html import escape as esc
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.core.cache import caches
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import escape, format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import get_language

from core.admin_scoping import ScopedAdmin
from core.money import format_money
from core.page_cache import csrf_cookie_digest, page_cacheable
from payments.method_templates import MethodType
from payments.selectors import grouporder_list_for_user
from verification.decisions import (
    DecisionResult,
    submission_approve,
    submission_reject,
    submissions_decide_bulk,
    summarize,
)
from verification.models import (
    ConfidenceBand,
    Flag,
    PaymentProof,
    ProofReview,
    RejectReason,
    ReviewState,
)
from verification.selectors import (
    QueueFilters,
    QueuePage,
    QueueScope,
    proof_list_for_user,
    review_get_for_user,
    review_history_for_submission,
    review_list_for_user,
    review_next_awaiting,
    review_queue_page,
    review_queue_scope,
    user_may_verify,
    user_may_verify_any,
)
from verification.services import expected_amounts
from verification.stats import PERIODS, chart_svg_bars, reason_label, verification_stats
from verification.triple_match import statement_confirmed_queue_rows


@admin.register(PaymentProof)
class PaymentProofAdmin(ScopedAdmin):
    scope_selector = staticmethod(proof_list_for_user)
    list_display = (
        "id",
        "submission",
        "created_at",
        "analysis_status",
        "provider",
        "reference",
        "amount_minor",
        "confidence",
        "suggestion",
        "flag_list",
        "scan_status",
    )
    list_select_related = ("submission",)
    list_filter = ("analysis_status", "suggestion", "provider", "scan_status")
    # Reference and SHA-256 are indexed; they are what a GOM pastes when chasing a duplicate.
    search_fields = ("reference", "sha256", "submission__code")
    ordering = ("-created_at", "-id")
    readonly_fields = [field.name for field in PaymentProof._meta.fields] + [
        "file_link",
        "duplicate_links",
    ]
    fieldsets = (
        (
            "Upload",
            {
                "fields": (
                    "submission",
                    "uploaded_by",
                    "created_at",
                    "file_link",
                    "original_name",
                    "original_type",
                    "content_type",
                    "size_bytes",
                    "sha256",
                    "perceptual_hash",
                    "width",
                    "height",
                    "scan_status",
                    "file_purged_at",
                    "file_purge_reason",
                )
            },
        ),
        (
            "What the agent read",
            {
                "fields": (
                    "analysis_status",
                    "analysis_reason",
                    "provider",
                    "reference",
                    "amount_minor",
                    "currency",
                    "paid_at",
                    "recipient",
                    "confidence",
                    "suggestion",
                    "flags",
                    "duplicate_links",
                    "hints",
                    "duplicate_of",
                    "analyzed_at",
                    "raw_text",
                )
            },
        ),
    )

    def has_add_permission(self, request: object, obj: object = None) -> bool:
        return False

    @admin.display(description="flags")
    def flag_list(self, proof: PaymentProof) -> str:
        return ", ".join(proof.flag_codes)

    @admin.display(description="duplicates")
    def duplicate_links(self, proof: PaymentProof) -> str:
        # Links to the other submission; the admin's own scoping decides whether it opens.
        links = [
            format_html(
                '{}: <a href="{}">{}</a>',
                flag["code"],
                reverse("admin:payments_submission_change", args=[flag["submission"]]),
                flag.get("submission_code", flag["submission"]),
            )
            for flag in proof.flags or []
            if "submission" in flag
        ]
        return format_html_join(", ", "{}", ((link,) for link in links)) if links else "-"

    @admin.display(description="file")
    def file_link(self, proof: PaymentProof) -> str:
        if proof.is_file_purged:
            return proof.purge_notice
        return format_html(
            '<a href="{}" target="_blank" rel="noopener">open proof</a>',
            reverse("verification:proof-file", args=[proof.pk]),
        )


# --- The verification dashboard: queue, review page, bulk decisions, stats.


class ReviewDecisionForm(forms.Form):
    action = forms.ChoiceField(
        choices=[("approve", "Approve"), ("reject", "Reject"), ("reupload", "Ask for a new proof")]
    )
    version = forms.IntegerField(widget=forms.HiddenInput)
    amount = forms.DecimalField(
        label="Amount received",
        required=False,
        min_value=Decimal("0.01"),
        decimal_places=2,
        max_digits=14,
        help_text="Read from the proof; change it when the buyer paid a different amount.",
    )
    reason_code = forms.ChoiceField(
        label="Reason", choices=[("", "—"), *list(RejectReason.choices)], required=False
    )
    reason_text = forms.CharField(
        label="Note to the buyer",
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("action") in ("reject", "reupload") and not (
            data.get("reason_code") or (data.get("reason_text") or "").strip()
        ):
            raise forms.ValidationError("Give a reason: choose one or write a note for the buyer.")
        if data.get("reason_code") == RejectReason.OTHER and not data.get("reason_text"):
            raise forms.ValidationError("With “other”, write a note for the buyer.")
        return data


class BulkConfirmForm(forms.Form):
    action = forms.ChoiceField(choices=[("approve", "Approve"), ("reject", "Reject")])
    reason_code = forms.ChoiceField(
        label="Reason", choices=[("", "—"), *list(RejectReason.choices)], required=False
    )
    reason_text = forms.CharField(label="Note to the buyers", required=False, max_length=500)


def _minor_from_decimal(amount: Decimal) -> int:
    # Both currencies of the product (PHP, MYR) have two decimals.
    return int((amount * 100).to_integral_value())


def _row_links() -> dict[str, str]:
    return {
        "review": reverse("admin:verification_proofreview_change", args=[0]),
        "thumbnail": reverse("verification:proof-thumbnail", args=[0]),
        "submission": reverse("admin:payments_submission_change", args=[0]),
    }


def _link(pattern: str, pk: object) -> str:
    return pattern.replace("/0/", f"/{pk}/", 1)


def _due_minor(state: str, amount_due_minor: int, paid_minor: int) -> int:
    # Awaiting: what is still owed; decided: what the submission was for.
    return amount_due_minor - paid_minor if state == ReviewState.AWAITING else amount_due_minor


def _duplicate_links(
    proof_flags: list[dict[str, Any]] | None, pattern: str
) -> list[dict[str, str]]:
    return [
        {
            "code": flag["code"],
            "url": _link(pattern, flag["submission"]),
            "label": flag.get("submission_code", "") or str(flag["submission"]),
        }
        for flag in proof_flags or []
        if "submission" in flag
    ]


# Lazy labels, turned into text per request (in the request's language).
_STATE_LABELS = dict(ReviewState.choices)


def _render_rows(
    rows: list[dict[str, Any]],
    *,
    may_verify: bool,
    query: str,
    confirmed: set[int],
    links: dict[str, str],
) -> str:
    """Render the queue's rows (``review_queue_page``'s plain values) in Python.

    The template engine costs about a millisecond a row, model instances more than the query
    that reads them. Every value is escaped here (``html.escape``: & < > " '); the result is
    marked safe once.
    """
    now = timezone.now()
    query = esc(query)
    states = {state: esc(str(label)) for state, label in _STATE_LABELS.items()}  # lazy: per request
    out = []
    for row in rows:
        pk, submission_id, state = row["proof_id"], row["submission_id"], row["state"]
        code = esc(row["submission_code"])
        currency = row["currency"]
        select = ""
        if may_verify:
            disabled = "" if state == ReviewState.AWAITING else " disabled"
            select = (
                f'<td><input type="checkbox" name="selected" value="{submission_id}"'
                f' aria-label="Select {code}"{disabled}></td>'
            )
        flags = " ".join(f'<span class="badge flag">{esc(flag)}</span>' for flag in row["flags"])
        if row["fraud_hits"]:
            # The fraud checks' hits, copied onto the row by the fraud app (no extra query).
            rules = ", ".join(esc(hit["rule"]) for hit in row["fraud_hits"])
            flags += f' <span class="badge flag fraud">fraud: {rules}</span>'
        if submission_id in confirmed:
            flags = '<span class="badge ok">confirmed by statement</span> ' + flags
        duplicates = " ".join(
            f'<a href="{esc(d["url"])}">{esc(d["label"])}</a>'
            for d in _duplicate_links(row["proof_flags"], links["submission"])
        )
        due = _due_minor(state, row["amount_due_minor"], row["paid_minor"])
        read_minor = row["amount_read_minor"]
        read = format_money(read_minor, currency) if read_minor is not None else "—"
        # Three places as the field has them, whatever the backend returned (SQLite: a float).
        confidence = row["confidence"]
        if confidence is None:
            confidence = "—"
        else:
            decimal = confidence if isinstance(confidence, Decimal) else Decimal(str(confidence))
            confidence = f"{decimal:.3f}"
        suggestion = (
            ' <span class="badge ok">suggest approve</span>'
            if row["suggestion"] == "approve"
            else ""
        )
        decided = f"<br><small>{esc(row['decided_by'])}</small>" if row["decided_by"] else ""
        amount_class = "amount-ok" if read_minor is not None and read_minor == due else "amount-bad"
        out.append(
            f'<tr class="queue-row" data-submission="{submission_id}" data-code="{code}">{select}'
            f'<td><a href="{esc(_link(links["review"], pk))}?{query}" class="open-proof">'
            f'<img class="thumb" src="{esc(_link(links["thumbnail"], pk))}" alt="Proof of {code}"'
            f' width="48" height="64" loading="lazy"> {code}</a></td>'
            f"<td>{esc(row['buyer_name'])}<br><small>{esc(row['buyer_email'])}</small></td>"
            f"<td>{esc(row['group_order_title'])}</td><td>{esc(format_money(due, currency))}</td>"
            f'<td class="{amount_class}">{esc(read)}</td>'
            f"<td>{esc(row['provider'] or '—')}<br>"
            f"<small>{esc(row['method_name'] or '')}</small></td>"
            f"<td>{esc(row['reference'] or '—')}</td>"
            f"<td>{confidence}{suggestion}</td><td>{flags} {duplicates}</td>"
            f"<td>{esc(_age(now - row['queued_at']))}</td>"
            f"<td>{states.get(state) or esc(state)}{decided}</td></tr>"
        )
    return mark_safe("".join(out))  # noqa: S308 - every value above went through esc()


def _options(choices: list[tuple[Any, str]], selected: object) -> str:
    chosen = str(selected)
    return mark_safe(  # noqa: S308 - values and labels go through escape()
        "".join(
            f'<option value="{escape(str(value))}"'
            f"{' selected' if str(value) == chosen else ''}>{escape(str(label))}</option>"
            for value, label in choices
        )
    )


def _age(age: timedelta) -> str:
    minutes = int(age.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // (24 * 60)} d"


# The queue page's frame (header, filters, pager: everything but the rows) is the same on every
# reload with the same filters, and rendering it through the admin's templates cost more than
# reading the rows. It is kept in each process's memory (CACHES["pages"]) under a key of
# everything it shows; the rows are rendered on every request and put in at the mark.
_ROWS_MARK = "<!--queue-rows-->"
_FRAME_SECONDS = 300


def _frame_key(
    request: HttpRequest, filters: QueueFilters, page: QueuePage, scope: QueueScope
) -> str | None:
    """The cache key of the page's frame, or None when this request's frame must be rendered."""
    if not page_cacheable(request):
        return None
    user = request.user
    shown = (
        user.pk,
        user.get_username(),
        user.get_short_name(),
        user.has_usable_password(),
        get_language(),
        csrf_cookie_digest(request),
        request.META.get("SCRIPT_NAME", ""),
        filters,
        page.number,
        page.per_page,
        page.has_next,
        bool(page.rows),
        tuple(scope.orders),
        scope.may_verify_any,
    )
    return "queue-frame:" + hashlib.sha256(repr(shown).encode()).hexdigest()


def _result_rows(results: list[DecisionResult]) -> list[dict[str, Any]]:
    return [
        {
            "submission_id": result.submission_id,
            "code": result.submission_code,
            "outcome": result.outcome,
            "message": result.message,
            "done": result.is_done,
        }
        for result in results
    ]


@admin.register(ProofReview)
class ProofReviewAdmin(admin.ModelAdmin):
    """The verification queue. Its pages are custom views (get_urls), scoped by the selectors."""

    list_display = ("proof", "submission_code", "buyer_name", "state", "queued_at")
    per_page_choices = (20, 50, 100)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        user = request.user
        if not (user.is_active and user.is_staff):
            return False
        return (
            user.is_superuser
            or user.has_perm("payments.view_submission")
            or grouporder_list_for_user(user).exists()
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path("", wrap(self.queue_view), name="verification_proofreview_changelist"),
            path("bulk/", wrap(self.bulk_view), name="verification_proofreview_bulk"),
            path("stats/", wrap(self.stats_view), name="verification_proofreview_stats"),
            path("next/", wrap(self.next_view), name="verification_proofreview_next"),
            path("<int:proof_id>/", wrap(self.review_view), name="verification_proofreview_change"),
        ]

    def _context(self, request: HttpRequest, **extra: Any) -> dict[str, Any]:
        return {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "app_label": self.model._meta.app_label,
            **extra,
        }

    def _guard(self, request: HttpRequest) -> None:
        if not self.has_view_permission(request):
            raise PermissionDenied

    # The queue -----------------------------------------------------------------------------

    def queue_view(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        scope = review_queue_scope(user)
        # Staff who see an order may see the queue (the scope is only read for the active); the
        # rest are asked has_view_permission, which would read permissions this page need not.
        if not (user.is_staff and (scope.everything or scope.orders)):
            self._guard(request)
        filters = QueueFilters.from_params(request.GET)
        try:
            page_number = int(request.GET.get("page", "1"))
            per_page = int(request.GET.get("per_page", "50"))
        except ValueError:
            page_number, per_page = 1, 50
        per_page = per_page if per_page in self.per_page_choices else 50
        page = review_queue_page(user, filters, page=page_number, per_page=per_page, scope=scope)
        # The triple match: proof, statement line and submission agree (one query a page).
        confirmed = statement_confirmed_queue_rows(page.rows, scope.owners)
        filter_query = urlencode(filters.as_params())
        rows_html = _render_rows(
            page.rows,
            may_verify=scope.may_verify_any,
            query=filter_query,
            confirmed=confirmed,
            links=_row_links(),
        )
        key = _frame_key(request, filters, page, scope)
        frame = caches["pages"].get(key) if key else None
        if frame is None:
            frame = self._render_frame(request, filters, page, scope, filter_query)
            if key:
                caches["pages"].set(key, frame, _FRAME_SECONDS)
        return HttpResponse(frame.replace(_ROWS_MARK, rows_html, 1))

    def _render_frame(
        self,
        request: HttpRequest,
        filters: QueueFilters,
        page: QueuePage,
        scope: QueueScope,
        filter_query: str,
    ) -> str:
        """The queue page around its rows (which stand as ``_ROWS_MARK``)."""
        params = filters.as_params()
        per_page = page.per_page
        response = TemplateResponse(
            request,
            "admin/verification/proofreview/queue.html",
            {
                **self._light_context(request),
                "title": "Verification queue",
                "rows": page.rows,
                "table_rows": mark_safe(_ROWS_MARK),  # noqa: S308 - a constant
                "group_order_options": _options(scope.orders, filters.group_order or ""),
                "state_options": _options([("all", "All"), *ReviewState.choices], filters.state),
                "method_options": _options(MethodType.choices, filters.method_type),
                "flag_options": _options(Flag.choices, filters.flag),
                "band_options": _options(ConfidenceBand.choices, filters.confidence),
                "suggestion_options": _options(
                    [("approve", "Suggest approval"), ("review", "Needs a look"), ("none", "None")],
                    filters.suggestion,
                ),
                "page": page,
                "filters": filters,
                "filter_query": filter_query,
                "prev_query": urlencode({**params, "page": page.number - 1, "per_page": per_page}),
                "next_query": urlencode({**params, "page": page.number + 1, "per_page": per_page}),
                "may_verify": scope.may_verify_any,
                "per_page": per_page,
                "stream_url": reverse("verification:api-queue-stream"),
            },
        )
        return response.render().content.decode()

    def _light_context(self, request: HttpRequest) -> dict[str, Any]:
        """``each_context`` without the app list: the queue page has its own navigation (no
        sidebar), and building the list asks every registered admin for its permissions."""
        site = self.admin_site
        script_name = request.META["SCRIPT_NAME"]
        return {
            "site_title": site.site_title,
            "site_header": site.site_header,
            "site_url": script_name if site.site_url == "/" and script_name else site.site_url,
            "has_permission": site.has_permission(request),
            "available_apps": [],
            "is_popup": False,
            "is_nav_sidebar_enabled": False,
            "opts": self.model._meta,
            "app_label": self.model._meta.app_label,
        }

    @staticmethod
    def _row(review: ProofReview) -> dict[str, Any]:
        """The review page's summary of a proof: amounts, duplicates, age, links."""
        links = _row_links()
        submission, proof = review.submission, review.proof
        due = _due_minor(review.state, submission.amount_due_minor, submission.paid_minor)
        return {
            "review": review,
            "submission": submission,
            "proof": proof,
            "due_minor": due,
            "due": format_money(due, review.currency),
            "read_minor": proof.amount_minor,
            "read": format_money(proof.amount_minor, review.currency)
            if proof.amount_minor is not None
            else "—",
            "amount_matches": proof.amount_minor is not None and proof.amount_minor == due,
            "duplicates": _duplicate_links(proof.flags, links["submission"]),
            "age": _age(timezone.now() - review.queued_at),
            "review_url": _link(links["review"], review.pk),
            "thumbnail_url": _link(links["thumbnail"], review.pk),
        }

    def next_view(self, request: HttpRequest) -> HttpResponse:
        """Open the oldest proof awaiting a decision (with the queue's filters)."""
        self._guard(request)
        filters = QueueFilters.from_params(request.GET)
        after = None
        if request.GET.get("after", "").isdigit():
            after = review_list_for_user(request.user).filter(pk=request.GET["after"]).first()
        review = review_next_awaiting(request.user, filters, after=after)
        if review is None and after is not None:
            review = review_next_awaiting(request.user, filters)
        query = urlencode(filters.as_params())
        if review is None:
            self.message_user(request, "The queue is empty: nothing awaits a decision.")
            return redirect(reverse("admin:verification_proofreview_changelist") + f"?{query}")
        return redirect(
            reverse("admin:verification_proofreview_change", args=[review.pk]) + f"?{query}"
        )

    # The review page ------------------------------------------------------------------------

    def review_view(self, request: HttpRequest, proof_id: int) -> HttpResponse:
        self._guard(request)
        review = review_get_for_user(request.user, proof_id)
        submission = review.submission
        may_verify = user_may_verify(request.user, review.group_order_id)
        filters = QueueFilters.from_params(request.GET)
        query = urlencode(filters.as_params())
        proof = review.proof
        initial_amount = proof.amount_minor or submission.outstanding_minor
        form = ReviewDecisionForm(
            request.POST or None,
            initial={
                "version": submission.version,
                # Always two decimals ("1000.00", "8629.66"): the field and the buyer's
                # receipt say the same, and no exponent form ever reaches the input.
                "amount": Decimal(initial_amount).scaleb(-2),
            },
        )
        if request.method == "POST":
            if not may_verify:
                raise PermissionDenied
            if form.is_valid():
                result = self._decide(request, review, form.cleaned_data)
                if result.is_done:
                    self.message_user(
                        request, f"{submission.code}: {result.message}", messages.SUCCESS
                    )
                    next_url = (
                        reverse("admin:verification_proofreview_next")
                        + "?"
                        + urlencode({**filters.as_params(), "after": review.pk})
                    )
                    return redirect(next_url)
                self.message_user(request, f"{submission.code}: {result.message}", messages.ERROR)
                return redirect(request.get_full_path())
        history = list(review_history_for_submission(submission.pk))
        return TemplateResponse(
            request,
            "admin/verification/proofreview/review.html",
            self._context(
                request,
                title=f"Review {submission.code}",
                review=review,
                submission=submission,
                proof=proof,
                row=self._row(review),
                form=form,
                may_verify=may_verify and review.state == ReviewState.AWAITING,
                earlier=[item for item in history if item.pk != review.pk],
                history=submission.history.select_related("history_user").order_by("-history_date")[
                    :20
                ],
                expected=expected_amounts(submission),
                queue_query=query,
                next_url=reverse("admin:verification_proofreview_next")
                + "?"
                + urlencode({**filters.as_params(), "after": review.pk}),
                reasons=list(RejectReason.choices),
            ),
        )

    @staticmethod
    def _decide(request: HttpRequest, review: ProofReview, data: dict[str, Any]) -> DecisionResult:
        if data["action"] == "approve":
            amount = data.get("amount")
            return submission_approve(
                actor=request.user,
                submission_id=review.submission_id,
                expected_version=data["version"],
                amount_minor=_minor_from_decimal(amount) if amount is not None else None,
            )
        return submission_reject(
            actor=request.user,
            submission_id=review.submission_id,
            expected_version=data["version"],
            reason_code=data.get("reason_code") or "",
            reason_text=data.get("reason_text") or "",
            reupload=data["action"] == "reupload",
        )

    # Bulk ------------------------------------------------------------------------------------

    def bulk_view(self, request: HttpRequest) -> HttpResponse:
        """Confirm (count, total, reason), then decide every selected row and show each result."""
        self._guard(request)
        if request.method != "POST":
            return redirect("admin:verification_proofreview_changelist")
        if not user_may_verify_any(request.user):
            raise PermissionDenied
        ids = [int(pk) for pk in request.POST.getlist("selected") if pk.isdigit()]
        form = BulkConfirmForm(request.POST)
        if not ids or not form.is_valid():
            self.message_user(request, "Choose an action and at least one row.", messages.WARNING)
            return redirect("admin:verification_proofreview_changelist")
        action = form.cleaned_data["action"]
        if request.POST.get("confirmed") == "yes":
            try:
                results = submissions_decide_bulk(
                    actor=request.user,
                    action=action,
                    submission_ids=ids,
                    reason_code=form.cleaned_data["reason_code"],
                    reason_text=form.cleaned_data["reason_text"],
                )
            except ValueError as error:
                form.add_error(None, str(error))
            else:
                counts = summarize(results)
                summary = ", ".join(
                    f"{count} {outcome.replace('_', ' ')}"
                    for outcome, count in sorted(counts.items())
                )
                done = sum(1 for result in results if result.is_done)
                self.message_user(
                    request,
                    f"{done} of {len(results)} decided ({summary}).",
                    messages.SUCCESS if done == len(results) else messages.WARNING,
                )
                return TemplateResponse(
                    request,
                    "admin/verification/proofreview/bulk_results.html",
                    self._context(
                        request,
                        title="Bulk decision: results",
                        results=_result_rows(results),
                        action=action,
                    ),
                )
        reviews = list(
            review_list_for_user(request.user)
            .filter(submission_id__in=ids, state=ReviewState.AWAITING)
            .select_related("submission", "proof")
        )
        totals: dict[str, int] = {}
        for review in reviews:
            amount = review.proof.amount_minor or 0
            totals[review.currency] = totals.get(review.currency, 0) + amount
        return TemplateResponse(
            request,
            "admin/verification/proofreview/bulk_confirm.html",
            self._context(
                request,
                title=f"{'Approve' if action == 'approve' else 'Reject'} {len(ids)} submissions?",
                action=action,
                ids=ids,
                reviews=reviews,
                count=len(ids),
                awaiting=len(reviews),
                totals=[
                    format_money(total, currency) for currency, total in sorted(totals.items())
                ],
                form=form,
                reasons=list(RejectReason.choices),
            ),
        )

    # Stats -----------------------------------------------------------------------------------

    def stats_view(self, request: HttpRequest) -> HttpResponse:
        self._guard(request)
        period = request.GET.get("period", "week")
        period = period if period in PERIODS else "week"
        stats = verification_stats(request.user, period=period)
        today = timezone.localdate()
        charts = [
            {"currency": currency, **chart_svg_bars(days, today=today)}
            for currency, days in sorted(stats["daily_verified"].items())
        ]
        return TemplateResponse(
            request,
            "admin/verification/proofreview/stats.html",
            self._context(
                request,
                title="Verification statistics",
                stats=stats,
                period=period,
                periods=list(PERIODS),
                charts=charts,
                reasons=[
                    (reason_label(code), count)
                    for code, count in stats["rejection_reasons"].items()
                ],
                median=timedelta(seconds=round(stats["median_seconds_to_decision"]))
                if stats["median_seconds_to_decision"] is not None
                else None,
            ),
        )
