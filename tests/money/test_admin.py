"""Admin pages of the money core: scoping per persona, the grant-credit screen, refund decisions."""

import pytest
from django.test import Client

from audit.models import AuditEvent
from payments.models import Refund
from payments.money import services as money
from tests.money.helpers import grant, record
from wallet.models import CreditGrant, WalletEntry

pytestmark = pytest.mark.django_db


def _client(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def money_rows(personas):  # type: ignore[no-untyped-def]
    payment = record([(personas.submission, 125_000)], 130_000)
    refund = money.refund_request(
        actor=personas.buyer,
        payment=payment,
        amount_minor=25_000,
        destination="original_method",
        reason="item_unavailable",
        idempotency_key="r1",
    )
    return payment, refund


PAGES = [
    "/admin/payments/payment/",
    "/admin/payments/refund/",
    "/admin/wallet/creditgrant/",
    "/admin/wallet/walletentry/",
]


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize(
    ("who", "sees_rows"),
    [("owner", True), ("assistant", None), ("other_gom", False), ("finance", True)],
)
def test_changelists_show_only_what_each_persona_may_see(
    personas, money_rows, page, who, sees_rows
) -> None:
    response = _client(getattr(personas, who)).get(page)
    if who == "assistant" and "wallet" in page:
        # Credit is owed by the GOM; an assistant sees no wallet.
        sees_rows = False
    elif who == "assistant":
        sees_rows = True
    assert response.status_code == 200
    count = response.context["cl"].result_count
    assert count == (1 if sees_rows else 0)


@pytest.mark.parametrize("page", PAGES)
def test_buyers_get_no_admin_pages(personas, money_rows, page) -> None:
    response = _client(personas.buyer).get(page)
    assert response.status_code == 302  # to the admin login


def test_another_goms_payment_page_is_404(personas, money_rows) -> None:
    payment, _refund = money_rows
    response = _client(personas.other_gom).get(f"/admin/payments/payment/{payment.pk}/change/")
    assert response.status_code == 404


def test_ledger_cannot_be_added_changed_or_deleted(personas, money_rows) -> None:
    client = _client(personas.owner)
    entry = WalletEntry.objects.get()
    assert client.get("/admin/wallet/walletentry/add/").status_code == 403
    assert client.get(f"/admin/wallet/walletentry/{entry.pk}/delete/").status_code == 403
    response = client.post(f"/admin/wallet/walletentry/{entry.pk}/change/", {"amount_minor": 1})
    assert response.status_code == 403
    assert WalletEntry.objects.get().amount_minor == 5_000


def _grant_form(order, email, reason="Late shipping", amount="150.00"):  # type: ignore[no-untyped-def]
    return {
        "group_order": order.pk,
        "buyer_email": email,
        "amount": amount,
        "kind": "goodwill",
        "reason": reason,
        "form_token": "tok-1",
    }


def test_owner_grants_credit_with_a_reason(personas) -> None:
    client = _client(personas.owner)
    response = client.post(
        "/admin/wallet/creditgrant/grant/", _grant_form(personas.order, personas.buyer.email)
    )
    assert response.status_code == 302
    created = CreditGrant.objects.get()
    assert (created.amount_minor, created.kind, created.description, created.granted_by) == (
        15_000,
        "goodwill",
        "Late shipping",
        personas.owner,
    )
    assert created.wallet.issuer == personas.owner
    # A double submit of the same page grants once.
    client.post(
        "/admin/wallet/creditgrant/grant/", _grant_form(personas.order, personas.buyer.email)
    )
    assert CreditGrant.objects.count() == 1
    assert AuditEvent.objects.filter(action="wallet.credit_granted").count() == 1


@pytest.mark.parametrize(
    ("who", "order_attr", "reason", "error_field"),
    [
        ("owner", "order", "", "reason"),
        ("other_gom", "order", "Late", "group_order"),
        ("owner", "other_order", "Late", "group_order"),
    ],
)
def test_grant_is_refused_without_reason_or_outside_own_orders(
    personas, who, order_attr, reason, error_field
) -> None:
    response = _client(getattr(personas, who)).post(
        "/admin/wallet/creditgrant/grant/",
        _grant_form(getattr(personas, order_attr), personas.buyer.email, reason=reason),
    )
    assert response.status_code == 200
    assert error_field in response.context["form"].errors
    assert CreditGrant.objects.count() == 0


def test_grant_to_someone_who_never_ordered_is_refused(personas) -> None:
    from tests.factories import UserFactory

    stranger = UserFactory()
    response = _client(personas.owner).post(
        "/admin/wallet/creditgrant/grant/", _grant_form(personas.order, stranger.email)
    )
    assert "buyer_email" in response.context["form"].errors
    assert CreditGrant.objects.count() == 0


def test_finance_cannot_grant_credit(personas) -> None:
    response = _client(personas.finance).post(
        "/admin/wallet/creditgrant/grant/", _grant_form(personas.order, personas.buyer.email)
    )
    assert response.status_code == 404
    assert CreditGrant.objects.count() == 0


def test_owner_rejects_then_cannot_mark_paid(personas, money_rows) -> None:
    _payment, refund = money_rows
    client = _client(personas.owner)
    url = f"/admin/payments/refund/{refund.pk}/decide/"
    response = client.post(url, {"decision": "reject", "rejection_reason": ""})
    assert response.status_code == 200
    assert "rejection_reason" in response.context["form"].errors
    assert Refund.objects.get().status == "requested"
    response = client.post(url, {"decision": "reject", "rejection_reason": "Already shipped"})
    assert response.status_code == 302
    assert (Refund.objects.get().status, Refund.objects.get().rejection_reason) == (
        "rejected",
        "Already shipped",
    )


def test_owner_approves_then_marks_paid_with_reference(personas, money_rows) -> None:
    _payment, refund = money_rows
    client = _client(personas.owner)
    url = f"/admin/payments/refund/{refund.pk}/decide/"
    client.post(url, {"decision": "approve"})
    assert Refund.objects.get().status == "approved"
    response = client.post(url, {"decision": "mark_paid", "payout_reference": ""})
    assert "payout_reference" in response.context["form"].errors
    client.post(url, {"decision": "mark_paid", "payout_reference": "GC-7788"})
    stored = Refund.objects.get()
    assert (stored.status, stored.payout_reference) == ("paid", "GC-7788")
    personas.submission.refresh_from_db()
    assert (personas.submission.status, personas.submission.refunded_minor) == (
        "partially_refunded",
        25_000,
    )


@pytest.mark.parametrize("who", ["assistant", "other_gom", "finance"])
def test_only_verifiers_decide_refunds(personas, money_rows, who) -> None:
    _payment, refund = money_rows
    response = _client(getattr(personas, who)).post(
        f"/admin/payments/refund/{refund.pk}/decide/", {"decision": "approve"}
    )
    assert response.status_code == 404
    assert Refund.objects.get().status == "requested"


def test_bulk_approve_action(personas, money_rows) -> None:
    _payment, refund = money_rows
    response = _client(personas.owner).post(
        "/admin/payments/refund/",
        {"action": "approve_selected", "_selected_action": [refund.pk]},
    )
    assert response.status_code == 302
    assert Refund.objects.get().status == "approved"
    assert AuditEvent.objects.filter(action="refund.approved").count() == 1


def test_ledger_page_shows_the_grant_entry(personas) -> None:
    grant(personas.buyer, personas.owner, 12_345, key="g")
    response = _client(personas.owner).get("/admin/wallet/walletentry/")
    assert response.status_code == 200
    assert response.context["cl"].result_count == 1


def test_refund_page_links_to_the_decision_screen(personas, money_rows) -> None:
    _payment, refund = money_rows
    response = _client(personas.owner).get(f"/admin/payments/refund/{refund.pk}/change/")
    assert response.status_code == 200
    assert f"/admin/payments/refund/{refund.pk}/decide/" in response.content.decode()
    decide = _client(personas.owner).get(f"/admin/payments/refund/{refund.pk}/decide/")
    assert decide.status_code == 200
    assert "₱250.00" in decide.content.decode()
