"""Importing an earlier GOMFLOW database, validating it, rolling a batch back, inviting buyers.

Every write here is one transaction: an import batch is all or nothing (validation runs inside it
and a difference rolls everything back), and so is a rollback. A PostgreSQL advisory lock keeps
two imports or rollbacks from interleaving, so a plan is always made on what the previous run
committed.
"""

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.auth.tokens import default_token_generator
from django.core.files.storage import storages
from django.core.mail import send_mail
from django.db import connection, transaction
from django.db.models import Max, Model, ProtectedError
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts.models import User
from accounts.roles import GOM_GROUP, ensure_role_groups
from audit.services import audit_record
from legacy.mappers import (
    DEFERRED_TABLES,
    Facts,
    Mapper,
    OrderMapper,
    PaymentMapper,
    PaymentMethodMapper,
    Plan,
    ProofMapper,
    Ref,
    Row,
    SubmissionMapper,
    UserMapper,
    facts_of,
    model_of,
)
from legacy.mapping import is_placeholder, source_minor
from legacy.models import ImportBatch, LegacyIdMap
from legacy.proof_files import DEFAULT_TIMEOUT_SECONDS, FetchedFile, fetch_proof_files
from legacy.source import SourceData, read_source, redact
from payments.models import Payment, PaymentMethod
from payments.notifications import silenced

_LOCK_KEY = 0x60_4F_46_4C  # "legacy import" advisory lock; any constant shared by all runs


class LegacyImportError(Exception):
    """An import, validation or rollback that cannot be done; the message says why."""


@dataclass(frozen=True)
class ImportOutcome:
    report: dict[str, Any]
    batch: ImportBatch | None
    validation: dict[str, Any] | None


def _mappers() -> list[Mapper]:
    """The import order: each mapper may refer only to rows planned by the ones before it."""
    return [
        UserMapper(),
        PaymentMethodMapper(),
        OrderMapper(),
        SubmissionMapper(),
        ProofMapper(),
        PaymentMapper(),
    ]


def _existing_state() -> tuple[dict[tuple[str, str, str], str], dict[str, str], dict[Any, int]]:
    maps = {
        (table, legacy_id, model): target
        for table, legacy_id, model, target in LegacyIdMap.objects.values_list(
            "legacy_table", "legacy_id", "target_model", "target_id"
        )
    }
    emails = {email.lower(): str(pk) for pk, email in User.objects.values_list("pk", "email")}
    methods = {
        (owner, code, number): pk
        for pk, owner, code, number in PaymentMethod.objects.values_list(
            "pk", "owner_id", "template_code", "account_number"
        )
    }
    return maps, emails, methods


def plan_import(
    source: SourceData, *, for_real: bool, fetched: dict[str, FetchedFile] | None = None
) -> tuple[Plan, list[Mapper]]:
    """Decide what happens to every legacy row against the target as it is now.

    Reads only, except that a real run creates the GOM group when it does not exist yet.
    """
    maps, emails, methods = _existing_state()
    gom_group = Group.objects.filter(name=GOM_GROUP).first()
    if gom_group is None and for_real:
        gom_group = ensure_role_groups()[0]
    # A dry run never applies the plan, so a missing group only needs a stand-in id.
    plan = Plan(maps, emails, gom_group.pk if gom_group else 0, methods, fetched)
    mappers = _mappers()
    for mapper in mappers:
        mapper.plan(source, plan)
    return plan, mappers


def _source_facts(mapper: Mapper, rows: list[dict[str, Any]]) -> Facts:
    return facts_of(mapper.source_group(row) for row in rows)


def build_report(source: SourceData, plan: Plan, mappers: list[Mapper]) -> dict[str, Any]:
    """The dry-run report: counts per table, sums per currency and status, every refusal."""
    created: dict[str, int] = defaultdict(int)
    for row in plan.rows:
        if row.creates:
            created[row.ref.model] += 1
            for label in row.also_creates:
                created[label] += 1
    sums: dict[str, Any] = {}
    for mapper in mappers:
        unimportable = [r for t in mapper.legacy_tables for r in plan.unimportable_rows[t]]
        sums[mapper.legacy_table] = {
            "source": _source_facts(mapper, mapper.source_rows(source)),
            "unimportable": _source_facts(mapper, unimportable),
        }
    deferred = {}
    for table, reason in DEFERRED_TABLES.items():
        amounts: Facts = {}
        for row in source.get(table, []):
            key = str(row.get("currency") or "").upper() or "*"
            entry = amounts.setdefault(key, {"rows": 0, "amount_minor": 0})
            entry["rows"] += 1
            entry["amount_minor"] += source_minor(row.get("amount")) or 0
        deferred[table] = {"rows": len(source.get(table, [])), "reason": reason, "sums": amounts}
    return {
        "tables": {table: vars(counts) for table, counts in sorted(plan.counts.items())},
        "created": dict(sorted(created.items())),
        "sums": sums,
        "unimportable": [problem.as_dict() for problem in plan.unimportable],
        "warnings": [problem.as_dict() for problem in plan.warnings],
        "not_imported_tables": deferred,
    }


def _apply(plan: Plan, batch: ImportBatch, actor: Any) -> None:
    """Create the planned objects in dependency order and record every legacy id.

    Plain rows are bulk inserted per model; then the rows that go through a service (payments
    through payment_record, proofs into the encrypted storage) run in plan order.
    """
    pks: dict[Ref, str] = {}

    def resolve(value: Any) -> Any:
        if not isinstance(value, Ref):
            return value
        if value in pks:
            return pks[value]
        existing = plan.existing(value)
        if existing is not None:
            return existing
        row = plan.planned[value]
        if row.link_to is None:
            raise LegacyImportError(f"{value} is used before it is created")
        return resolve(row.link_to) if isinstance(row.link_to, Ref) else row.link_to

    # Group the creations per model in the order models first appear: a model's dependencies
    # always appear before it, so bulk inserts per model keep every foreign key satisfiable.
    rank: dict[str, int] = {}
    for row in plan.rows:
        rank.setdefault(row.ref.model, len(rank))
    creations = sorted(
        (row for row in plan.rows if row.creates and row.perform is None),
        key=lambda r: rank[r.ref.model],
    )
    for label in sorted({row.ref.model for row in creations}, key=rank.__getitem__):
        model = model_of(label)
        rows = [row for row in creations if row.ref.model == label]
        objects = [model(**{k: resolve(v) for k, v in row.values.items()}) for row in rows]
        model.objects.bulk_create(objects, batch_size=500)
        _apply_overrides(model, rows, objects)
        maps = []
        for row, created in zip(rows, objects, strict=True):
            pks[row.ref] = str(created.pk)
            if row.mapped:
                maps.append(_map_row(batch, row, str(created.pk), created=True))
        LegacyIdMap.objects.bulk_create(maps, batch_size=500)
    performed: list[LegacyIdMap] = []
    for row in plan.rows:
        if row.perform is None:
            continue
        objects = row.perform(resolve, actor)
        pks[row.ref] = str(objects[0].pk)
        for index, created in enumerate(objects):
            label = row.ref.model if index == 0 else created._meta.label
            entry = Row(Ref(row.ref.legacy_table, row.ref.legacy_id, label), details=row.details)
            performed.append(_map_row(batch, entry, str(created.pk), created=True))
    LegacyIdMap.objects.bulk_create(performed, batch_size=500)
    for finish in plan.finishers:
        finish(resolve)
    links = [row for row in plan.rows if not row.creates and row.mapped]
    LegacyIdMap.objects.bulk_create(
        [_map_row(batch, row, str(resolve(row.ref)), created=False) for row in links],
        batch_size=500,
    )


def _apply_overrides(model: type[Model], rows: list[Row], objects: list[Model]) -> None:
    # auto_now_add fields ignore the value given to bulk_create; keep the legacy times.
    fields: set[str] = set()
    for row, created in zip(rows, objects, strict=True):
        for name, value in row.overrides.items():
            if value is not None:
                setattr(created, name, value)
                fields.add(name)
    if fields:
        model.objects.bulk_update(objects, sorted(fields), batch_size=500)


def _map_row(batch: ImportBatch, row: Row, target_id: str, *, created: bool) -> LegacyIdMap:
    return LegacyIdMap(
        batch=batch,
        legacy_table=row.ref.legacy_table,
        legacy_id=row.ref.legacy_id,
        target_model=row.ref.model,
        target_id=target_id,
        created=created,
        details=_jsonable(row.details),
    )


def _jsonable(details: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v if isinstance(v, str | int | float | bool) or v is None else str(v)
        for k, v in details.items()
    }


def validate_import(source: SourceData, plan: Plan, mappers: list[Mapper]) -> dict[str, Any]:
    """Compare, per mapper and per currency and status, the source with what the target holds.

    Every legacy row must be accounted for: imported (in this batch or an earlier one) or refused
    with a reason. Returns the comparison; raises LegacyImportError listing every difference.
    """
    comparison: dict[str, Any] = {}
    differences: list[str] = []
    for mapper in mappers:
        in_source = _source_facts(mapper, mapper.source_rows(source))
        target = mapper.validation_facts()
        unimportable = _source_facts(
            mapper, [r for t in mapper.legacy_tables for r in plan.unimportable_rows[t]]
        )
        comparison[mapper.legacy_table] = {
            "source": in_source,
            "target": target,
            "unimportable": unimportable,
        }
        for key in sorted(set(in_source) | set(target) | set(unimportable)):
            want = in_source.get(key, {"rows": 0, "amount_minor": 0})
            got_rows = target.get(key, {}).get("rows", 0) + unimportable.get(key, {}).get("rows", 0)
            got_amount = target.get(key, {}).get("amount_minor", 0) + unimportable.get(key, {}).get(
                "amount_minor", 0
            )
            if (want["rows"], want["amount_minor"]) != (got_rows, got_amount):
                differences.append(
                    f"{mapper.legacy_table} {key}: source {want['rows']} rows / "
                    f"{want['amount_minor']}, target + refused {got_rows} rows / {got_amount}"
                )
    if differences:
        raise LegacyImportError("Validation failed: " + "; ".join(differences))
    return comparison


def _lock() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])


def legacy_import_run(
    *,
    actor: Any,
    source_dsn: str,
    batch_name: str,
    dry_run: bool,
    read: Callable[[str], SourceData] = read_source,
    on_imported: Callable[[ImportBatch], None] | None = None,
    fetch_timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> ImportOutcome:
    """Plan an import of ``source_dsn`` (dry run) or run it as batch ``batch_name``.

    Proof files are fetched first, outside any transaction (no download while rows are locked),
    by the dry run too, so both announce the same missing files. The real run plans again inside
    its transaction, applies the plan, validates counts and sums against the source and records
    the batch; any failure rolls all of it back and removes the proof files it stored.
    """
    batch_name = batch_name.strip()
    if not batch_name:
        raise LegacyImportError("Name the batch (--batch NAME).")
    source = read(source_dsn)
    imported_proofs = set(
        LegacyIdMap.objects.filter(legacy_table="payment_proofs").values_list(
            "legacy_id", flat=True
        )
    )
    fetched = fetch_proof_files(
        source.get("payment_proofs", []), skip=imported_proofs, timeout=fetch_timeout
    )
    if dry_run:
        plan, mappers = plan_import(source, for_real=False, fetched=fetched)
        return ImportOutcome(build_report(source, plan, mappers), None, None)
    stored: list[str] = []
    try:
        # Imported payments and decisions were announced on the earlier platform long ago.
        with silenced(), transaction.atomic():
            _lock()
            if ImportBatch.objects.filter(name=batch_name).exists():
                raise LegacyImportError(
                    f"A batch named {batch_name!r} exists already; choose another."
                )
            plan, mappers = plan_import(source, for_real=True, fetched=fetched)
            stored = plan.stored_files
            report = build_report(source, plan, mappers)
            batch = ImportBatch.objects.create(
                name=batch_name,
                source=redact(source_dsn),
                report=report,
                created_by=actor if getattr(actor, "is_authenticated", False) else None,
            )
            _apply(plan, batch, actor)
            validation = validate_import(source, plan, mappers)
            batch.report = {
                **report,
                "validation": validation,
                "history_high_water": _history_high_water(batch),
            }
            batch.save(update_fields=["report"])
            audit_record(
                actor=actor,
                action="legacy.batch_imported",
                target=batch,
                after={
                    "source": batch.source,
                    "created": report["created"],
                    "tables": report["tables"],
                },
            )
            if on_imported is not None:
                transaction.on_commit(lambda: on_imported(batch))
    except BaseException:
        # The rows are gone with the transaction; the files it wrote must go too.
        for name in stored:
            storages["proofs"].delete(name)
        raise
    return ImportOutcome(report, batch, validation)


def _history_high_water(batch: ImportBatch) -> dict[str, int]:
    """Per model, the newest history row of the objects this batch created, as it commits.

    Services the import calls (payment_record) write history rows; anything newer than this
    mark is a change made after the import, which rollback must not silently undo.
    """
    marks: dict[str, int] = {}
    for label, ids in _deletion_runs(list(batch.id_maps.filter(created=True))):
        history = getattr(model_of(label), "history", None)
        if history is None:
            continue
        newest = history.filter(id__in=ids).aggregate(newest=Max("history_id"))["newest"]
        marks[label] = max(marks.get(label, 0), newest or 0)
    return marks


def _deletion_runs(maps: list[LegacyIdMap]) -> list[tuple[str, list[str]]]:
    """Created objects newest first, in runs of one model: the reverse of the creation order."""
    runs: list[tuple[str, list[str]]] = []
    for entry in sorted(maps, key=lambda m: m.pk, reverse=True):
        if runs and runs[-1][0] == entry.target_model:
            runs[-1][1].append(entry.target_id)
        else:
            runs.append((entry.target_model, [entry.target_id]))
    return runs


def legacy_batch_rollback(*, actor: Any, batch_name: str) -> ImportBatch:
    """Delete exactly what batch ``batch_name`` created and forget its legacy ids.

    Refused (nothing changes) when an imported object was changed since, is referred to by
    something created after the import, or is what a later batch's legacy rows were linked to.
    Rolling back a rolled-back batch changes nothing.
    """
    with silenced(), transaction.atomic():
        _lock()
        batch = ImportBatch.objects.select_for_update().filter(name=batch_name).first()
        if batch is None:
            raise LegacyImportError(f"There is no import batch named {batch_name!r}.")
        if batch.status == ImportBatch.Status.ROLLED_BACK:
            return batch
        maps = list(batch.id_maps.all())
        runs = _deletion_runs([m for m in maps if m.created])
        # History rows up to the mark were written by the import itself (payment_record's);
        # batches from before the mark existed had none, so any history row is a change.
        marks: dict[str, int] = batch.report.get("history_high_water", {})
        for label, ids in runs:
            later = (
                LegacyIdMap.objects.exclude(batch=batch)
                .filter(target_model=label, target_id__in=ids)
                .values_list("batch__name", flat=True)
                .first()
            )
            if later is not None:
                raise LegacyImportError(
                    f"Batch {later!r} maps legacy rows onto objects this batch created; roll "
                    f"{later!r} back first. Nothing was rolled back."
                )
            model = model_of(label)
            history = getattr(model, "history", None)
            changes = (
                history.filter(id__in=ids, history_id__gt=marks.get(label, 0))
                if history is not None
                else None
            )
            if changes is not None and changes.exists():
                changed = changes.values_list("id", flat=True).first()
                raise LegacyImportError(
                    f"{label} {changed} was changed after the import; rolling back would lose "
                    "that change. Nothing was rolled back."
                )
        _void_payments_into_older_data(actor=actor, batch=batch, runs=runs)
        deleted: dict[str, int] = {}
        files = _proof_files_of(runs)
        try:
            for label, ids in runs:
                model = model_of(label)
                model.objects.filter(pk__in=ids).delete()
                deleted[label] = deleted.get(label, 0) + len(ids)
                history = getattr(model, "history", None)
                if history is not None:
                    # The deletion wrote "-" history rows for objects that should never have
                    # existed; the audit event below is the record of the rollback.
                    history.filter(id__in=ids).delete()
        except ProtectedError as error:
            blocker = next(iter(error.protected_objects))
            raise LegacyImportError(
                f"{label} objects of this batch are used by data created after the import "
                f"({type(blocker)._meta.label} {blocker.pk}). Nothing was rolled back."
            ) from error
        LegacyIdMap.objects.filter(batch=batch).delete()
        # The files go once the rows are surely gone; a failed rollback keeps both.
        transaction.on_commit(lambda: _delete_proof_files(files))
        batch.status = ImportBatch.Status.ROLLED_BACK
        batch.rolled_back_at = timezone.now()
        batch.save(update_fields=["status", "rolled_back_at"])
        audit_record(
            actor=actor,
            action="legacy.batch_rolled_back",
            target=batch,
            before={"legacy_ids": len(maps)},
            after={"deleted": dict(sorted(deleted.items()))},
        )
    return batch


def _void_payments_into_older_data(
    *, actor: Any, batch: ImportBatch, runs: list[tuple[str, list[str]]]
) -> None:
    """Void (through payment_void) each payment of the batch that paid a submission the batch
    did not create, so that submission's paid amount and state go back before the payment row
    is deleted; deleting alone would leave it paid by money that no longer exists."""
    from payments.exceptions import PaymentRuleViolation
    from payments.money.services import payment_void

    created = {label: set(ids) for label, ids in runs}
    mine = created.get("payments.Submission", set())
    payments = Payment.objects.filter(pk__in=created.get("payments.Payment", set())).order_by("pk")
    for payment in payments:
        paid = payment.allocations.filter(is_reversed=False).values_list("submission_id", flat=True)
        if any(str(submission_id) not in mine for submission_id in paid):
            try:
                payment_void(
                    actor=actor, payment=payment, reason=f"Import batch {batch.name} rolled back"
                )
            except PaymentRuleViolation as error:
                raise LegacyImportError(
                    f"Payment #{payment.pk} of this batch cannot be voided ({error}). Nothing "
                    "was rolled back."
                ) from error


def _proof_files_of(runs: list[tuple[str, list[str]]]) -> list[str]:
    from verification.models import PaymentProof

    ids = [pk for label, pks in runs if label == "verification.PaymentProof" for pk in pks]
    return list(PaymentProof.objects.filter(pk__in=ids).values_list("storage_name", flat=True))


def _delete_proof_files(names: list[str]) -> None:
    storage = storages["proofs"]
    for name in names:
        storage.delete(name)


def claim_link(user: User, base_url: str) -> str:
    """The one-time link that lets an imported user choose a password."""
    path = reverse(
        "legacy:claim",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        },
    )
    return base_url.rstrip("/") + path


def claim_invitations_send(*, actor: Any, batch: ImportBatch, base_url: str) -> int:
    """E-mail every account the batch created (with a real address) its claim link; return count.

    Run after the import committed: no e-mail leaves while rows are locked.
    """
    ids = batch.id_maps.filter(created=True, target_model="accounts.User").values_list(
        "target_id", flat=True
    )
    users = [
        user
        for user in User.objects.filter(pk__in=list(ids), is_active=True).order_by("pk")
        if not is_placeholder(user.email) and not user.has_usable_password()
    ]
    for user in users:
        context = {"user": user, "link": claim_link(user, base_url), "batch": batch}
        send_mail(
            subject="Your GOMFlow account has moved: choose a password",
            message=render_to_string("legacy/claim_email.txt", context),
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[user.email],
        )
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="legacy.claim_invitations_sent",
            target=batch,
            after={"sent": len(users)},
        )
    return len(users)


def account_claim(*, actor: Any, user: User, password: str) -> User:
    """Give an imported account (which has no usable password) the password its owner chose."""
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        if locked.has_usable_password():
            raise LegacyImportError("This account has been claimed already; sign in instead.")
        locked.set_password(password)
        locked.save(update_fields=["password"])
        audit_record(actor=actor, action="legacy.account_claimed", target=locked)
    return locked
