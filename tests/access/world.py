"""One world for the access matrix: an object of every kind, owned by the owning GOM.

Built once per test module inside a transaction that is rolled back at the end (tests use their
own savepoints inside it), so the hundreds of requests of the matrix share one set of rows and
nothing leaks into other modules. Every route's path parameters come from these objects.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib.auth.models import Group
from django.db import transaction
from django.test.utils import override_settings
from django.utils import timezone
from django_celery_beat.models import (
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    SolarSchedule,
)
from rest_framework.authtoken.models import Token, TokenProxy

from accounts.roles import FINANCE_GROUP, GOM_GROUP
from fraud.models import FraudLog, Rule
from legacy.models import ImportBatch, LegacyIdMap
from ops.models import DailyMetric
from outbox.models import Message
from payments.models import FeeRule, Payment, Refund, RefundReason, Submission, SubmissionStatus
from payments.money import services as money
from payments.reconciliation.matching import reconcile_account
from payments.reconciliation.models import Discrepancy, StatementMapping
from payments.services import grouporder_grant_access
from tests.dashboard.helpers import queued, review_of
from tests.factories import (
    GroupOrderFactory,
    GroupOrderItemFactory,
    StaffFactory,
    SubmissionFactory,
    UserFactory,
)
from tests.finance.helpers import account, import_file, local
from wallet.services import wallet_grant_credit
from webhooks.models import Attempt, Delivery, Endpoint, EventType

# The personas of the matrix, in the order of its columns.
PERSONAS = (
    "owner",
    "assistant",
    "other_gom",
    "buyer",
    "other_buyer",
    "finance",
    "superuser",
    "anonymous",
)

# A statement line nobody paid: reconciliation opens an "unmatched line" discrepancy for it.
GCASH_STATEMENT = (
    "Date and Time,Description,Reference No.,Debit,Credit,Balance\n"
    "2026-03-02 9:14 AM,Received GCash from 09170000001,9000111222333,,1250.00,\n"
)


@dataclass
class World:
    users: dict[str, Any]
    # The object an admin page of each model opens, by model label ("payments.grouporder").
    objects: dict[str, Any] = field(default_factory=dict)
    order: Any = None
    other_order: Any = None
    method: Any = None
    submission: Any = None  # the buyer's, in the owner's order, with a proof awaiting a decision
    paid_submission: Any = None  # the buyer's, paid, with a refund requested
    other_submission: Any = None  # the other buyer's, in the other GOM's order
    payment: Any = None
    refund: Any = None
    proof: Any = None


def _users() -> dict[str, Any]:
    gom = Group.objects.get(name=GOM_GROUP)
    finance_group = Group.objects.get(name=FINANCE_GROUP)
    users = {
        "owner": StaffFactory(email="owner@access.test"),
        "assistant": StaffFactory(email="assistant@access.test"),
        "other_gom": StaffFactory(email="other-gom@access.test"),
        "buyer": UserFactory(email="buyer@access.test"),
        "other_buyer": UserFactory(email="other-buyer@access.test"),
        "finance": StaffFactory(email="finance@access.test"),
        "superuser": StaffFactory(email="root@access.test", is_superuser=True),
    }
    for name in ("owner", "assistant", "other_gom"):
        users[name].groups.add(gom)
    users["finance"].groups.add(finance_group)
    return users


def _money_rows(world: World, users: dict[str, Any]) -> None:
    owner, buyer = users["owner"], users["buyer"]
    world.paid_submission = SubmissionFactory(
        group_order=world.order, buyer=buyer, amount_due_minor=50_000, payment_method=world.method
    )
    world.payment = money.payment_record(
        actor=owner,
        buyer=buyer,
        group_order=world.order,
        currency="PHP",
        amount_minor=50_000,
        method_type="gcash",
        source=Payment.Source.MANUAL,
        paid_at=local(world.method, "2026-03-02 08:00"),
        idempotency_key="access-payment",
        allocations=[(world.paid_submission, 50_000)],
        reference="7000111222333",
        payment_method=world.method,
    )
    world.refund = money.refund_request(
        actor=buyer,
        payment=world.payment,
        amount_minor=10_000,
        destination=Refund.Destination.ORIGINAL_METHOD,
        reason=RefundReason.ITEM_UNAVAILABLE,
        idempotency_key="access-refund",
    )
    grant = wallet_grant_credit(
        actor=owner,
        buyer=buyer,
        issuer=owner,
        currency="PHP",
        amount_minor=5_000,
        kind="goodwill",
        description="Sorry for the delay",
        idempotency_key="access-grant",
    )
    world.objects["wallet.creditgrant"] = grant
    world.objects["wallet.walletentry"] = grant.wallet.entries.order_by("id").first()


def _reconciliation_rows(world: World) -> None:
    statement = import_file(world.method, GCASH_STATEMENT.encode(), preset="gcash")
    run = reconcile_account(payment_method_id=world.method.pk, actor=world.method.owner)
    world.objects["payments.statement"] = statement
    world.objects["payments.statementline"] = statement.lines.order_by("id").first()
    world.objects["payments.reconciliationrun"] = run
    world.objects["payments.discrepancy"] = (
        Discrepancy.objects.filter(payment_method=world.method).order_by("id").first()
    )
    world.objects["payments.statementmapping"] = StatementMapping.objects.create(
        name="Access bank", date_column="Date", amount_column="Amount"
    )


def _webhook_rows(world: World, owner: Any) -> None:
    endpoint = Endpoint.objects.create(
        owner=owner,
        url="https://hooks.example.test/gomflow",
        event_types=[EventType.SUBMISSION_VERIFIED],
        secrets=["whsec_dGVzdHNlY3JldHRlc3RzZWNyZXR0ZXN0c2VjcmV0"],
    )
    delivery = Delivery.objects.create(
        endpoint=endpoint,
        event_id="msg_access",
        event_type=EventType.SUBMISSION_VERIFIED,
        payload={"type": "submission.verified"},
        status=Delivery.Status.FAILED,
        attempt_count=1,
    )
    Attempt.objects.create(delivery=delivery, status_code=500, duration_ms=12)
    world.objects["webhooks.endpoint"] = endpoint
    world.objects["webhooks.delivery"] = delivery


def _operations_rows(world: World, users: dict[str, Any]) -> None:
    """Rows of the framework models the admin shows (logins, schedules, tokens, imports)."""
    now = timezone.now()
    objects = world.objects
    objects["auth.group"] = Group.objects.get(name=GOM_GROUP)
    objects["accounts.user"] = users["buyer"]
    Token.objects.create(user=users["owner"])
    # The token admin's pages are keyed by the user, through DRF's proxy model.
    objects["authtoken.tokenproxy"] = TokenProxy.objects.get(user=users["owner"])
    objects["axes.accessattempt"] = AccessAttempt.objects.create(
        username="owner@access.test",
        ip_address="203.0.113.9",
        user_agent="pytest",
        get_data="",
        post_data="",
        http_accept="*/*",
        path_info="/admin/login/",
        failures_since_start=1,
    )
    login = {
        "username": "owner@access.test",
        "ip_address": "203.0.113.9",
        "user_agent": "pytest",
        "http_accept": "*/*",
        "path_info": "/admin/login/",
    }
    objects["axes.accesslog"] = AccessLog.objects.create(**login)
    objects["axes.accessfailurelog"] = AccessFailureLog.objects.create(**login)
    interval, _ = IntervalSchedule.objects.get_or_create(every=17, period=IntervalSchedule.MINUTES)
    objects["django_celery_beat.intervalschedule"] = interval
    objects["django_celery_beat.crontabschedule"] = CrontabSchedule.objects.create(minute="7")
    objects["django_celery_beat.solarschedule"] = SolarSchedule.objects.create(
        event="sunrise", latitude=14.6, longitude=121.0
    )
    objects["django_celery_beat.clockedschedule"] = ClockedSchedule.objects.create(
        clocked_time=now + timedelta(days=1)
    )
    objects["django_celery_beat.periodictask"] = PeriodicTask.objects.create(
        name="access-matrix", task="ops.tasks.noop", interval=interval, enabled=False
    )
    objects["outbox.message"] = Message.objects.create(
        topic="email", payload={"to": "buyer@access.test"}, key="access-message"
    )
    batch = ImportBatch.objects.create(name="access-batch", source="gomflow-old")
    objects["legacy.importbatch"] = batch
    objects["legacy.legacyidmap"] = LegacyIdMap.objects.create(
        batch=batch,
        legacy_table="orders",
        legacy_id="42",
        target_model="payments.grouporder",
        target_id=str(world.order.pk),
        created=False,
    )
    # Made here (not a migration's row) so it has a past version for simple-history's page.
    objects["payments.feerule"] = FeeRule.objects.create(
        method_type="gcash",
        currency="PHP",
        percent_basis_points=150,
        effective_from=now.date() + timedelta(days=365),
        note="access matrix",
    )


def _protection_rows(world: World, users: dict[str, Any]) -> None:
    """A fraud check hit on the owner's order and a day of rolled-up metrics."""
    world.objects["fraud.fraudlog"] = FraudLog.objects.create(
        rule=Rule.AMOUNT_OVER_LIMIT,
        buyer=users["buyer"],
        submission=world.submission,
        group_order=world.order,
        details={"amount_minor": 3_000_000, "limit_minor": 2_500_000, "currency": "PHP"},
    )
    world.objects["ops.dailymetric"] = DailyMetric.objects.create(
        date=timezone.localdate() - timedelta(days=1),
        currency="PHP",
        submissions_placed=2,
        computed_at=timezone.now(),
    )


def build_world() -> World:
    """Create every object of the matrix; the caller owns the transaction."""
    users = _users()
    world = World(users=users)
    owner, other_gom = users["owner"], users["other_gom"]
    world.method = account("ph-gcash", owner=owner)
    world.order = GroupOrderFactory(
        owner=owner,
        title="Owner's order",
        refunds_accepted_until=timezone.now() + timedelta(days=30),
    )
    world.order.accepted_methods.add(world.method)
    GroupOrderItemFactory(group_order=world.order)
    grouporder_grant_access(
        actor=owner, group_order=world.order, assistant=users["assistant"], level="verify"
    )
    world.other_order = GroupOrderFactory(owner=other_gom, title="Other GOM's order")
    world.other_submission = SubmissionFactory(
        group_order=world.other_order, buyer=users["other_buyer"]
    )
    world.submission = queued(group_order=world.order, buyer=users["buyer"], method=world.method)
    world.proof = world.submission.proofs.get()
    _money_rows(world, users)
    _reconciliation_rows(world)
    _webhook_rows(world, owner)
    _operations_rows(world, users)
    _protection_rows(world, users)
    world.objects.update(
        {
            "payments.grouporder": world.order,
            "payments.paymentmethod": world.method,
            "payments.submission": world.submission,
            "payments.payment": world.payment,
            "payments.refund": world.refund,
            "verification.paymentproof": world.proof,
            "verification.proofreview": review_of(world.submission),
            "audit.auditevent": _audit_event_of(world.order),
        }
    )
    assert world.submission.status == SubmissionStatus.PROOF_SUBMITTED
    assert Submission.objects.filter(group_order=world.order).count() == 2
    return world


def _audit_event_of(target: Any) -> Any:
    from django.contrib.contenttypes.models import ContentType

    from audit.models import AuditEvent

    content_type = ContentType.objects.get_for_model(target)
    return AuditEvent.objects.filter(object_type=content_type).order_by("id").first()


def world_in_rolled_back_transaction(django_db_blocker: Any) -> Iterator[World]:
    """Yield a world built in a transaction that is rolled back when the module is done."""
    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            # Production-strength password hashing would cost a third of a second a user.
            with override_settings(
                PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]
            ):
                world = build_world()
            yield world
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)
