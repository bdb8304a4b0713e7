from django.contrib.auth import views as auth_views
from django.urls import path

from frontend import access_views, dvc_views, guideline_views, import_views, lineage_views, storage_views, views

app_name = "frontend"

urlpatterns = [
    path("", views.dataset_list, name="dataset-list"),
    path("datasets/new/", views.dataset_edit, name="dataset-create"),
    path("datasets/import/croissant/", import_views.croissant_import, name="dataset-import-croissant"),
    path("datasets/successor-suggestions/", views.successor_suggestions, name="successor-suggestions"),
    path("datasets.csv", views.dataset_export, name="dataset-export"),
    path("datasets/<str:slug>/", views.dataset_detail, name="dataset-detail"),
    path("datasets/<str:slug>/edit/", views.dataset_edit, name="dataset-edit"),
    path("datasets/<str:slug>/versions/<str:label>/", views.version_detail, name="version-detail"),
    path("datasets/<str:slug>/guideline/", guideline_views.guideline, name="guideline"),
    path("datasets/<str:slug>/guideline/compare/", guideline_views.guideline_compare, name="guideline-compare"),
    path("datasets/<str:slug>/guideline/export.<str:fmt>", guideline_views.guideline_export, name="guideline-export"),
    path("datasets/<str:slug>/guideline/examples/", guideline_views.correction_example_create,
         name="guideline-example-create"),
    path("datasets/<str:slug>/guideline/examples/<int:pk>/<str:side>/", guideline_views.correction_example_file,
         name="guideline-example-file"),
    path("datasets/<str:slug>/lineage/", lineage_views.dataset_lineage, name="dataset-lineage"),
    path("models/", lineage_views.models, name="model-list"),
    path("models/<path:name>/", lineage_views.model_detail, name="model-detail"),
    path("datasets/<str:slug>/request-access/", access_views.access_request_new, name="access-request-create"),
    path("datasets/<str:slug>/grants/", access_views.grants, name="dataset-grants"),
    path("datasets/<str:slug>/grants/<int:grant_id>/revoke/", access_views.grant_revoke_view, name="grant-revoke"),
    path("access/requests/", access_views.my_requests, name="access-requests"),
    path("access/requests/<int:pk>/", access_views.request_detail, name="access-request"),
    path("access/requests/<int:pk>/decide/", access_views.request_decide, name="access-request-decide"),
    path("access/requests/<int:pk>/withdraw/", access_views.request_withdraw, name="access-request-withdraw"),
    path("access/inbox/", access_views.inbox, name="inbox"),
    path("access/inbox/badge/", access_views.inbox_badge, name="inbox-badge"),
    path("access/left-behind/", access_views.left_behind, name="left-behind"),
    path("access/left-behind/reassign/", access_views.left_behind_reassign, name="left-behind-reassign"),
    path("access/audit/", access_views.audit_log, name="audit"),
    path("access/org/", access_views.org_overview, name="org"),
    path("access/org/<str:kind>/", access_views.org_event, name="org-event"),
    path("storage/", storage_views.findings_dashboard, name="findings"),
    path("storage/findings/<int:pk>/", storage_views.finding_detail, name="finding"),
    path("storage/findings/<int:pk>/claim/", storage_views.finding_claim_view, name="finding-claim"),
    path("storage/findings/<int:pk>/assign/", storage_views.finding_assign_view, name="finding-assign"),
    path("storage/findings/<int:pk>/dismiss/", storage_views.finding_dismiss_view, name="finding-dismiss"),
    path("storage/scans/", storage_views.scans, name="scans"),
    path("storage/scans/<int:pk>/", storage_views.scan_detail, name="scan"),
    path("storage/connections/new/", storage_views.connection_new, name="connection-new"),
    path("storage/dvc-remotes/<int:pk>/", storage_views.dvc_remote, name="dvc-remote"),
    path("storage/connections/<int:pk>/scan/", storage_views.scan_start_view, name="scan-start"),
    path("dvc/decode/", dvc_views.dvc_decode, name="dvc-decode"),
    path("repos/", dvc_views.repo_list, name="repo-list"),
]

auth_urlpatterns = [
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
]
