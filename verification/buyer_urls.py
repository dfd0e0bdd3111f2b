from django.urls import path

from verification import buyer_views

app_name = "buyer"

urlpatterns = [
    path("s/<str:code>/", buyer_views.submission_status, name="submission-status"),
    path("s/<str:code>/receipt.pdf", buyer_views.submission_receipt, name="submission-receipt"),
]
