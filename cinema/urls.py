from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerView

from apps.api.schema_views import SchemaView
from apps.ops import health

api_v1 = [
    path("", include("apps.catalog.urls")),
    path("", include("apps.rooms.urls")),
    path("", include("apps.sessions.urls")),
    path("", include("apps.bookings.urls")),
    path("", include("apps.payments.urls")),
    path("", include("apps.stats.urls")),
]

urlpatterns = [
    path("health", health.liveness, name="health"),
    path("health/ready", health.readiness, name="health-ready"),
    path("", include("django_prometheus.urls")),  # /metrics
    path("admin/", admin.site.urls),
    path("_allauth/", include("allauth.headless.urls")),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SchemaView.as_view(), name="schema"),
    path("api-docs", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api-docs/redoc", SpectacularRedocView.as_view(url_name="schema"), name="api-docs-redoc"),
]

handler500 = "apps.api.views.server_error"
handler400 = "apps.api.views.bad_request"
