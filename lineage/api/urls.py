from django.urls import path, re_path

from lineage.api.views import (
    ConsumerDependencyView,
    ImpactView,
    LineageEventSlashView,
    LineageEventView,
    ModelDetailView,
    ModelListView,
    ReadinessView,
    TrainingReportView,
)

urlpatterns = [
    # The openlineage-python HTTP transport posts to "api/v1/lineage" with no trailing slash.
    path("lineage", LineageEventView.as_view(), name="api-lineage-events"),
    path("lineage/", LineageEventSlashView.as_view(), name="api-lineage-events-slash"),
    re_path(r"^lineage/trainings/?$", TrainingReportView.as_view(), name="api-lineage-trainings"),
    re_path(r"^datasets/(?P<slug>[^/]+)/versions/(?P<label>[^/]+)/impact/?$", ImpactView.as_view(),
            name="api-version-impact"),
    re_path(r"^datasets/(?P<slug>[^/]+)/readiness/?$", ReadinessView.as_view(), name="api-dataset-readiness"),
    path("models/", ModelListView.as_view(), name="api-model-list"),
    path("consumers/", ConsumerDependencyView.as_view(), name="api-consumer-dependencies"),
    re_path(r"^models/(?P<name>[A-Za-z0-9][A-Za-z0-9._/-]*?)/?$", ModelDetailView.as_view(), name="api-model-detail"),
]
