"""The buyer's wallet page: store credit per GOM, grants with their expiry, and the history."""

from django.contrib.auth.decorators import login_required
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from wallet.models import CreditGrant, WalletEntry
from wallet.selectors import wallet_list_for_buyer


@login_required
def wallet_page(request: HttpRequest) -> HttpResponse:
    wallets = wallet_list_for_buyer(request.user).prefetch_related(
        Prefetch(
            "grants",
            queryset=CreditGrant.objects.filter(status=CreditGrant.Status.ACTIVE).order_by(
                "expires_at", "id"
            ),
            to_attr="active_grants",
        ),
        Prefetch(
            # The latest 50 lines per wallet; PostgreSQL windows the slice in one query.
            "entries",
            queryset=WalletEntry.objects.order_by("-id")[:50],
            to_attr="recent_entries",
        ),
    )
    return render(request, "wallet/wallet.html", {"wallets": wallets})
