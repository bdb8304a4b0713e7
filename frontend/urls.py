from django.contrib.auth import views as auth_views
from django.urls import path

from frontend import dvc_views, views

app_name = "frontend"

urlpatterns = [
    path("", views.dataset_list, name="dataset-list"),
    path("datasets/new/", views.dataset_edit, name="dataset-create"),
    path("datasets/<str:slug>/", views.dataset_detail, name="dataset-detail"),
    path("datasets/<str:slug>/edit/", views.dataset_edit, name="dataset-edit"),
    path("datasets/<str:slug>/versions/<str:label>/", views.version_detail, name="version-detail"),
    path("dvc/decode/", dvc_views.dvc_decode, name="dvc-decode"),
    path("repos/", dvc_views.repo_list, name="repo-list"),
]

auth_urlpatterns = [
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
]
