"""A Hypothesis state machine drives the wallet against a simple model and checks every invariant.

Steps: grants (some expiring), credit applies, time passing with the daily expiry, refunds to the
wallet, voids of credit payments (which reverse the spend) and reversals of grants. After each
step: balance = sum of ledger entries = sum of remaining amounts of active grants = the model's
balance >= 0, 0 <= remaining <= amount on every grant, every entry's key unique.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import count

import pytest
import time_machine
from django.db.models import Count, Sum
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from payments.models import Payment
from payments.money import services as money
from tests.factories import GroupOrderFactory, SubmissionFactory, UserFactory
from tests.money.helpers import record
from wallet.exceptions import InsufficientCredit
from wallet.models import CreditGrant, Wallet, WalletEntry
from wallet.services import wallet_expire_credits, wallet_grant_credit, wallet_reverse

_keys = count()


@dataclass
class ModelGrant:
    pk: int
    remaining: int
    expires_at: datetime | None
    is_open: bool = True  # not expired, not reversed
    order: int = 0


@dataclass
class ModelApply:
    payment: Payment
    taken: list[tuple[int, int]] = field(default_factory=list)  # (grant pk, amount)
    is_voided: bool = False


class WalletMachine(RuleBasedStateMachine):
    @initialize()
    def start(self) -> None:
        self.traveller = time_machine.travel(timezone.now(), tick=False)
        self.clock = self.traveller.start()
        self.order = GroupOrderFactory(
            payment_deadline=timezone.now() + timedelta(days=400),
            order_deadline=timezone.now() + timedelta(days=300),
        )
        self.gom = self.order.owner
        self.buyer = UserFactory()
        self.grants: dict[int, ModelGrant] = {}
        self.applies: list[ModelApply] = []

    def teardown(self) -> None:
        if hasattr(self, "traveller"):
            self.traveller.stop()

    # --- the model

    def balance(self) -> int:
        return sum(g.remaining for g in self.grants.values() if g.is_open)

    def _add_grant(self, grant: CreditGrant) -> None:
        self.grants[grant.pk] = ModelGrant(
            grant.pk, grant.amount_minor, grant.expires_at, order=len(self.grants)
        )

    def _expire_model(self) -> None:
        now = timezone.now()
        for grant in self.grants.values():
            if grant.is_open and grant.expires_at is not None and grant.expires_at <= now:
                grant.is_open = False
                grant.remaining = 0

    # --- the steps

    @rule(
        amount=st.integers(min_value=1, max_value=50_000),
        days=st.one_of(st.none(), st.integers(min_value=1, max_value=10)),
    )
    def grant(self, amount: int, days: int | None) -> None:
        expires_at = timezone.now() + timedelta(days=days) if days else None
        grant = wallet_grant_credit(
            actor=self.gom,
            buyer=self.buyer,
            issuer=self.gom,
            currency="PHP",
            amount_minor=amount,
            kind="goodwill",
            description="model grant",
            idempotency_key=f"grant-{next(_keys)}",
            expires_at=expires_at,
        )
        self._add_grant(grant)

    @rule(amount=st.integers(min_value=1, max_value=80_000))
    def apply(self, amount: int) -> None:
        submission = SubmissionFactory(
            group_order=self.order, buyer=self.buyer, amount_due_minor=amount
        )
        self._expire_model()
        expected_ok = self.balance() >= amount
        try:
            payment = money.wallet_apply_credit(
                actor=self.buyer,
                submission=submission,
                amount_minor=amount,
                idempotency_key=f"apply-{next(_keys)}",
            )
        except InsufficientCredit:
            assert not expected_ok
            return
        assert expected_ok
        taken, left = [], amount
        spendable = sorted(
            (g for g in self.grants.values() if g.is_open and g.remaining > 0),
            key=lambda g: (g.expires_at is None, g.expires_at or timezone.now(), g.order),
        )
        for grant in spendable:
            part = min(left, grant.remaining)
            if part:
                grant.remaining -= part
                taken.append((grant.pk, part))
                left -= part
        assert left == 0
        self.applies.append(ModelApply(payment, taken))

    @rule(days=st.integers(min_value=1, max_value=6))
    def time_passes(self, days: int) -> None:
        self.clock.shift(timedelta(days=days))
        wallet_expire_credits()
        self._expire_model()

    @rule(amount=st.integers(min_value=1, max_value=40_000))
    def refund_to_wallet(self, amount: int) -> None:
        submission = SubmissionFactory(
            group_order=self.order, buyer=self.buyer, amount_due_minor=amount
        )
        payment = record(
            [(submission, amount)],
            amount,
            key=f"pay-{next(_keys)}",
            paid_at=timezone.now() - timedelta(minutes=1),
        )
        refund = money.refund_request(
            actor=self.buyer,
            payment=payment,
            amount_minor=amount,
            destination="wallet",
            reason="item_unavailable",
            idempotency_key=f"refund-{next(_keys)}",
        )
        refund = money.refund_approve(actor=self.gom, refund=refund)
        self._add_grant(refund.credit_grant)

    @precondition(lambda self: any(not a.is_voided for a in self.applies))
    @rule(data=st.data())
    def void_credit_payment(self, data: st.DataObject) -> None:
        live = [a for a in self.applies if not a.is_voided]
        chosen = data.draw(st.sampled_from(live))
        money.payment_void(actor=self.gom, payment=chosen.payment, reason="model void")
        chosen.is_voided = True
        now = timezone.now()
        for pk, part in chosen.taken:
            grant = self.grants[pk]
            # Credit returned to a grant that expired or was taken back closes again at once.
            if grant.is_open and (grant.expires_at is None or grant.expires_at > now):
                grant.remaining += part

    @precondition(lambda self: any(g.is_open and g.remaining for g in self.grants.values()))
    @rule(data=st.data())
    def reverse_grant(self, data: st.DataObject) -> None:
        self._expire_model()
        candidates = [g for g in self.grants.values() if g.is_open and g.remaining]
        if not candidates:
            return
        chosen = data.draw(st.sampled_from(candidates))
        grant = CreditGrant.objects.get(pk=chosen.pk)
        wallet_reverse(
            actor=self.gom,
            operation_key=grant.idempotency_key,
            reason="model reversal",
            idempotency_key=f"reverse-{next(_keys)}",
        )
        chosen.is_open = False
        chosen.remaining = 0

    # --- the invariants

    @invariant()
    def balances_agree(self) -> None:
        if not hasattr(self, "buyer"):
            return
        wallet = Wallet.objects.filter(buyer=self.buyer).first()
        if wallet is None:
            assert self.balance() == 0
            return
        ledger = wallet.entries.aggregate(t=Sum("amount_minor"))["t"] or 0
        remaining = (
            wallet.grants.filter(status="active").aggregate(t=Sum("remaining_minor"))["t"] or 0
        )
        assert wallet.balance_minor == ledger == remaining == self.balance() >= 0
        for grant in wallet.grants.all():
            assert 0 <= grant.remaining_minor <= grant.amount_minor
            assert grant.remaining_minor == self.grants[grant.pk].remaining
        keys = wallet.entries.values("idempotency_key").annotate(n=Count("id")).filter(n__gt=1)
        assert not keys.exists()
        last = wallet.entries.order_by("-id").first()
        assert last is None or last.balance_after_minor == wallet.balance_minor


@pytest.mark.django_db
def test_wallet_invariants_hold_under_any_sequence_of_operations() -> None:
    WalletMachine.TestCase.settings = settings(
        max_examples=30,
        stateful_step_count=15,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    from hypothesis.stateful import run_state_machine_as_test

    run_state_machine_as_test(WalletMachine, settings=WalletMachine.TestCase.settings)
    assert WalletEntry.objects.exists()
