from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, status
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from access.selectors import person_for_user
from catalog.models import Dataset, DatasetVersion
from catalog.selectors import DatasetNotFound, VersionNotFound, dataset_resolve, version_resolve
from kura.api.errors import NOT_FOUND_MESSAGE, Conflict
from lineage.api.parsers import MaybeGzipJSONParser
from lineage.api.serializers import (
    ConsumerDependencySerializer,
    ConsumerSerializer,
    ModelListSerializer,
    ModelVersionDetailSerializer,
    ModelVersionSummarySerializer,
    RunSerializer,
    TrainingReportSerializer,
)
from lineage.openlineage import MalformedEvent
from lineage.selectors import (
    impact_of_version,
    model_get,
    model_list,
    model_version_lineage,
    model_versions_named,
    release_readiness,
)
from lineage.services import (
    LineageConflict,
    LineageCycle,
    consumer_depend,
    lineage_event_ingest,
    training_report,
)


class MalformedEventError(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "The lineage event is malformed."
    default_code = "malformed_event"


def _conflict(error: LineageCycle | LineageConflict) -> Conflict:
    code = "lineage_cycle" if isinstance(error, LineageCycle) else "lineage_conflict"
    return Conflict(error.message, code=code)


def _dataset_or_404(request: Request, slug: str) -> Dataset:
    try:
        return dataset_resolve(user=request.user, slug=slug, related=()).dataset
    except DatasetNotFound as missing:
        raise exceptions.NotFound(NOT_FOUND_MESSAGE) from missing


class LineageEventView(APIView):
    """OpenLineage intake: ``POST /api/v1/lineage`` as the openlineage-python HTTP transport sends it."""

    parser_classes = [MaybeGzipJSONParser]

    @extend_schema(
        summary="Receive an OpenLineage run event (JSON, optionally gzip; read-write token)",
        request=OpenApiTypes.OBJECT,
        responses={
            201: OpenApiResponse(description="Stored"),
            200: OpenApiResponse(description="Already received (same digest)"),
            400: OpenApiResponse(description="Malformed event; nothing stored"),
            409: OpenApiResponse(description="The event would make a model version depend on itself"),
        },
    )
    def post(self, request: Request) -> Response:
        try:
            result = lineage_event_ingest(
                payload=request.data, user=request.user, actor=person_for_user(request.user)
            )
        except MalformedEvent as error:
            raise MalformedEventError(error.reason) from error
        except (LineageCycle, LineageConflict) as error:
            raise _conflict(error) from error
        run = result.event.run
        body = {
            "status": "created" if result.created else "duplicate",
            "digest": result.event.digest,
            "run_id": run.external_run_id if run is not None else None,
            "run_status": run.status if run is not None else None,
        }
        return Response(body, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)


@extend_schema_view(post=extend_schema(exclude=True))
class LineageEventSlashView(LineageEventView):
    """The same intake with a trailing slash, for hand-written clients; documented once, without it."""


def _trained_on(request: Request, specs: list[str]) -> list[DatasetVersion]:
    versions: list[DatasetVersion] = []
    errors: list[str] = []
    for spec in specs:
        slug, sep, label = spec.removeprefix("kura://").partition("@")
        try:
            dataset = dataset_resolve(user=request.user, slug=slug, related=()).dataset
            versions.append(version_resolve(dataset=dataset, label=label if sep else "latest"))
        except (DatasetNotFound, VersionNotFound):
            errors.append(f"'{spec}' is not a published dataset version you can see.")
    if errors:
        raise exceptions.ValidationError({"trained_on": errors})
    return versions


class TrainingReportView(APIView):
    @extend_schema(
        summary="Report that model M version V was trained on slug@label by run R (read-write token)",
        request=TrainingReportSerializer,
        responses={201: OpenApiTypes.OBJECT},
    )
    def post(self, request: Request) -> Response:
        serializer = TrainingReportSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        trained_on = _trained_on(request, data.pop("trained_on"))
        try:
            report = training_report(actor=person_for_user(request.user), trained_on=trained_on, **data)
        except (LineageCycle, LineageConflict) as error:
            raise _conflict(error) from error
        body = {
            "run": RunSerializer(report.run).data,
            "model_version": ModelVersionSummarySerializer(report.model_version).data,
            "trained_on": [str(version) for version in trained_on],
        }
        return Response(body, status=status.HTTP_201_CREATED)


class ImpactView(APIView):
    @extend_schema(summary="Everything downstream of a dataset version, transitively", responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, slug: str, label: str) -> Response:
        dataset = _dataset_or_404(request, slug)
        try:
            version = version_resolve(dataset=dataset, label=label)
        except VersionNotFound as missing:
            raise exceptions.NotFound(
                f"Dataset '{dataset.slug}' has no published version '{label}'.", code="version_not_found"
            ) from missing
        impact = impact_of_version(version=version)
        return Response({
            "dataset": dataset.slug,
            "version": version.label,
            "runs": RunSerializer(impact.runs, many=True).data,
            "model_versions": ModelVersionSummarySerializer(impact.model_versions, many=True).data,
            "models": [model.name for model in impact.models],
            "consumers": ConsumerSerializer(impact.consumers, many=True).data,
        })


class ReadinessView(APIView):
    @extend_schema(
        summary="Which models trained on this dataset have no staging/production version on its newest version",
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request: Request, slug: str) -> Response:
        readiness = release_readiness(dataset=_dataset_or_404(request, slug))
        models: list[dict[str, Any]] = [
            {
                "model": entry.model.name,
                "owner": entry.model.owner.external_id if entry.model.owner else None,
                "trained_on": entry.trained_on,
                "ready": entry.ready,
                "ready_versions": [f"{version.version} ({version.stage})" for version in entry.ready_versions],
                "consumers": entry.consumers,
            }
            for entry in readiness.models
        ]
        return Response({
            "dataset": readiness.dataset.slug,
            "newest_version": readiness.newest.label if readiness.newest else None,
            "ready": not readiness.lagging,
            "models": models,
        })


class ModelListView(ListAPIView):
    serializer_class = ModelListSerializer

    def get_queryset(self) -> Any:
        return model_list()

    @extend_schema(summary="Models and their versions")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class ModelDetailView(APIView):
    @extend_schema(summary="A model: versions, stages, what each was trained on, consumers",
                   responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, name: str) -> Response:
        model = model_get(name=name)
        if model is None:
            raise exceptions.NotFound(NOT_FOUND_MESSAGE)
        versions = list(model.versions.select_related("model", "produced_by").order_by("-created_at"))
        lineage = model_version_lineage(user=request.user, versions=versions)
        return Response({
            **ModelListSerializer(model).data,
            "versions": ModelVersionDetailSerializer(versions, many=True, context={"lineage": lineage}).data,
        })


class ConsumerDependencyView(APIView):
    @extend_schema(
        summary="Declare that a consumer (threshold, API endpoint) depends on model versions (read-write token)",
        request=ConsumerDependencySerializer,
        responses={201: ConsumerSerializer},
    )
    def post(self, request: Request) -> Response:
        serializer = ConsumerDependencySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        versions, missing = model_versions_named(data["depends_on"])
        if missing:
            unknown = [f"'{spec}' is not a known model version." for spec in missing]
            raise exceptions.ValidationError({"depends_on": unknown})
        consumer = consumer_depend(name=data["name"], model_versions=versions, kind=data["kind"],
                                   owner=person_for_user(request.user), description=data["description"])
        return Response(ConsumerSerializer(consumer).data, status=status.HTTP_201_CREATED)
