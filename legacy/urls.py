from django.urls import path
from django.views.generic import TemplateView

from legacy.views import ClaimAccountView

app_name = "legacy"

urlpatterns = [
    path("claim/<uidb64>/<token>/", ClaimAccountView.as_view(), name="claim"),
    path(
        "claim/done/",
        TemplateView.as_view(template_name="legacy/claim_done.html"),
        name="claim-done",
    ),
]
