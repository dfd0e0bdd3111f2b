"""The payments app's API routes, included under ``api/`` by config/urls.py."""

from django.urls import path

from payments.api import ApplyCreditView, PaymentRecordView, RefundRequestView, ScheduleView

urlpatterns = [
    path("payments", PaymentRecordView.as_view(), name="api-payment-record"),
    path("payments/<int:pk>/refunds", RefundRequestView.as_view(), name="api-refund-request"),
    path("submissions/<int:pk>/apply-credit", ApplyCreditView.as_view(), name="api-apply-credit"),
    path("submissions/<int:pk>/schedule", ScheduleView.as_view(), name="api-schedule"),
]
