from django.urls import path

from wallet.api import WalletView

urlpatterns = [
    path("wallet", WalletView.as_view(), name="api-wallet"),
]
