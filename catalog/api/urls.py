from django.urls import path
from rest_framework.routers import SimpleRouter

from catalog.api.views import (
    DatasetViewSet,
    ManifestView,
    OrgUnitListView,
    VersionDetailView,
    VersionListView,
)

router = SimpleRouter()
router.register("datasets", DatasetViewSet, basename="api-dataset")

urlpatterns = [
    path("datasets/<str:slug>/versions/", VersionListView.as_view(), name="api-version-list"),
    path("datasets/<str:slug>/versions/<str:label>/", VersionDetailView.as_view(), name="api-version-detail"),
    path("datasets/<str:slug>/versions/<str:label>/manifest/", ManifestView.as_view(), name="api-version-manifest"),
    path("units/", OrgUnitListView.as_view(), name="api-unit-list"),
    *router.urls,
]
