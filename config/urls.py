from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from core import views as core_views

admin.site.site_header = "GOMFlow Payments"
admin.site.site_title = "GOMFlow Payments"
admin.site.index_title = "Back office"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("manifest.webmanifest", core_views.manifest, name="manifest"),
    path("sw.js", core_views.service_worker, name="service-worker"),
    path("api/", include("ops.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("", include("payments.buyer_urls")),
    path("", include("verification.buyer_urls")),
    path("", include("wallet.buyer_urls")),
    path("api/", include("payments.urls")),
    path("api/", include("wallet.urls")),
    path("", include("verification.urls")),
    path("", include("accounts.urls")),
    path("", include("legacy.urls")),
]
