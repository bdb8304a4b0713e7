from django.urls import path, re_path

from annotations.api.views import GuidelineDiffView, GuidelineRevisionView, GuidelineView

urlpatterns = [
    path("datasets/<str:slug>/guideline/", GuidelineView.as_view(), name="api-guideline"),
    path("datasets/<str:slug>/guideline/revisions/<int:number>/", GuidelineRevisionView.as_view(),
         name="api-guideline-revision"),
    # "diff?from=1&to=2" as written in the docs, and with the trailing slash the rest of the API uses.
    re_path(r"^datasets/(?P<slug>[^/]+)/guideline/diff/?$", GuidelineDiffView.as_view(), name="api-guideline-diff"),
]
