from django.urls import path

from wallet import views

app_name = "wallet"

urlpatterns = [path("wallet/", views.wallet_page, name="wallet")]
