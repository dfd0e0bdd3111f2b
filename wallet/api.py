"""The buyer's wallet over REST: balances, grants and the latest ledger entries."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.money import format_money
from wallet.selectors import wallet_list_for_buyer


class WalletView(APIView):
    """Your store credit: a balance per GOM and currency, the grants and the latest entries."""

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        wallets = []
        for wallet in wallet_list_for_buyer(request.user).prefetch_related("grants"):
            grants = [g for g in wallet.grants.all() if g.status == "active"]
            entries = list(wallet.entries.order_by("-id")[:20])
            wallets.append(
                {
                    "id": wallet.pk,
                    "gom": str(wallet.issuer),
                    "currency": wallet.currency,
                    "balance_minor": wallet.balance_minor,
                    "balance": format_money(wallet.balance_minor, wallet.currency),
                    "grants": [
                        {
                            "id": grant.pk,
                            "kind": grant.kind,
                            "amount_minor": grant.amount_minor,
                            "remaining_minor": grant.remaining_minor,
                            "expires_at": grant.expires_at.isoformat()
                            if grant.expires_at
                            else None,
                            "description": grant.description,
                        }
                        for grant in sorted(
                            grants,
                            key=lambda g: (
                                g.expires_at is None,
                                g.expires_at.timestamp() if g.expires_at else 0.0,
                                g.pk,
                            ),
                        )
                    ],
                    "entries": [
                        {
                            "kind": entry.kind,
                            "amount_minor": entry.amount_minor,
                            "balance_after_minor": entry.balance_after_minor,
                            "created_at": entry.created_at.isoformat(),
                            "reason": entry.reason,
                        }
                        for entry in entries
                    ],
                }
            )
        return Response({"wallets": wallets})
