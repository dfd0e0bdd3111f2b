"""The import plan: every legacy row becomes "create", "link to an existing object", "already
imported" or "unimportable (why)", decided before anything is written.

The dry run prints the plan's report; the real run builds the same plan inside its transaction
and applies it, so what is imported is exactly what the dry run announced. Each legacy table has
one mapper; adding a table is one more class in ``legacy.services._mappers`` with ``plan`` and
the two grouping functions validation uses (docs/legacy-import.md). Most rows are bulk inserted;
money goes through the money services (a Row with ``perform``), never around them.
"""

from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

from django.apps import apps
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.utils import timezone

from legacy.mapping import (
    COUNTRY_OF_CURRENCY,
    PROOF_AWAITING_REVIEW,
    Unmappable,
    amount_minor,
    map_method_type,
    map_payment_method,
    map_proof_status,
    map_submission_status,
    normalize_currency,
    normalize_email,
    placeholder_email,
    source_minor,
)
from legacy.proof_files import FetchedFile
from legacy.source import SourceData
from payments.method_templates import get_template
from payments.models import SubmissionStatus


@dataclass(frozen=True)
class Ref:
    """One target object a legacy row maps to, before it has a primary key."""

    legacy_table: str
    legacy_id: str
    model: str


@dataclass
class Row:
    """A planned write: create ``ref`` from ``values`` or link ``ref`` to ``link_to``."""

    ref: Ref
    values: dict[str, Any] = field(default_factory=dict)
    link_to: "Ref | str | None" = None
    details: dict[str, Any] = field(default_factory=dict)
    overrides: dict[str, Any] = field(default_factory=dict)
    mapped: bool = True  # False for join rows (group membership, accepted methods) that cascade
    # Objects written through a service (payments, proofs) instead of a bulk insert: called with
    # ``resolve`` (Ref → pk) and the actor; returns the objects created, the first being ``ref``'s.
    perform: "Callable[[Callable[[Any], Any], Any], list[Any]] | None" = None
    also_creates: tuple[str, ...] = ()  # models ``perform`` creates besides ``ref``'s (report)

    @property
    def creates(self) -> bool:
        return self.link_to is None


@dataclass(frozen=True)
class Problem:
    table: str
    legacy_id: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"table": self.table, "id": self.legacy_id, "reason": self.message}


@dataclass
class TableCounts:
    source_rows: int = 0
    create: int = 0
    link: int = 0
    already_imported: int = 0
    unimportable: int = 0


Facts = dict[str, dict[str, int]]


class Plan:
    """What one run would do; also the lookups mappers share (ids already mapped, e-mails)."""

    def __init__(
        self,
        existing_maps: dict[tuple[str, str, str], str],
        accounts_by_email: dict[str, str],
        gom_group_id: int,
        existing_methods: dict[tuple[int, str, str], int],
        fetched: "dict[str, FetchedFile] | None" = None,
    ) -> None:
        self.rows: list[Row] = []
        # Proof files fetched before the transaction (legacy proof id → file or why missing).
        self.fetched: dict[str, FetchedFile] = fetched or {}
        # Run after every planned object exists (restoring legacy times the services overwrote).
        self.finishers: list[Callable[[Callable[[Any], Any]], None]] = []
        # Proof files written into the proof storage by this run: removed again if it fails.
        self.stored_files: list[str] = []
        self.existing_maps = existing_maps
        # E-mail → the account it belongs to: an existing one (its pk) or one planned here (Ref).
        self.accounts_by_email: dict[str, Ref | str] = dict(accounts_by_email)
        self.gom_group_id = gom_group_id
        # (owner pk, template code, account number) → pk of a payment method already in place.
        self.existing_methods = existing_methods
        self.planned: dict[Ref, Row] = {}
        self.unimportable: list[Problem] = []
        self.warnings: list[Problem] = []
        self.counts: dict[str, TableCounts] = defaultdict(TableCounts)
        self.unimportable_rows: dict[str, list[dict[str, Any]]] = defaultdict(list)

    def existing(self, ref: Ref) -> str | None:
        return self.existing_maps.get((ref.legacy_table, ref.legacy_id, ref.model))

    def knows(self, ref: Ref) -> bool:
        return ref in self.planned or self.existing(ref) is not None

    def add(self, row: Row) -> None:
        self.rows.append(row)
        if row.mapped:
            self.planned[row.ref] = row

    def identity(self, ref: Ref | str) -> Hashable:
        """The object a reference ends at: a planned Ref, or ``("id", model, pk)``."""
        seen = 0
        while isinstance(ref, Ref):
            existing = self.existing(ref)
            if existing is not None:
                return ("id", ref.model, existing)
            row = self.planned.get(ref)
            if row is None or row.link_to is None:
                return ref
            if isinstance(row.link_to, str):
                return ("id", ref.model, row.link_to)
            ref = row.link_to
            seen += 1
            if seen > 10:
                raise RuntimeError(f"link cycle at {ref}")
        return ref

    def refuse(self, table: str, row: dict[str, Any], message: str) -> None:
        self.unimportable.append(Problem(table, str(row.get("id")), message))
        self.counts[table].unimportable += 1
        self.unimportable_rows[table].append(row)

    def warn(self, table: str, legacy_id: str, message: str) -> None:
        self.warnings.append(Problem(table, legacy_id, message))


class Mapper(ABC):
    """One legacy table: plan its rows, and group source and target rows for validation."""

    legacy_table: ClassVar[str]
    # Every legacy table whose rows this mapper maps (validation counts them together).
    legacy_tables: ClassVar[tuple[str, ...]]
    # The model whose rows stand for the legacy rows in validation.
    primary_model: ClassVar[str]

    @abstractmethod
    def plan(self, source: SourceData, plan: Plan) -> None:
        """Add a Row, a refusal or an "already imported" count for every legacy row."""

    def source_rows(self, source: SourceData) -> list[dict[str, Any]]:
        return source[self.legacy_table]

    def source_group(self, row: dict[str, Any]) -> tuple[str, int]:
        """(group key, amount in minor units) of a legacy row, for the report and validation."""
        return self.legacy_table, 0

    def target_facts(self, target_ids: list[str]) -> Facts:
        return {self.legacy_table: {"rows": len(target_ids), "amount_minor": 0}}

    def validation_facts(self) -> Facts:
        """What the target holds for every legacy row mapped so far (all batches)."""
        from legacy.models import LegacyIdMap

        target_ids = list(
            LegacyIdMap.objects.filter(
                legacy_table__in=self.legacy_tables, target_model=self.primary_model
            ).values_list("target_id", flat=True)
        )
        return self.target_facts(target_ids)


def facts_of(groups: Iterable[tuple[str, int]]) -> Facts:
    facts: Facts = {}
    for key, amount in groups:
        entry = facts.setdefault(key, {"rows": 0, "amount_minor": 0})
        entry["rows"] += 1
        entry["amount_minor"] += amount
    return dict(sorted(facts.items()))


def _when(value: Any) -> datetime | None:
    return value if isinstance(value, datetime) else None


class UserMapper(Mapper):
    """Legacy ``users`` are the GOMs: staff accounts in the GOM group, without a password."""

    legacy_table = "users"
    legacy_tables = ("users",)
    primary_model = "accounts.User"

    def plan(self, source: SourceData, plan: Plan) -> None:
        for row in source["users"]:
            legacy_id = str(row["id"])
            ref = Ref("users", legacy_id, "accounts.User")
            plan.counts["users"].source_rows += 1
            if plan.existing(ref) is not None:
                plan.counts["users"].already_imported += 1
                continue
            email = normalize_email(row.get("email"))
            if email is None:
                email = placeholder_email("gom", legacy_id)
                plan.warn(
                    "users",
                    legacy_id,
                    f"no usable e-mail ({row.get('email')!r}): imported as {email}, which "
                    "cannot claim the account until an operator sets a real address",
                )
            details = {
                key: row.get(key) for key in ("username", "timezone", "country") if row.get(key)
            }
            account = plan.accounts_by_email.get(email)
            if isinstance(account, str):
                plan.add(Row(ref, link_to=account, details=details))
                plan.counts["users"].link += 1
                plan.warn("users", legacy_id, f"linked to the existing account {email}")
            elif account is not None:
                plan.add(Row(ref, link_to=account, details=details))
                plan.counts["users"].link += 1
                plan.warn(
                    "users",
                    legacy_id,
                    f"same e-mail as {account.legacy_table}/{account.legacy_id}: one account",
                )
            else:
                plan.accounts_by_email[email] = ref
                plan.add(_new_user(ref, email, row, is_staff=True, details=details))
                plan.add(
                    Row(
                        Ref("users", legacy_id, "accounts.User.groups"),
                        values={"user_id": ref, "group_id": plan.gom_group_id},
                        mapped=False,
                    )
                )
                plan.counts["users"].create += 1


def _new_user(
    ref: Ref, email: str, row: dict[str, Any], *, is_staff: bool, details: dict[str, Any]
) -> Row:
    full_name = str(row.get("name") or row.get("buyer_name") or row.get("username") or "")
    phone = str(row.get("phone") or row.get("buyer_phone") or "")
    return Row(
        ref,
        values={
            "email": email,
            "full_name": full_name.strip()[:150],
            "phone": phone.strip()[:32],
            "is_staff": is_staff,
            # No legacy password is carried: the account is claimed through an e-mailed link.
            "password": make_password(None),
            "is_active": True,
        },
        overrides={"date_joined": _when(row.get("created_at"))} if row.get("created_at") else {},
        details=details,
    )


def _gom_country(source: SourceData) -> dict[str, str | None]:
    """Each GOM's country: their own field, else the one currency all their orders use."""
    currencies: dict[str, set[str]] = defaultdict(set)
    for order in source["orders"]:
        currency = str(order.get("currency") or "").upper()
        if currency in COUNTRY_OF_CURRENCY:
            currencies[str(order.get("user_id"))].add(COUNTRY_OF_CURRENCY[currency])
    countries: dict[str, str | None] = {}
    for user in source["users"]:
        own = str(user.get("country") or "").strip().upper()
        found = currencies.get(str(user["id"]), set())
        countries[str(user["id"])] = (
            own if own in ("PH", "MY") else (next(iter(found)) if len(found) == 1 else None)
        )
    return countries


class PaymentMethodMapper(Mapper):
    """``payment_methods`` rows first, then each order's JSONB methods; one method per GOM,
    provider and account number; anything that fits no template is reported, never guessed."""

    legacy_table = "payment_methods"
    jsonb_table = "orders.payment_methods"
    legacy_tables = ("payment_methods", "orders.payment_methods")
    primary_model = "payments.PaymentMethod"

    def plan(self, source: SourceData, plan: Plan) -> None:
        countries = _gom_country(source)
        self.dedup: dict[tuple[Hashable, str, str], Ref] = {}
        for row in source["payment_methods"]:
            raw = dict(row)
            if raw.get("bank_name") and str(raw.get("method_type", "")).lower() in ("bank", ""):
                raw["method_type"] = raw["bank_name"]
            self._plan_one(
                plan,
                self.legacy_table,
                str(row["id"]),
                str(row.get("user_id")),
                countries.get(str(row.get("user_id"))),
                raw,
                row,
                is_active=bool(row.get("is_active", True)),
            )
        for order in source["orders"]:
            methods = order.get("payment_methods")
            if methods in (None, "", []):
                continue
            currency = str(order.get("currency") or "").upper()
            country = COUNTRY_OF_CURRENCY.get(currency) or countries.get(str(order.get("user_id")))
            entries = methods if isinstance(methods, list) else [methods]
            for index, entry in enumerate(entries):
                legacy_id = f"{order['id']}#{index}"
                self._plan_one(
                    plan,
                    self.jsonb_table,
                    legacy_id,
                    str(order.get("user_id")),
                    country,
                    entry,
                    {"id": legacy_id, "order_id": order["id"], "method": entry},
                    is_active=True,
                )

    def source_rows(self, source: SourceData) -> list[dict[str, Any]]:
        rows = list(source["payment_methods"])
        for order in source["orders"]:
            methods = order.get("payment_methods")
            if methods in (None, "", []):
                continue
            for index, _entry in enumerate(methods if isinstance(methods, list) else [methods]):
                rows.append({"id": f"{order['id']}#{index}"})
        return rows

    def source_group(self, row: dict[str, Any]) -> tuple[str, int]:
        return "methods", 0

    def target_facts(self, target_ids: list[str]) -> Facts:
        return {"methods": {"rows": len(target_ids), "amount_minor": 0}}

    def _plan_one(
        self,
        plan: Plan,
        table: str,
        legacy_id: str,
        owner_legacy_id: str,
        country: str | None,
        raw: Any,
        report_row: dict[str, Any],
        *,
        is_active: bool,
    ) -> None:
        ref = Ref(table, legacy_id, "payments.PaymentMethod")
        plan.counts[table].source_rows += 1
        if plan.existing(ref) is not None:
            plan.counts[table].already_imported += 1
            return
        owner = Ref("users", owner_legacy_id, "accounts.User")
        if not plan.knows(owner):
            plan.refuse(table, report_row, f"its GOM users/{owner_legacy_id} is not imported")
            return
        try:
            mapped = map_payment_method(raw, country)
        except Unmappable as error:
            plan.refuse(table, report_row, f"payment method not mapped: {error}")
            return
        owner_identity = plan.identity(owner)
        key = (owner_identity, mapped.template_code, mapped.account_number)
        details = {"qr_code_url": mapped.qr_code_url} if mapped.qr_code_url else {}
        existing_id = None
        if isinstance(owner_identity, tuple):
            existing_id = plan.existing_methods.get(
                (int(owner_identity[2]), mapped.template_code, mapped.account_number)
            )
        if key in self.dedup:
            plan.add(Row(ref, link_to=self.dedup[key], details=details))
            plan.counts[table].link += 1
        elif existing_id is not None:
            plan.add(Row(ref, link_to=str(existing_id), details=details))
            self.dedup[key] = ref
            plan.counts[table].link += 1
        else:
            template = mapped.template_code
            plan.add(
                Row(
                    ref,
                    values={
                        "owner_id": owner,
                        "template_code": template,
                        "method_type": get_template(template).method_type,
                        "country": get_template(template).country,
                        "display_name": mapped.display_name,
                        "account_name": mapped.account_name,
                        "account_number": mapped.account_number,
                        "extra_details": mapped.extra_details,
                        "instructions": str(report_row.get("instructions") or "")
                        if table == self.legacy_table
                        else "",
                        "is_active": is_active,
                    },
                    details=details,
                )
            )
            self.dedup[key] = ref
            plan.counts[table].create += 1
        if mapped.qr_code_url:
            plan.warn(
                table, legacy_id, f"QR image not fetched; its URL is kept: {mapped.qr_code_url}"
            )


class OrderMapper(Mapper):
    """``orders`` → a group order with one item priced from ``price``, accepting its methods."""

    legacy_table = "orders"
    legacy_tables = ("orders",)
    primary_model = "payments.GroupOrderItem"

    def plan(self, source: SourceData, plan: Plan) -> None:
        for row in source["orders"]:
            legacy_id = str(row["id"])
            ref = Ref("orders", legacy_id, "payments.GroupOrder")
            plan.counts["orders"].source_rows += 1
            if plan.existing(ref) is not None:
                plan.counts["orders"].already_imported += 1
                continue
            owner = Ref("users", str(row.get("user_id")), "accounts.User")
            if not plan.knows(owner):
                plan.refuse(
                    "orders", row, f"its GOM users/{row.get('user_id')} is not in the source"
                )
                continue
            try:
                currency = normalize_currency(row.get("currency"))
                price = amount_minor(row.get("price"), currency)
            except Unmappable as error:
                plan.refuse("orders", row, str(error))
                continue
            created_at = _when(row.get("created_at")) or timezone.now()
            deadline = _when(row.get("deadline"))
            if deadline is None:
                deadline = created_at
                plan.warn("orders", legacy_id, "no deadline: the order's creation time is used")
            title = str(row.get("title") or "").strip() or str(row.get("slug") or "").strip()
            if not title:
                title = f"Imported order {legacy_id[:8]}"
                plan.warn("orders", legacy_id, f"no title: named {title!r}")
            plan.add(
                Row(
                    ref,
                    values={
                        "owner_id": owner,
                        "title": title[:200],
                        "description": str(row.get("description") or ""),
                        "country": COUNTRY_OF_CURRENCY[currency],
                        "currency": currency,
                        "order_deadline": deadline,
                        "payment_deadline": deadline,
                        "status": "open" if row.get("is_active") else "closed",
                    },
                    overrides={"created_at": created_at},
                    details={
                        key: row.get(key)
                        for key in ("slug", "min_orders", "max_orders")
                        if row.get(key) is not None
                    },
                )
            )
            plan.add(
                Row(
                    Ref("orders", legacy_id, "payments.GroupOrderItem"),
                    values={"group_order_id": ref, "name": title[:200], "unit_price_minor": price},
                )
            )
            methods = row.get("payment_methods")
            entries = methods if isinstance(methods, list) else ([methods] if methods else [])
            accepted: set[Hashable] = set()
            for index in range(len(entries)):
                method = Ref(
                    "orders.payment_methods", f"{legacy_id}#{index}", "payments.PaymentMethod"
                )
                if not plan.knows(method):
                    continue
                identity = plan.identity(method)
                if identity in accepted:
                    continue
                accepted.add(identity)
                plan.add(
                    Row(
                        Ref(
                            "orders", f"{legacy_id}#{index}", "payments.GroupOrder.accepted_methods"
                        ),
                        values={"grouporder_id": ref, "paymentmethod_id": method},
                        mapped=False,
                    )
                )
            plan.counts["orders"].create += 1

    def source_group(self, row: dict[str, Any]) -> tuple[str, int]:
        return str(row.get("currency") or "").upper(), source_minor(row.get("price")) or 0

    def target_facts(self, target_ids: list[str]) -> Facts:
        from payments.models import GroupOrderItem

        items = GroupOrderItem.objects.filter(pk__in=target_ids).select_related("group_order")
        return facts_of((item.group_order.currency, item.unit_price_minor) for item in items)


class SubmissionMapper(Mapper):
    """``submissions`` → a submission (status per ``SUBMISSION_STATUS_MAP``) with one line; the
    buyer is an account per e-mail address (a placeholder one when the e-mail is missing)."""

    legacy_table = "submissions"
    legacy_tables = ("submissions",)
    primary_model = "payments.Submission"

    def plan(self, source: SourceData, plan: Plan) -> None:
        orders = {str(order["id"]): order for order in source["orders"]}
        self.evidence = evidence = payment_evidence(source, plan)
        for row in source["submissions"]:
            legacy_id = str(row["id"])
            ref = Ref("submissions", legacy_id, "payments.Submission")
            plan.counts["submissions"].source_rows += 1
            if plan.existing(ref) is not None:
                plan.counts["submissions"].already_imported += 1
                continue
            order_ref = Ref("orders", str(row.get("order_id")), "payments.GroupOrder")
            order = orders.get(str(row.get("order_id")))
            if order is None or not plan.knows(order_ref):
                plan.refuse(
                    "submissions", row, f"its order orders/{row.get('order_id')} is not imported"
                )
                continue
            try:
                currency = normalize_currency(row.get("currency"))
                order_currency = normalize_currency(order.get("currency"))
                if currency != order_currency:
                    raise Unmappable(
                        f"currency {currency} differs from its order's {order_currency}"
                    )
                total = amount_minor(row.get("total_amount"), currency)
                unit_price = amount_minor(order.get("price"), currency)
                map_submission_status(row.get("status"))
                quantity = int(row.get("quantity") or 0)
                if quantity < 1:
                    raise Unmappable(f"quantity {row.get('quantity')!r} is less than 1")
            except Unmappable as error:
                plan.refuse("submissions", row, str(error))
                continue
            if quantity * unit_price != total:
                plan.warn(
                    "submissions",
                    legacy_id,
                    f"total {total} is not {quantity} x {unit_price}: the amount due is the total",
                )
            status = evidence.final_status[legacy_id]
            note = evidence.notes.get(legacy_id, "")
            if note:
                plan.warn("submissions", legacy_id, note)
            buyer = self._buyer(plan, row, legacy_id)
            created_at = _when(row.get("created_at")) or timezone.now()
            buyer_name = str(row.get("buyer_name") or "").strip() or (
                str(row.get("buyer_email") or "").split("@")[0] or "Buyer"
            )
            plan.add(
                Row(
                    ref,
                    values={
                        "group_order_id": order_ref,
                        "buyer_id": buyer,
                        "buyer_name": buyer_name[:150],
                        "buyer_phone": str(row.get("buyer_phone") or "").strip()[:32],
                        "amount_due_minor": total,
                        "currency": currency,
                        # Money comes in through payment_record, which moves the submission on
                        # from pending_payment like any payment here (docs/legacy-import.md).
                        "status": SubmissionStatus.PENDING_PAYMENT
                        if legacy_id in evidence.paid_by
                        else status,
                        "verification_notes": evidence.review_notes.get(legacy_id, ""),
                    },
                    overrides={"created_at": created_at, "updated_at": created_at},
                    details={
                        "payment_reference": row.get("payment_reference"),
                        "legacy_status": row.get("status"),
                    },
                )
            )
            plan.add(
                Row(
                    Ref("submissions", legacy_id, "payments.SubmissionLine"),
                    values={
                        "submission_id": ref,
                        "item_id": Ref("orders", str(order["id"]), "payments.GroupOrderItem"),
                        "description": str(order.get("title") or "Item")[:200],
                        "quantity": quantity,
                        "unit_price_minor": unit_price,
                    },
                )
            )
            plan.counts["submissions"].create += 1

    def _buyer(self, plan: Plan, row: dict[str, Any], legacy_id: str) -> Ref | str:
        email = normalize_email(row.get("buyer_email"))
        if email is None:
            buyer_key = f"submission:{legacy_id}"
            email = placeholder_email("buyer", legacy_id)
            plan.warn(
                "submissions",
                legacy_id,
                f"buyer has no usable e-mail ({row.get('buyer_email')!r}): own account {email}",
            )
        else:
            buyer_key = email
        ref = Ref("submissions.buyer", buyer_key, "accounts.User")
        if plan.knows(ref):
            return ref
        plan.counts["submissions.buyer"].source_rows += 1
        account = plan.accounts_by_email.get(email)
        if account is not None:
            plan.add(Row(ref, link_to=account))
            plan.counts["submissions.buyer"].link += 1
        else:
            plan.accounts_by_email[email] = ref
            plan.add(_new_user(ref, email, row, is_staff=False, details={}))
            plan.counts["submissions.buyer"].create += 1
        return ref

    def source_group(self, row: dict[str, Any]) -> tuple[str, int]:
        currency = str(row.get("currency") or "").upper()
        status = self.evidence.final_status.get(str(row["id"]), f"unknown:{row.get('status')}")
        return f"{currency} {status}", source_minor(row.get("total_amount")) or 0

    def target_facts(self, target_ids: list[str]) -> Facts:
        from payments.models import Submission

        rows = Submission.objects.filter(pk__in=target_ids).values_list(
            "currency", "status", "amount_due_minor"
        )
        return facts_of((f"{currency} {status}", amount) for currency, status, amount in rows)


@dataclass
class Evidence:
    """What the legacy money rows say about each submission, decided from the source alone.

    The submission, payment and proof mappers share it, so a submission's status, the payments
    that settle it and the report's sums always tell the same story.
    """

    # Transaction id → why it is not recorded (absent: it is recorded).
    problems: dict[str, str] = field(default_factory=dict)
    # Submission id → its recorded transactions, oldest first.
    accepted: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # Submission id → the approved proof whose decision stands for its payment (paid, no txn).
    proof_payment: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Submission id → minor units the import records as paid (transactions or proof).
    paid_by: dict[str, int] = field(default_factory=dict)
    # Submission id → our status once the import is done (payments included).
    final_status: dict[str, str] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)  # warnings about the treatment
    review_notes: dict[str, str] = field(default_factory=dict)  # verification notes to keep


def _proof_file_stored(plan: Plan, proof_id: str) -> bool:
    if plan.existing(Ref("payment_proofs", proof_id, "verification.PaymentProof")) is not None:
        return True
    fetched = plan.fetched.get(proof_id)
    return fetched is not None and fetched.prepared is not None


def _transaction_problem(
    transaction: dict[str, Any],
    submission: dict[str, Any] | None,
    left: int,
    seen: dict[tuple[str, str], str],
) -> tuple[str, int]:
    """Why a transaction cannot be recorded ("" when it can) and its amount in minor units."""
    if submission is None:
        return (
            f"its submission submissions/{transaction.get('submission_id')} is not in the source",
            0,
        )
    legacy_status = str(submission.get("status") or "").strip().lower()
    if legacy_status != "paid":
        return (
            f"its submission is {legacy_status or 'without status'} on the earlier platform, "
            "not paid: the transaction is reported, not recorded (check it for a refund there)",
            0,
        )
    try:
        currency = normalize_currency(transaction.get("currency"))
        submission_currency = normalize_currency(submission.get("currency"))
        if currency != submission_currency:
            raise Unmappable(f"currency {currency} differs from its submission's")
        amount = amount_minor(transaction.get("amount"), currency)
    except Unmappable as error:
        return str(error), 0
    limit = settings.PAYMENT_LIMITS_MINOR[currency]
    if amount > limit:
        return f"the amount {amount} is above the {limit} limit of one payment", amount
    paid_at = _when(transaction.get("paid_at"))
    if paid_at is None:
        return "no paid_at: when the money arrived is unknown", amount
    if paid_at > timezone.now():
        return f"paid_at {paid_at.isoformat()} is in the future", amount
    gateway_id = str(transaction.get("gateway_payment_id") or "").strip()
    key = (str(transaction.get("gateway") or "").strip().lower(), gateway_id)
    if gateway_id and key in seen:
        return (
            f"duplicate of payment_transactions/{seen[key]} (same gateway payment id "
            f"{gateway_id!r})",
            amount,
        )
    if amount > left:
        return (
            f"the amount {amount} is more than the {left} left to pay on its submission: an "
            "overpayment is reported, not turned into credit",
            amount,
        )
    return "", amount


def payment_evidence(source: SourceData, plan: Plan) -> Evidence:
    """Decide, per legacy submission, how it was paid and what our status will be."""
    evidence = Evidence()
    submissions = {str(row["id"]): row for row in source["submissions"]}
    by_submission: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for transaction in source["payment_transactions"]:
        by_submission[str(transaction.get("submission_id"))].append(transaction)
    proofs: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for proof in source["payment_proofs"]:
        proofs[str(proof.get("submission_id"))].append(proof)
    seen: dict[tuple[str, str], str] = {}
    # UTC: an offset west of Greenwich would overflow datetime.max when compared.
    far_future = datetime.max.replace(tzinfo=UTC)
    for submission_id, transactions in by_submission.items():
        submission = submissions.get(submission_id)
        total = source_minor(submission.get("total_amount")) or 0 if submission else 0
        paid = 0
        ordered = sorted(
            transactions, key=lambda t: (_when(t.get("paid_at")) or far_future, t["id"])
        )
        for transaction in ordered:
            problem, amount = _transaction_problem(transaction, submission, total - paid, seen)
            gateway_id = str(transaction.get("gateway_payment_id") or "").strip()
            if gateway_id:
                key = (str(transaction.get("gateway") or "").strip().lower(), gateway_id)
                seen.setdefault(key, str(transaction["id"]))
            if problem:
                evidence.problems[str(transaction["id"])] = problem
                continue
            paid += amount
            evidence.accepted.setdefault(submission_id, []).append(transaction)
        if paid:
            evidence.paid_by[submission_id] = paid
    for submission_id, row in submissions.items():
        try:
            status = map_submission_status(row.get("status"))
        except Unmappable:
            continue
        legacy_status = str(row.get("status") or "").strip().lower()
        total = source_minor(row.get("total_amount")) or 0
        mine = sorted(
            proofs.get(submission_id, []),
            key=lambda p: (_when(p.get("verified_at")) or far_future, str(p["id"])),
        )
        decisions = [(p, str(p.get("verification_status") or "").strip().lower()) for p in mine]
        if legacy_status == "paid":
            paid = evidence.paid_by.get(submission_id, 0)
            approved = [p for p, decision in decisions if decision == "approved"]
            if paid and paid == total:
                status = SubmissionStatus.VERIFIED
            elif paid:
                status = SubmissionStatus.PARTIALLY_PAID
                evidence.notes[submission_id] = (
                    f"paid on the earlier platform, but its transactions cover {paid} of "
                    f"{total}: imported as partially paid"
                )
            elif approved:
                status = SubmissionStatus.VERIFIED
                evidence.proof_payment[submission_id] = approved[0]
                evidence.paid_by[submission_id] = total
                evidence.notes[submission_id] = (
                    f"paid without a payment transaction: payment recorded from the approved "
                    f"proof payment_proofs/{approved[0]['id']}"
                )
            else:
                status = SubmissionStatus.PROOF_SUBMITTED
                evidence.notes[submission_id] = (
                    "paid without a payment transaction or an approved proof: imported as "
                    "proof submitted, for the GOM to confirm (record the payment) or reject"
                )
                evidence.review_notes[submission_id] = (
                    "Marked paid on the earlier GOMFLOW platform, which holds no record of the "
                    "payment. Record the payment once you find it, or reject."
                )
        elif legacy_status == "pending":
            waiting = [
                (p, decision)
                for p, decision in decisions
                if decision in PROOF_AWAITING_REVIEW | {"approved"}
            ]
            stored = [(p, d) for p, d in waiting if _proof_file_stored(plan, str(p["id"]))]
            if stored:
                status = SubmissionStatus.PROOF_SUBMITTED
                if any(decision == "approved" for _, decision in stored):
                    evidence.notes[submission_id] = (
                        "a proof was approved but the order was never marked paid: imported as "
                        "proof submitted for the GOM to review again"
                    )
            elif waiting:
                evidence.notes[submission_id] = (
                    "its proof's file is missing: imported as waiting for payment so the buyer "
                    "can upload the proof again"
                )
        elif legacy_status == "failed":
            rejected = [p for p, decision in decisions if decision == "rejected"]
            if rejected and rejected[-1].get("rejection_reason"):
                evidence.review_notes[submission_id] = str(rejected[-1]["rejection_reason"])
        evidence.final_status[submission_id] = status
    return evidence


def _payment_row_facts(row: dict[str, Any]) -> tuple[str, int]:
    return f"{str(row.get('currency') or '').upper()} recorded", source_minor(
        row.get("amount")
    ) or 0


class PaymentMapper(Mapper):
    """``payment_transactions`` → a payment recorded through ``payment_record`` (its allocation
    pays the mapped submission); a ``paid`` submission without one but with an approved proof
    gets its payment from that proof's decision. Anything else is reported, never guessed."""

    legacy_table = "payment_transactions"
    proof_table = "payment_proofs.payment"
    legacy_tables = ("payment_transactions", "payment_proofs.payment")
    primary_model = "payments.Payment"

    def plan(self, source: SourceData, plan: Plan) -> None:
        from payments.models import Payment

        self.evidence = evidence = payment_evidence(source, plan)
        submissions = {str(row["id"]): row for row in source["submissions"]}
        verified_at: dict[Ref, datetime] = {}
        for transaction in source["payment_transactions"]:
            legacy_id = str(transaction["id"])
            ref = Ref(self.legacy_table, legacy_id, "payments.Payment")
            plan.counts[self.legacy_table].source_rows += 1
            if plan.existing(ref) is not None:
                plan.counts[self.legacy_table].already_imported += 1
                continue
            submission_id = str(transaction.get("submission_id"))
            submission_ref = Ref("submissions", submission_id, "payments.Submission")
            if not plan.knows(submission_ref):
                plan.refuse(
                    self.legacy_table,
                    transaction,
                    f"its submission submissions/{submission_id} is not imported",
                )
                continue
            if legacy_id in evidence.problems:
                plan.refuse(self.legacy_table, transaction, evidence.problems[legacy_id])
                continue
            if plan.existing(submission_ref) is not None:
                # A transaction added at the source after its submission was imported: it must
                # still fit what the submission holds here now.
                problem = _still_payable(plan.existing(submission_ref), transaction)
                if problem:
                    plan.refuse(self.legacy_table, transaction, problem)
                    continue
            currency = normalize_currency(transaction.get("currency"))
            amount = amount_minor(transaction.get("amount"), currency)
            paid_at = transaction["paid_at"]
            method_type = map_method_type(transaction.get("payment_method"))
            if not method_type:
                plan.warn(
                    self.legacy_table,
                    legacy_id,
                    f"payment method {transaction.get('payment_method')!r} matches none of ours: "
                    "recorded without a method type (no fee rule applies)",
                )
            gateway = str(transaction.get("gateway") or "").strip()
            gateway_id = str(transaction.get("gateway_payment_id") or "").strip()
            plan.add(
                Row(
                    ref,
                    perform=_record_payment(
                        submission_ref=submission_ref,
                        currency=currency,
                        amount=amount,
                        method_type=method_type,
                        source=Payment.Source.MANUAL,
                        paid_at=paid_at,
                        key=f"legacy:payment_transactions:{legacy_id}",
                        reference=gateway_id,
                        source_reference=f"GOMFLOW {gateway or 'gateway'} transaction {legacy_id}",
                    ),
                    also_creates=("payments.PaymentAllocation",),
                    details={
                        "gateway": gateway,
                        "gateway_payment_id": gateway_id,
                        "payment_method": transaction.get("payment_method"),
                    },
                )
            )
            plan.counts[self.legacy_table].create += 1
            if evidence.final_status.get(submission_id) == SubmissionStatus.VERIFIED:
                verified_at[submission_ref] = max(paid_at, verified_at.get(submission_ref, paid_at))
        for submission_id, proof in evidence.proof_payment.items():
            self._plan_proof_payment(plan, submissions[submission_id], proof, verified_at)
        if verified_at:
            plan.finishers.append(_restore_verified_at(verified_at))

    def _plan_proof_payment(
        self,
        plan: Plan,
        submission: dict[str, Any],
        proof: dict[str, Any],
        verified_at: dict[Ref, datetime],
    ) -> None:
        from payments.models import Payment

        legacy_id = str(proof["id"])
        ref = Ref(self.proof_table, legacy_id, "payments.Payment")
        plan.counts[self.proof_table].source_rows += 1
        if plan.existing(ref) is not None:
            plan.counts[self.proof_table].already_imported += 1
            return
        submission_ref = Ref("submissions", str(submission["id"]), "payments.Submission")
        row = self._proof_payment_row(submission, proof)
        if not plan.knows(submission_ref) or plan.existing(submission_ref) is not None:
            # A submission imported earlier already had its treatment; never pay it twice.
            plan.refuse(
                self.proof_table,
                row,
                f"its submission submissions/{submission['id']} is not imported by this batch",
            )
            return
        currency = normalize_currency(submission.get("currency"))
        amount = amount_minor(submission.get("total_amount"), currency)
        paid_at = _when(proof.get("verified_at"))
        if paid_at is None:
            paid_at = _when(submission.get("created_at")) or timezone.now()
            plan.warn(
                self.proof_table,
                legacy_id,
                "the approval has no time: the payment is dated when the order was placed",
            )
        extracted = source_minor(proof.get("extracted_amount"))
        if extracted is not None and extracted != amount:
            plan.warn(
                self.proof_table,
                legacy_id,
                f"the proof reads {extracted}, the approved order is {amount}: the payment is "
                "the order's amount the GOM approved",
            )
        method_type = ""
        method_ref = Ref(
            "payment_methods", str(proof.get("payment_method_id")), "payments.PaymentMethod"
        )
        method_row = plan.planned.get(method_ref)
        if method_row is not None and method_row.creates:
            method_type = str(method_row.values.get("method_type") or "")
        plan.add(
            Row(
                ref,
                perform=_record_payment(
                    submission_ref=submission_ref,
                    currency=currency,
                    amount=amount,
                    method_type=method_type,
                    source=Payment.Source.PROOF,
                    paid_at=paid_at,
                    key=f"legacy:payment_proofs:{legacy_id}",
                    reference=str(proof.get("extracted_reference") or ""),
                    source_reference=f"GOMFLOW approved proof {legacy_id}",
                ),
                also_creates=("payments.PaymentAllocation",),
                details={"verified_by": proof.get("verified_by")},
            )
        )
        plan.counts[self.proof_table].create += 1
        verified_at[submission_ref] = paid_at

    @staticmethod
    def _proof_payment_row(submission: dict[str, Any], proof: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": str(proof["id"]),
            "amount": submission.get("total_amount"),
            "currency": submission.get("currency"),
        }

    def source_rows(self, source: SourceData) -> list[dict[str, Any]]:
        submissions = {str(row["id"]): row for row in source["submissions"]}
        return list(source["payment_transactions"]) + [
            self._proof_payment_row(submissions[submission_id], proof)
            for submission_id, proof in sorted(self.evidence.proof_payment.items())
        ]

    def source_group(self, row: dict[str, Any]) -> tuple[str, int]:
        return _payment_row_facts(row)

    def target_facts(self, target_ids: list[str]) -> Facts:
        from payments.models import Payment

        rows = Payment.objects.filter(pk__in=target_ids).values_list(
            "currency", "status", "amount_minor"
        )
        return facts_of((f"{currency} {status}", amount) for currency, status, amount in rows)


def _still_payable(submission_pk: str, transaction: dict[str, Any]) -> str:
    from payments.models import Submission
    from payments.money.services import PAYABLE_STATES

    submission = Submission.objects.get(pk=submission_pk)
    amount = source_minor(transaction.get("amount")) or 0
    if submission.status not in PAYABLE_STATES:
        return (
            f"its submission {submission.code} is {submission.get_status_display().lower()} "
            "here now and takes no payment"
        )
    if amount > submission.outstanding_minor:
        return (
            f"the amount {amount} is more than the {submission.outstanding_minor} left to pay on "
            f"its submission {submission.code} here now"
        )
    return ""


def _record_payment(
    *,
    submission_ref: Ref,
    currency: str,
    amount: int,
    method_type: str,
    source: str,
    paid_at: datetime,
    key: str,
    reference: str,
    source_reference: str,
) -> Callable[[Callable[[Any], Any], Any], list[Any]]:
    def perform(resolve: Callable[[Any], Any], actor: Any) -> list[Any]:
        from payments.models import Submission
        from payments.money.services import payment_record

        submission = Submission.objects.select_related("buyer", "group_order").get(
            pk=resolve(submission_ref)
        )
        payment = payment_record(
            actor=actor,
            buyer=submission.buyer,
            currency=currency,
            amount_minor=amount,
            method_type=method_type,
            source=source,
            paid_at=paid_at,
            idempotency_key=key,
            allocations=[(submission, amount)],
            reference=reference,
            source_reference=source_reference,
        )
        return [payment, *payment.allocations.order_by("pk")]

    return perform


def _restore_verified_at(
    verified_at: dict[Ref, datetime],
) -> Callable[[Callable[[Any], Any]], None]:
    def finish(resolve: Callable[[Any], Any]) -> None:
        from payments.models import Submission

        # payment_record verified the submission "now"; the legacy time is when it really was.
        for ref, when in verified_at.items():
            Submission.objects.filter(pk=resolve(ref), status=SubmissionStatus.VERIFIED).update(
                verified_at=when
            )

    return finish


class ProofMapper(Mapper):
    """``payment_proofs`` → a stored proof (the file fetched before the transaction, checked and
    encrypted like an upload), or, when the file is missing, the decision alone in the map."""

    legacy_table = "payment_proofs"
    legacy_tables = ("payment_proofs",)
    primary_model = "verification.PaymentProof"

    def plan(self, source: SourceData, plan: Plan) -> None:
        submissions = {str(row["id"]): row for row in source["submissions"]}
        for proof in source["payment_proofs"]:
            legacy_id = str(proof["id"])
            ref = Ref(self.legacy_table, legacy_id, "verification.PaymentProof")
            missing_ref = Ref(self.legacy_table, legacy_id, "payments.Submission")
            plan.counts[self.legacy_table].source_rows += 1
            if plan.existing(ref) is not None or plan.existing(missing_ref) is not None:
                plan.counts[self.legacy_table].already_imported += 1
                continue
            submission_id = str(proof.get("submission_id"))
            submission_ref = Ref("submissions", submission_id, "payments.Submission")
            if not plan.knows(submission_ref):
                plan.refuse(
                    self.legacy_table,
                    proof,
                    f"its submission submissions/{submission_id} is not imported",
                )
                continue
            try:
                decision = map_proof_status(proof.get("verification_status"))
            except Unmappable as error:
                plan.refuse(self.legacy_table, proof, str(error))
                continue
            currency = str(submissions[submission_id].get("currency") or "").strip().upper()
            extracted = source_minor(proof.get("extracted_amount"))
            verifier = Ref("users", str(proof.get("verified_by")), "accounts.User")
            verified_at = _when(proof.get("verified_at"))
            details = {
                "legacy_status": decision,
                "verified_by": proof.get("verified_by"),
                "verified_at": verified_at.isoformat() if verified_at else None,
                "rejection_reason": proof.get("rejection_reason"),
                "extracted_amount_minor": extracted,
                "extracted_reference": proof.get("extracted_reference"),
                "file_url": proof.get("file_url"),
            }
            self._decide(plan, submission_ref, decision, verifier, verified_at)
            fetched = plan.fetched.get(legacy_id)
            if fetched is None or fetched.prepared is None:
                problem = fetched.problem if fetched is not None else "the file was not fetched"
                plan.add(
                    Row(
                        missing_ref,
                        link_to=submission_ref,
                        details={**details, "file": "missing", "file_problem": problem},
                    )
                )
                plan.counts[self.legacy_table].link += 1
                plan.warn(
                    self.legacy_table,
                    legacy_id,
                    f"file missing ({problem}): the {decision} decision is kept without it",
                )
                continue
            plan.add(
                Row(
                    ref,
                    perform=_store_proof(
                        plan,
                        fetched,
                        submission_ref=submission_ref,
                        reference=str(proof.get("extracted_reference") or "")[:64],
                        amount=extracted,
                        currency=currency if extracted is not None else "",
                        decision=decision,
                    ),
                    details={**details, "file": "stored"},
                )
            )
            plan.counts[self.legacy_table].create += 1

    @staticmethod
    def _decide(
        plan: Plan,
        submission_ref: Ref,
        decision: str,
        verifier: Ref,
        verified_at: datetime | None,
    ) -> None:
        """Carry a rejection's who and when onto the rejected submission this run creates."""
        row = plan.planned.get(submission_ref)
        if row is None or not row.creates or decision != "rejected":
            return
        if row.values.get("status") != SubmissionStatus.REJECTED:
            return
        if plan.knows(verifier):
            row.values["verified_by_id"] = verifier
        row.values["verified_at"] = verified_at

    def source_group(self, row: dict[str, Any]) -> tuple[str, int]:
        status = str(row.get("verification_status") or "").strip().lower()
        return status, source_minor(row.get("extracted_amount")) or 0

    def validation_facts(self) -> Facts:
        from legacy.models import LegacyIdMap
        from verification.models import PaymentProof

        maps = LegacyIdMap.objects.filter(legacy_table=self.legacy_table)
        stored = {
            str(pk): amount
            for pk, amount in PaymentProof.objects.filter(
                pk__in=[m.target_id for m in maps if m.target_model == self.primary_model]
            ).values_list("pk", "amount_minor")
        }
        groups = []
        for entry in maps:
            if entry.target_model == self.primary_model:
                if entry.target_id not in stored:
                    continue  # deleted since: validation reports the row as missing
                amount = stored[entry.target_id]
            else:
                amount = entry.details.get("extracted_amount_minor")
            groups.append((str(entry.details.get("legacy_status")), amount or 0))
        return facts_of(groups)


def _store_proof(
    plan: Plan,
    fetched: FetchedFile,
    *,
    submission_ref: Ref,
    reference: str,
    amount: int | None,
    currency: str,
    decision: str,
) -> Callable[[Callable[[Any], Any], Any], list[Any]]:
    def perform(resolve: Callable[[Any], Any], actor: Any) -> list[Any]:
        from django.core.files.base import ContentFile
        from django.core.files.storage import storages

        from payments.models import Submission
        from verification.models import AnalysisStatus, PaymentProof, Suggestion

        prepared = fetched.prepared
        assert prepared is not None
        submission = Submission.objects.get(pk=resolve(submission_ref))
        # A local write, not a download: the file was fetched before the transaction opened.
        name = storages["proofs"].save(prepared.storage_name(), ContentFile(prepared.data))
        plan.stored_files.append(name)
        read = bool(reference or amount is not None)
        proof = PaymentProof.objects.create(
            submission=submission,
            uploaded_by_id=submission.buyer_id,
            storage_name=name,
            original_name=prepared.original_name,
            original_type=prepared.original_type,
            content_type=prepared.content_type,
            size_bytes=prepared.size_bytes,
            sha256=prepared.sha256,
            perceptual_hash=prepared.perceptual_hash,
            width=prepared.width,
            height=prepared.height,
            scan_status=prepared.scan_status,
            # What the earlier platform read stands in for our agent's reading; the agent is not
            # run on history (its suggestion would second-guess decisions already taken).
            analysis_status=AnalysisStatus.DONE if read else AnalysisStatus.UNAVAILABLE,
            analysis_reason="" if read else "Imported from the earlier GOMFLOW platform.",
            reference=reference,
            amount_minor=amount,
            currency=currency,
            suggestion=Suggestion.REVIEW if decision in ("flagged", "requires_review") else "",
        )
        return [proof]

    return perform


# Tables read and reported but not imported by this version, with the reason the report gives.
DEFERRED_TABLES: dict[str, str] = {}


def model_of(label: str) -> Any:
    """The model for a Ref label; ``app.Model.field`` names that field's many-to-many table."""
    app_label, model_name, *field_name = label.split(".")
    model = apps.get_model(app_label, model_name)
    return getattr(model, field_name[0]).through if field_name else model
