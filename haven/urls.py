from django.contrib import admin
from django.urls import include, path

from haven.api import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("haven.core.urls")),
    path("", include("haven.registry.urls")),
    path("identity/", include("haven.identity.urls")),
    path("reports/", include("haven.reports.urls")),
    path("tracing/", include("haven.tracing.urls")),
    path("shelters/", include("haven.shelter.urls")),
    path("assistance/", include("haven.assistance.urls")),
    path("find/", include("haven.tracing.public_urls")),
]

# A database error outside a view (in a middleware) is a 503 too (haven/core/middleware.py).
handler500 = "haven.core.middleware.server_error"
