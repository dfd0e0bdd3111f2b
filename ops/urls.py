from django.urls import path

from ops import views

app_name = "ops"

urlpatterns = [
    path("health", views.HealthView.as_view(), name="health"),
    path("health/live", views.live, name="health-live"),
    path("health/database", views.DatabaseHealthView.as_view(), name="health-database"),
    path("health/redis", views.RedisHealthView.as_view(), name="health-redis"),
    path("health/payments", views.PaymentsHealthView.as_view(), name="health-payments"),
    path("metrics", views.MetricsView.as_view(), name="metrics"),
]
