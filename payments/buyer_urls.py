"""Buyer pages (the API routes live in payments/urls.py)."""

from django.urls import path

from payments import views

app_name = "payments"

urlpatterns = [
    path("o/<int:pk>/", views.group_order_detail, name="group-order"),
    path("s/<str:code>/pay/", views.submission_pay, name="submission-pay"),
    path("s/<str:code>/use-credit/", views.submission_apply_credit, name="submission-credit"),
    path("s/<str:code>/refund/", views.submission_refund, name="submission-refund"),
    path("qr/<int:pk>/", views.payment_method_qr, name="method-qr"),
]
