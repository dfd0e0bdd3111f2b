"""Permission-scoped reads of wallets, grants and the ledger."""

from typing import Any

from django.db.models import QuerySet

from wallet.models import CreditGrant, Wallet, WalletEntry

# Finance's model permission lives in the payments app; the wallet only needs its name.
FINANCE_PERMISSION = "payments.view_all_orders"


def _sees_everything(user: Any) -> bool:
    return bool(user.is_superuser or user.has_perm(FINANCE_PERMISSION))


def _is_anonymous(user: Any) -> bool:
    return user is None or not user.is_authenticated or not user.is_active


def wallet_list_for_buyer(buyer: Any) -> QuerySet[Wallet]:
    """Return a buyer's own wallets (one per GOM and currency)."""
    if _is_anonymous(buyer):
        return Wallet.objects.none()
    return Wallet.objects.filter(buyer=buyer).select_related("issuer").order_by("currency", "id")


def wallet_list_for_user(user: Any) -> QuerySet[Wallet]:
    """Return the wallets a staff user may see: those they owe, or all for finance."""
    if _is_anonymous(user):
        return Wallet.objects.none()
    if _sees_everything(user):
        return Wallet.objects.all()
    if not user.is_staff:
        return Wallet.objects.none()
    return Wallet.objects.filter(issuer=user)


def creditgrant_list_for_user(user: Any) -> QuerySet[CreditGrant]:
    """Return the grants a staff user may see (of the wallets they owe, or all for finance)."""
    return CreditGrant.objects.filter(wallet__in=wallet_list_for_user(user).values("pk"))


def walletentry_list_for_user(user: Any) -> QuerySet[WalletEntry]:
    """Return the ledger lines a staff user may see."""
    return WalletEntry.objects.filter(wallet__in=wallet_list_for_user(user).values("pk"))


def creditgrant_list_for_buyer(buyer: Any) -> QuerySet[CreditGrant]:
    """Return a buyer's grants that still hold credit, soonest-expiring first."""
    return CreditGrant.objects.filter(
        wallet__in=wallet_list_for_buyer(buyer).values("pk"),
        status=CreditGrant.Status.ACTIVE,
    ).order_by("expires_at", "created_at", "id")
