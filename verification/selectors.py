"""Permission-scoped reads of payment proofs.

A proof is visible to the buyer who owns its submission, and to whoever may view the group
order (its GOM, assistants granted it, finance, superusers), by the payments selectors. Anything
else is absent, so "not yours" and "does not exist" are the same 404.
"""

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.models import Count, F, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from accounts.models import User
from core.lookups import AnyOf
from core.prepared import PreparedStatement, execute_by_text
from core.sql_names import column, table
from payments.method_templates import MethodType
from payments.models import (
    GroupOrder,
    GroupOrderGroupObjectPermission,
    GroupOrderUserObjectPermission,
    PaymentMethod,
    Submission,
)
from payments.selectors import (
    FINANCE_PERMISSION,
    Access,
    grouporder_list_for_user,
    submission_list_for_user,
)
from verification.models import (
    AnalysisStatus,
    ConfidenceBand,
    Flag,
    PaymentProof,
    ProofReview,
    ReviewState,
)


def proof_list_for_user(user: Any) -> QuerySet[PaymentProof]:
    """Return the proofs ``user`` may see."""
    if user is None or not user.is_authenticated or not user.is_active:
        return PaymentProof.objects.none()
    staff_scope = submission_list_for_user(user, access=Access.VIEW).values("pk")
    return PaymentProof.objects.filter(
        Q(submission__buyer=user) | Q(submission__in=staff_scope)
    ).select_related("submission", "submission__group_order")


def proof_get_for_user(user: Any, pk: object) -> PaymentProof:
    """Return one proof or raise Http404, whether it is missing or not the user's."""
    try:
        return proof_list_for_user(user).get(pk=pk)
    except (PaymentProof.DoesNotExist, ValueError, TypeError):
        raise Http404("No such proof.") from None


def proof_list_for_submission(submission: Any) -> QuerySet[PaymentProof]:
    """Return a submission's proofs, newest first (the caller has scoped the submission)."""
    return PaymentProof.objects.filter(submission=submission).order_by("-created_at", "-id")


# --- The verification queue (ProofReview rows), scoped like submissions.


def review_list_for_user(user: Any, *, access: Access = Access.VIEW) -> QuerySet[ProofReview]:
    """Return the proof reviews of the group orders ``user`` may act on at ``access``."""
    if user is None or not user.is_authenticated or not user.is_active:
        return ProofReview.objects.none()
    if user.is_superuser or (access == Access.VIEW and user.has_perm(FINANCE_PERMISSION)):
        return ProofReview.objects.all()
    # The ids first, as a literal list: the planner then walks the (group_order, state,
    # queued_at) index instead of guessing how many rows a sub-select returns.
    order_ids = list(grouporder_list_for_user(user, access=access).values_list("pk", flat=True))
    return ProofReview.objects.filter(group_order_id__in=order_ids)


def review_get_for_user(user: Any, pk: object) -> ProofReview:
    """Return one review (by its proof's id) with what the review page shows, or raise Http404."""
    try:
        return (
            review_list_for_user(user)
            .select_related(
                "proof",
                "submission",
                "submission__buyer",
                "submission__payment_method",
                "group_order",
                "decided_by",
                "payment",
            )
            .get(pk=pk)
        )
    except (ProofReview.DoesNotExist, ValueError, TypeError):
        raise Http404("No such proof.") from None


def user_may_verify(user: Any, group_order_id: int) -> bool:
    return grouporder_list_for_user(user, access=Access.VERIFY).filter(pk=group_order_id).exists()


def user_may_verify_any(user: Any) -> bool:
    return grouporder_list_for_user(user, access=Access.VERIFY).exists()


@dataclass(frozen=True)
class QueueFilters:
    """What the queue page (and the API) filter and search on; empty means "any"."""

    group_order: int | None = None
    state: str = ReviewState.AWAITING
    method_type: str = ""
    flag: str = ""
    confidence: str = ""
    suggestion: str = ""
    date_from: date | None = None
    date_to: date | None = None
    search: str = ""

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> "QueueFilters":
        def as_int(value: str | None) -> int | None:
            return int(value) if value and value.isdigit() else None

        def as_date(value: str | None) -> date | None:
            try:
                return date.fromisoformat(value) if value else None
            except ValueError:
                return None

        state = params.get("state", ReviewState.AWAITING)
        return cls(
            group_order=as_int(params.get("group_order")),
            state=state if state in ReviewState.values or state == "all" else ReviewState.AWAITING,
            method_type=params.get("method", "")
            if params.get("method") in MethodType.values
            else "",
            flag=params.get("flag", "") if params.get("flag") in Flag.values else "",
            confidence=(
                params.get("confidence", "")
                if params.get("confidence") in ConfidenceBand.values
                else ""
            ),
            suggestion=(
                params.get("suggestion", "")
                if params.get("suggestion") in ("approve", "review", "none")
                else ""
            ),
            date_from=as_date(params.get("date_from")),
            date_to=as_date(params.get("date_to")),
            search=(params.get("q") or "").strip()[:100],
        )

    def as_params(self) -> dict[str, str]:
        """The query string that gives these filters back (for links: next, pages)."""
        values = {
            "group_order": str(self.group_order) if self.group_order else "",
            "state": self.state if self.state != ReviewState.AWAITING else "",
            "method": self.method_type,
            "flag": self.flag,
            "confidence": self.confidence,
            "suggestion": self.suggestion,
            "date_from": self.date_from.isoformat() if self.date_from else "",
            "date_to": self.date_to.isoformat() if self.date_to else "",
            "q": self.search,
        }
        return {key: value for key, value in values.items() if value}


_CONFIDENCE_BANDS = {
    ConfidenceBand.HIGH: Q(confidence__gte=Decimal("0.70")),
    ConfidenceBand.MEDIUM: Q(confidence__gte=Decimal("0.40"), confidence__lt=Decimal("0.70")),
    ConfidenceBand.LOW: Q(confidence__lt=Decimal("0.40")),
    ConfidenceBand.NONE: Q(confidence__isnull=True),
}


def review_filter(reviews: QuerySet[ProofReview], filters: QueueFilters) -> QuerySet[ProofReview]:
    """Apply the queue's filters and search; each one is backed by an index on ProofReview."""
    if filters.state != "all":
        reviews = reviews.filter(state=filters.state)
    if filters.group_order:
        reviews = reviews.filter(group_order_id=filters.group_order)
    if filters.method_type:
        reviews = reviews.filter(method_type=filters.method_type)
    if filters.flag:
        if connection.vendor == "postgresql":
            reviews = reviews.filter(flags__contains=[filters.flag])  # jsonb @>, GIN index
        else:
            reviews = reviews.filter(flags__icontains=f'"{filters.flag}"')
    if filters.confidence:
        reviews = reviews.filter(_CONFIDENCE_BANDS[ConfidenceBand(filters.confidence)])
    if filters.suggestion:
        reviews = reviews.filter(
            suggestion="" if filters.suggestion == "none" else filters.suggestion
        )
    if filters.date_from:
        reviews = reviews.filter(queued_at__date__gte=filters.date_from)
    if filters.date_to:
        reviews = reviews.filter(queued_at__date__lte=filters.date_to)
    if filters.search:
        term = filters.search
        # Codes and references are matched exactly (b-tree); names and e-mails by substring
        # (trigram GIN indexes on upper(...), which is what icontains compiles to).
        reviews = reviews.filter(
            Q(submission_code=term.upper())
            | Q(reference=term)
            | Q(reference=term.upper())
            | Q(buyer_name__icontains=term)
            | Q(buyer_email__icontains=term)
        )
    return reviews


@dataclass(frozen=True)
class QueueScope:
    """What one user's queue covers, read once a request (one query; see review_queue_scope)."""

    everything: bool  # superuser or finance: every group order, no id list in the query
    orders: list[tuple[int, str]]  # (pk, title) by title: the group order filter's choices
    verify_ids: frozenset[int]  # the orders whose proofs the user may decide
    owners: dict[int, int] = field(default_factory=dict)  # order -> its GOM (the triple match)

    @property
    def order_ids(self) -> list[int]:
        return [pk for pk, _title in self.orders]

    @property
    def may_verify_any(self) -> bool:
        return bool(self.verify_ids)


# The statement's parameters, each given once (in the CTE "me"), in this order.
_SCOPE_PARAMETERS = (
    ("user_id", "bigint"),
    ("superuser", "boolean"),
    ("staff", "boolean"),
    ("order_type", "integer"),
    ("finance_app", "text"),
    ("finance_codename", "text"),
    ("view_codename", "text"),
    ("verify_codename", "text"),
)


@functools.cache
def _scope_statement() -> PreparedStatement:
    me = ", ".join(f"CAST(%s AS {kind}) AS {name}" for name, kind in _SCOPE_PARAMETERS)
    user_groups = table(User.groups.through)
    # Object permissions on group orders (django-guardian's direct tables), the user's own and
    # those of their groups: what grouporder_list_for_user asks guardian for.
    granted = f"""
        SELECT o.content_object_id AS order_id, p.codename
        FROM {table(GroupOrderUserObjectPermission)} o
        JOIN {table(Permission)} p ON p.id = o.permission_id
        WHERE o.user_id = (SELECT user_id FROM me)
          AND p.content_type_id = (SELECT order_type FROM me)
        UNION ALL
        SELECT o.content_object_id, p.codename
        FROM {table(GroupOrderGroupObjectPermission)} o
        JOIN {table(Permission)} p ON p.id = o.permission_id
        JOIN {user_groups} ug ON ug.group_id = o.group_id
        WHERE ug.user_id = (SELECT user_id FROM me)
          AND p.content_type_id = (SELECT order_type FROM me)"""  # noqa: S608
    # Finance's model permission, the user's own or a group's (what ModelBackend.has_perm reads).
    finance = f"""
        SELECT 1 FROM {table(Permission)} p
        JOIN {table(ContentType)} ct ON ct.id = p.content_type_id
        WHERE ct.app_label = (SELECT finance_app FROM me)
          AND p.codename = (SELECT finance_codename FROM me)
          AND (p.id IN (SELECT permission_id FROM {table(User.user_permissions.through)}
                        WHERE user_id = (SELECT user_id FROM me))
               OR p.id IN (SELECT gp.permission_id FROM {table(Group.permissions.through)} gp
                           JOIN {user_groups} ug ON ug.group_id = gp.group_id
                           WHERE ug.user_id = (SELECT user_id FROM me)))"""  # noqa: S608
    sql = f"""
        WITH me AS (SELECT {me}),
             granted AS ({granted}),
             everything AS (SELECT me.superuser OR EXISTS ({finance}) AS yes FROM me)
        SELECT g.id, g.title, g.owner_id, e.yes,
               me.superuser OR g.owner_id = me.user_id
               OR g.id IN (SELECT order_id FROM granted WHERE codename = me.verify_codename)
        FROM {table(GroupOrder)} g CROSS JOIN everything e CROSS JOIN me
        WHERE e.yes OR (me.staff AND (
            g.owner_id = me.user_id
            OR g.id IN (SELECT order_id FROM granted
                        WHERE codename IN (me.view_codename, me.verify_codename))))
        ORDER BY g.title, g.id"""  # noqa: S608 (names from the models; values are parameters)
    # Asked on every load of the queue: PostgreSQL plans it once per connection.
    return PreparedStatement("verification_queue_scope", sql, [k for _n, k in _SCOPE_PARAMETERS])


def review_queue_scope(user: Any) -> QueueScope:
    """Return the group orders ``user``'s queue shows, their titles and which they may decide.

    The rules of ``grouporder_list_for_user`` at VIEW and VERIFY and of the finance permission,
    in one hand-written statement: through the ORM and guardian the queue page spent more on
    compiling these questions (five queries) than on its rows. tests/dashboard hold the two
    answers equal for every persona.
    """
    if user is None or not user.is_authenticated or not user.is_active:
        return QueueScope(everything=False, orders=[], verify_ids=frozenset())
    finance_app, finance_codename = FINANCE_PERMISSION.split(".")
    values = {
        "user_id": user.pk,
        "superuser": bool(user.is_superuser),
        "staff": bool(user.is_staff),
        "order_type": ContentType.objects.get_for_model(GroupOrder).pk,
        "finance_app": finance_app,
        "finance_codename": finance_codename,
        "view_codename": "view_grouporder",
        "verify_codename": "verify_grouporder",
    }
    with connection.cursor() as cursor:
        _scope_statement().execute(cursor, [values[name] for name, _kind in _SCOPE_PARAMETERS])
        rows = cursor.fetchall()
    everything = bool(user.is_superuser) or any(row[3] for row in rows)
    return QueueScope(
        everything=everything,
        orders=[(pk, title) for pk, title, _owner, _all, _verify in rows],
        verify_ids=frozenset(pk for pk, _title, _owner, _all, verify in rows if verify),
        owners={pk: owner for pk, _title, owner, _all, _verify in rows},
    )


# What a queue row shows: (key, model, field) read as plain values by one hand-written
# statement. No model instances and no ORM compilation of the join (building 250 instances cost
# more than the query; each join more made PostgreSQL spend longer planning than running it).
# The group order's title comes from the scope, the decider's name from a second statement
# only when a row was decided.
_QUEUE_COLUMNS: tuple[tuple[str, Any, str], ...] = (
    ("proof_id", ProofReview, "proof"),
    ("submission_id", ProofReview, "submission"),
    ("group_order_id", ProofReview, "group_order"),
    ("state", ProofReview, "state"),
    ("queued_at", ProofReview, "queued_at"),
    ("submission_code", ProofReview, "submission_code"),
    ("buyer_name", ProofReview, "buyer_name"),
    ("buyer_email", ProofReview, "buyer_email"),
    ("currency", ProofReview, "currency"),
    ("reference", ProofReview, "reference"),
    ("confidence", ProofReview, "confidence"),
    ("suggestion", ProofReview, "suggestion"),
    ("flags", ProofReview, "flags"),
    ("fraud_hits", ProofReview, "fraud_hits"),
    ("decided_by_id", ProofReview, "decided_by"),
    ("provider", PaymentProof, "provider"),
    ("amount_read_minor", PaymentProof, "amount_minor"),
    ("proof_flags", PaymentProof, "flags"),
    ("proof_reference", PaymentProof, "reference"),
    ("proof_currency", PaymentProof, "currency"),
    ("amount_due_minor", Submission, "amount_due_minor"),
    ("paid_minor", Submission, "paid_minor"),
    ("submission_status", Submission, "status"),
    ("submission_currency", Submission, "currency"),
    ("method_name", PaymentMethod, "display_name"),
)
_JSON_KEYS = ("flags", "fraud_hits", "proof_flags")


@functools.cache
def _queue_rows_sql() -> str:
    alias = {ProofReview: "r", PaymentProof: "p", Submission: "s", PaymentMethod: "m"}
    columns = ", ".join(column(model, name, alias[model]) for _key, model, name in _QUEUE_COLUMNS)
    review_proof = column(ProofReview, "proof", "r")

    # The submission's latest readable proof: the one the triple match reads its claim from
    # (``verification.triple_match``); in the awaiting queue, the row's own proof.
    def proof(name: str) -> str:
        return column(PaymentProof, name, "p2")

    latest = (
        f"(SELECT p2.id FROM {table(PaymentProof, 'p2')}"  # noqa: S608 (names from the models)
        f" WHERE {proof('submission')} = s.id AND {proof('analysis_status')} = %s"
        f" AND {proof('reference')} <> '' AND {proof('amount_minor')} IS NOT NULL"
        f" ORDER BY {proof('created_at')} DESC, p2.id DESC LIMIT 1)"
    )
    return (
        f"SELECT {columns}, {latest} FROM {table(ProofReview, 'r')}"  # noqa: S608 (names from the models)
        f" JOIN {table(PaymentProof, 'p')} ON p.id = {review_proof}"
        f" JOIN {table(Submission, 's')} ON s.id = {column(ProofReview, 'submission', 'r')}"
        f" LEFT JOIN {table(PaymentMethod, 'm')}"
        f" ON m.id = {column(Submission, 'payment_method', 's')}"
        f" WHERE {review_proof} IN ({{ids}})"
        f" ORDER BY {column(ProofReview, 'queued_at', 'r')} {{direction}},"
        f" {review_proof} {{direction}}"
    )


@functools.lru_cache(maxsize=256)
def _page_ids_sql(
    filters: QueueFilters, order_ids: tuple[int, ...] | None, start: int, stop: int, zone: str
) -> tuple[str, tuple[Any, ...]]:
    """The statement (text and parameters) that selects the ids of one page of the queue.

    ``order_ids`` None means every group order; ``zone`` is the time zone the date filters
    read days in. The ORM makes the same of the same arguments, so each is compiled once per
    process (compiling cost 0.3 ms of a 5 ms page).
    """
    reviews = ProofReview.objects.all()
    if order_ids is not None:
        # The ids as one array, not a sub-select: the planner then walks the index instead of
        # guessing how many rows a sub-select returns, and the text is the same for every user.
        reviews = reviews.filter(AnyOf(F("group_order_id"), list(order_ids)))
    reviews = review_filter(reviews, filters)
    ordering = (
        ("queued_at", "proof_id")
        if filters.state == ReviewState.AWAITING
        else ("-queued_at", "-proof_id")
    )
    sql, params = reviews.order_by(*ordering).values("pk")[start:stop].query.sql_with_params()
    return sql, tuple(params)


def _queue_rows(
    ids_sql: str, ids_params: tuple[Any, ...], *, descending: bool, prepare: bool
) -> list[dict[str, Any]]:
    """The rows whose ids ``ids_sql`` selects, as plain values in display order.

    ``prepare``: the statement's plan does not depend on its values, so it is planned once per
    connection and shape of filters (``execute_by_text``).
    """
    sql = _queue_rows_sql().format(ids=ids_sql, direction="DESC" if descending else "ASC")
    params = [AnalysisStatus.DONE.value, *ids_params]
    with connection.cursor() as cursor:
        if prepare:
            execute_by_text(cursor, "verification_queue_rows", sql, params)
        else:
            cursor.execute(sql, params)
        fetched = cursor.fetchall()
    keys = [key for key, _model, _field in _QUEUE_COLUMNS] + ["claim_proof_id"]
    rows = []
    for values in fetched:
        row = dict(zip(keys, values, strict=True))
        for key in _JSON_KEYS:  # jsonb arrives as text (Django's loader), as on SQLite
            value = row[key]
            if isinstance(value, str):
                row[key] = [] if value == "[]" else json.loads(value)  # mostly none
        if timezone.is_naive(row["queued_at"]):  # SQLite keeps UTC without a zone
            row["queued_at"] = timezone.make_aware(row["queued_at"], UTC)
        rows.append(row)
    return rows


@dataclass
class QueuePage:
    # _QUEUE_COLUMNS of each row in order, with "group_order_title" and "decided_by".
    rows: list[dict[str, Any]]
    number: int
    per_page: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.number > 1


def review_queue_page(
    user: Any,
    filters: QueueFilters,
    *,
    page: int = 1,
    per_page: int = 50,
    scope: QueueScope | None = None,
) -> QueuePage:
    """Return one page of the queue, oldest first, without ever counting the whole table.

    One statement: the page's ids come from the (group order, state, queued_at) index alone in
    a sub-select (skipping earlier pages costs index entries, not joins), the outer query joins
    what those rows show (a second statement names the deciders when a row was decided). One
    extra id is fetched to know whether a next page exists, which is all the pager needs.
    """
    page = max(page, 1)
    scope = scope or review_queue_scope(user)
    if not (scope.everything or scope.orders):  # e.g. a new GOM without a group order yet
        return QueuePage(rows=[], number=page, per_page=per_page, has_next=False)
    start = (page - 1) * per_page
    ids_sql, ids_params = _page_ids_sql(
        filters,
        None if scope.everything else tuple(scope.order_ids),
        start,
        start + per_page + 1,
        timezone.get_current_timezone_name(),
    )
    # Prepared (one plan per shape) only when no other filter than state and group order is
    # set: how many rows a flag, a band or a search keeps depends on its value, and one plan
    # for all values made the flag filter slower than planning it each time.
    plain = filters == QueueFilters(state=filters.state, group_order=filters.group_order)
    rows = _queue_rows(
        ids_sql, ids_params, descending=filters.state != ReviewState.AWAITING, prepare=plain
    )
    titles = dict(scope.orders)
    decider_ids = {row["decided_by_id"] for row in rows if row["decided_by_id"]}
    deciders = (
        {
            pk: full_name or email
            for pk, full_name, email in User.objects.filter(pk__in=decider_ids).values_list(
                "pk", "full_name", "email"
            )
        }
        if decider_ids
        else {}
    )
    for row in rows:
        row["group_order_title"] = titles.get(row["group_order_id"], "")
        row["decided_by"] = deciders.get(row["decided_by_id"], "")
    return QueuePage(
        rows=rows[:per_page], number=page, per_page=per_page, has_next=len(rows) > per_page
    )


def review_next_awaiting(
    user: Any, filters: QueueFilters, *, after: ProofReview | None = None
) -> ProofReview | None:
    """Return the oldest awaiting review in the user's (filtered) queue, after ``after``."""
    reviews = review_filter(
        review_list_for_user(user, access=Access.VIEW),
        QueueFilters(**{**filters.__dict__, "state": ReviewState.AWAITING}),
    )
    if after is not None:
        reviews = reviews.filter(
            Q(queued_at__gt=after.queued_at) | Q(queued_at=after.queued_at, pk__gt=after.pk)
        )
    return reviews.order_by("queued_at", "proof_id").first()


def review_queue_counts(user: Any) -> dict[int, int]:
    """Return how many proofs await a decision per group order the user may see."""
    rows = (
        review_list_for_user(user)
        .filter(state=ReviewState.AWAITING)
        .values("group_order_id")
        .annotate(count=Count("pk"))
        .order_by()
    )
    return {row["group_order_id"]: row["count"] for row in rows}


def review_history_for_submission(submission_id: int) -> QuerySet[ProofReview]:
    """Return every proof review of a submission, newest first (the caller scoped it)."""
    return (
        ProofReview.objects.filter(submission_id=submission_id)
        .select_related("proof", "decided_by")
        .order_by("-queued_at", "-proof_id")
    )
