from django.urls import path

from verification import api, views

app_name = "verification"

urlpatterns = [
    path("orders/<str:code>/proof/", views.proof_upload, name="proof-upload"),
    path("proofs/<int:pk>/file/", views.proof_file, name="proof-file"),
    path("proofs/<int:pk>/thumbnail/", views.proof_thumbnail, name="proof-thumbnail"),
    path("api/verifications/bulk", api.BulkDecisionView.as_view(), name="api-bulk"),
    path("api/verifications/stats", api.StatsView.as_view(), name="api-stats"),
    path("api/verifications/queue/stream", api.QueueStreamView.as_view(), name="api-queue-stream"),
    path(
        "api/payment-methods/templates",
        api.PaymentMethodTemplatesView.as_view(),
        name="api-method-templates",
    ),
    path(
        "api/submissions/<int:pk>/payment-proof",
        api.SubmissionPaymentProofView.as_view(),
        name="api-payment-proof",
    ),
]
