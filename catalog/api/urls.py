from django.urls import path
from rest_framework.routers import SimpleRouter

from catalog.api.access_views import (
    AccessRequestDecisionView,
    AccessRequestInboxView,
    AccessRequestListView,
    AccessRequestWithdrawView,
    AuditEventListView,
    DatasetGrantsView,
    GrantRevokeView,
    PersonDepartView,
)
from catalog.api.export_views import CatalogDcatView, DatasetExportView
from catalog.api.import_views import CroissantImportView
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
    path("datasets/<str:slug>/export/<str:export_format>/", DatasetExportView.as_view(), name="api-dataset-export"),
    path("imports/croissant/", CroissantImportView.as_view(), name="api-import-croissant"),
    path("catalog/dcat/", CatalogDcatView.as_view(), name="api-catalog-dcat"),
    path("units/", OrgUnitListView.as_view(), name="api-unit-list"),
    path("datasets/<str:slug>/grants/", DatasetGrantsView.as_view(), name="api-dataset-grants"),
    path("grants/<int:grant_id>/revoke/", GrantRevokeView.as_view(), name="api-grant-revoke"),
    path("access-requests/", AccessRequestListView.as_view(), name="api-request-list"),
    path("access-requests/inbox/", AccessRequestInboxView.as_view(), name="api-request-inbox"),
    path("access-requests/<int:request_id>/decision/", AccessRequestDecisionView.as_view(),
         name="api-request-decision"),
    path("access-requests/<int:request_id>/withdraw/", AccessRequestWithdrawView.as_view(),
         name="api-request-withdraw"),
    path("audit/", AuditEventListView.as_view(), name="api-audit"),
    path("people/<str:external_id>/depart/", PersonDepartView.as_view(), name="api-person-depart"),
    *router.urls,
]
