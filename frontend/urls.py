from django.contrib.auth import views as auth_views
from django.urls import path

from frontend import access_views, lineage_views, views

app_name = "frontend"

urlpatterns = [
    path("", views.dataset_list, name="dataset-list"),
    path("datasets/new/", views.dataset_edit, name="dataset-create"),
    path("datasets/<str:slug>/", views.dataset_detail, name="dataset-detail"),
    path("datasets/<str:slug>/edit/", views.dataset_edit, name="dataset-edit"),
    path("datasets/<str:slug>/versions/<str:label>/", views.version_detail, name="version-detail"),
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
]

auth_urlpatterns = [
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
]
