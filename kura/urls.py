from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from frontend.urls import auth_urlpatterns
from kura import health
from kura.api.errors import api_not_found

handler500 = "kura.api.errors.server_error"

urlpatterns = [
    path("livez", health.livez, name="livez"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("api/v1/", include("catalog.api.urls")),
    path("api/v1/", include("access.api.urls")),
    path("api/v1/", include("storage.api.urls")),
    path("api/v1/", include("annotations.api.urls")),
    path("api/v1/", include("lineage.api.urls")),
    path("api/v1/", include("storage.api.dvc_urls")),
    # Any character, a newline too (<path:> stops at one): no /api/ address falls through to an HTML page.
    re_path(r"^api/(?P<rest>[\s\S]*)\Z", api_not_found),
    *auth_urlpatterns,
    path("", include("frontend.urls")),
]
