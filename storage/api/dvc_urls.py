from django.urls import path, re_path

from storage.api.dvc_views import DvcDecodeView, TrainingRepoListView

urlpatterns = [
    # Keys contain slashes (files/md5/ab/cdef…); a trailing slash is optional.
    re_path(r"^dvc/decode/(?P<query>[^?#]+?)/?$", DvcDecodeView.as_view(), name="api-dvc-decode"),
    path("repos/", TrainingRepoListView.as_view(), name="api-repo-list"),
]
