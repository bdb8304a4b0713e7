from django.urls import path, re_path

from storage.api.dvc_remote_views import DvcRemoteView, DvcUnreferencedExportView
from storage.api.views import (
    ConnectionDetailView,
    ConnectionListView,
    ConnectionScanView,
    FindingAssignView,
    FindingClaimView,
    FindingDetailView,
    FindingDismissView,
    FindingListView,
    ScanRunDetailView,
    ScanRunListView,
)

urlpatterns = [
    path("storage/connections/", ConnectionListView.as_view(), name="api-storage-connections"),
    path("storage/connections/<slug:name>/", ConnectionDetailView.as_view(), name="api-storage-connection"),
    path("storage/connections/<slug:name>/scans/", ConnectionScanView.as_view(), name="api-storage-connection-scan"),
    path("storage/connections/<slug:name>/dvc/", DvcRemoteView.as_view(), name="api-storage-dvc-remote"),
    re_path(r"^storage/connections/(?P<name>[-a-zA-Z0-9_]+)/dvc/unreferenced\.(?P<extension>csv|json)$",
            DvcUnreferencedExportView.as_view(), name="api-storage-dvc-unreferenced"),
    path("storage/scans/", ScanRunListView.as_view(), name="api-storage-scans"),
    path("storage/scans/<int:run_id>/", ScanRunDetailView.as_view(), name="api-storage-scan"),
    path("storage/findings/", FindingListView.as_view(), name="api-storage-findings"),
    path("storage/findings/<int:finding_id>/", FindingDetailView.as_view(), name="api-storage-finding"),
    path("storage/findings/<int:finding_id>/claim/", FindingClaimView.as_view(), name="api-storage-finding-claim"),
    path("storage/findings/<int:finding_id>/assign/", FindingAssignView.as_view(),
         name="api-storage-finding-assign"),
    path("storage/findings/<int:finding_id>/dismiss/", FindingDismissView.as_view(),
         name="api-storage-finding-dismiss"),
]
