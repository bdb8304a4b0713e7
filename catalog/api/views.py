import json
from collections.abc import Iterator, Sequence
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from access.models import OrgUnit
from access.selectors import person_for_user
from catalog.api.headers import add_deprecation_headers
from catalog.api.plain_lookup import plain_lookup_response
from catalog.api.serializers import (
    DatasetDetailSerializer,
    DatasetListSerializer,
    DatasetWriteSerializer,
    VersionCreateSerializer,
    VersionSerializer,
)
from catalog.filtersets import DatasetFilterSet
from catalog.list_statements import dataset_list_rows
from catalog.models import Dataset, DatasetVersion
from catalog.search import counts_with_its_page
from catalog.selectors import (
    RESOLVE_RELATED,
    DatasetNotFound,
    VersionNotFound,
    dataset_can_change,
    dataset_can_read_data,
    dataset_list,
    dataset_resolve,
    deprecation_warnings,
    hide_unseen_successors,
    manifest_files,
    version_list,
    version_resolve,
)
from catalog.services import LocationSpec, dataset_create, dataset_update, dataset_version_create
from kura.api.errors import NOT_FOUND_MESSAGE, Gone
from kura.api.pagination import KeysFirstPagination

ALLOW_ARCHIVED = OpenApiParameter(
    "allow_archived", OpenApiTypes.BOOL, description="Answer for an archived dataset instead of 410."
)


class DatasetPagination(KeysFirstPagination):
    def rows_of(self, request: Request, queryset: "QuerySet[Any, Any]", keys: list[Any]) -> list[Any]:
        return dataset_list_rows(user=request.user, keys=keys)

    def counts_along(self, request: Request) -> bool:
        return counts_with_its_page(request.query_params.get("search", ""))


def resolve_or_404(
    request: Request, slug: str, related: Sequence[str] = RESOLVE_RELATED, with_read_access: bool = False
) -> Dataset:
    try:
        return dataset_resolve(
            user=request.user, slug=slug, related=related, with_read_access=with_read_access
        ).dataset
    except DatasetNotFound as missing:
        raise exceptions.NotFound(NOT_FOUND_MESSAGE) from missing


def _require_change(request: Request, dataset: Dataset) -> None:
    if not dataset_can_change(user=request.user, dataset=dataset):
        raise exceptions.PermissionDenied("Only the dataset's owner, stewards or staff may change it.")


def _refuse_archived(request: Request, dataset: Dataset) -> None:
    allowed = request.query_params.get("allow_archived", "").lower() in {"1", "true", "yes"}
    if dataset.status == Dataset.Status.ARCHIVED and not allowed:
        raise Gone(
            f"Dataset '{dataset.slug}' is archived; pass ?allow_archived=1 to resolve it anyway.",
            code="dataset_archived",
        )


def detail_response(
    request: Request, dataset: Dataset, status_code: int = status.HTTP_200_OK, **extra: Any
) -> Response:
    """The dataset's detail payload (plus ``extra`` keys) as the caller may see it."""
    dataset = Dataset.objects.with_list_data().prefetch_related("stewards__user", "aliases").get(pk=dataset.pk)
    hide_unseen_successors(user=request.user, datasets=[dataset])
    latest = version_list(dataset=dataset).values_list("label", flat=True).first()
    context = {
        "request": request,
        "can_read_data": dataset_can_read_data(user=request.user, dataset=dataset),
        "latest_label": latest,
        "warnings": deprecation_warnings(dataset),
    }
    response = Response({**DatasetDetailSerializer(dataset, context=context).data, **extra}, status=status_code)
    return add_deprecation_headers(response, dataset)


def _location_specs(raw: list[dict[str, Any]]) -> list[LocationSpec]:
    return [LocationSpec(uri=item["uri"], role=item["role"], note=item.get("note", "")) for item in raw]


@extend_schema_view(
    list=extend_schema(summary="List datasets you can see", responses=DatasetListSerializer(many=True)),
    retrieve=extend_schema(summary="A dataset by slug or former slug", responses=DatasetDetailSerializer),
    create=extend_schema(
        summary="Register a dataset", request=DatasetWriteSerializer, responses={201: DatasetDetailSerializer}
    ),
    partial_update=extend_schema(
        summary="Change a dataset", request=DatasetWriteSerializer, responses=DatasetDetailSerializer
    ),
)
class DatasetViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = DatasetListSerializer
    pagination_class = DatasetPagination
    filterset_class = DatasetFilterSet
    lookup_field = "slug"
    lookup_value_regex = "[^/]+"
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self) -> Any:
        return dataset_list(user=self.request.user)

    def _detail_response(self, dataset: Dataset, status_code: int = status.HTTP_200_OK) -> Response:
        return detail_response(self.request, dataset, status_code)

    def retrieve(self, request: Request, slug: str) -> Response:
        dataset = resolve_or_404(request, slug)
        response = self._detail_response(dataset)
        if dataset.slug != slug:
            response["Content-Location"] = reverse("api-dataset-detail", kwargs={"slug": dataset.slug})
        return response

    def create(self, request: Request) -> Response:
        person = person_for_user(request.user)
        serializer = DatasetWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        owner = data.pop("owner", None) or person
        if owner is None:
            raise exceptions.ValidationError({"owner": ["Name an owner (external id) for this dataset."]})
        if person is None and not request.user.is_staff:
            raise exceptions.PermissionDenied("Only people (not unit tokens) may register datasets.")
        if owner != person and not request.user.is_staff:
            raise exceptions.PermissionDenied("You may register datasets only with yourself as owner.")
        dataset = dataset_create(
            actor=person,
            owner=owner,
            locations=_location_specs(data.pop("locations")),
            datasheet=data.pop("datasheet", None),
            **data,
        )
        return self._detail_response(dataset, status.HTTP_201_CREATED)

    def partial_update(self, request: Request, slug: str) -> Response:
        dataset = resolve_or_404(request, slug)
        _require_change(request, dataset)
        serializer = DatasetWriteSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        locations = data.pop("locations", None)
        dataset = dataset_update(
            dataset=dataset,
            actor=person_for_user(request.user),
            locations=_location_specs(locations) if locations is not None else None,
            datasheet=data.pop("datasheet", None),
            **data,
        )
        return self._detail_response(dataset)


class VersionListView(GenericAPIView):
    serializer_class = VersionSerializer
    queryset = DatasetVersion.objects.none()  # rows come from version_list(); this only types the schema

    @extend_schema(summary="Published versions of a dataset", responses=VersionSerializer(many=True))
    def get(self, request: Request, slug: str) -> Response:
        dataset = resolve_or_404(request, slug)
        versions = version_list(
            dataset=dataset, include_drafts=dataset_can_change(user=request.user, dataset=dataset)
        ).select_related("dataset")
        page = self.paginate_queryset(versions)
        data = VersionSerializer(page, many=True, context={"warnings": []}).data
        return add_deprecation_headers(self.get_paginated_response(data), dataset)

    @extend_schema(
        summary="Create a version with its manifest (read-write token)",
        request=VersionCreateSerializer,
        responses={201: VersionSerializer},
    )
    def post(self, request: Request, slug: str) -> Response:
        dataset = resolve_or_404(request, slug)
        _require_change(request, dataset)
        serializer = VersionCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        version = dataset_version_create(
            dataset=dataset,
            actor=person_for_user(request.user),
            source=DatasetVersion.Source.API,
            **serializer.validated_data,
        )
        context = {"locations": list(dataset.locations.all()), "warnings": deprecation_warnings(dataset)}
        return Response(VersionSerializer(version, context=context).data, status=status.HTTP_201_CREATED)


def _resolve_version(request: Request, slug: str, label: str) -> tuple[Dataset, DatasetVersion]:
    # The version and manifest answers read only the dataset's own fields; the successor's slug is fetched
    # only for a deprecated dataset, so the common lookup joins nothing.
    try:
        dataset = dataset_resolve(user=request.user, slug=slug, related=(), with_read_access=True).dataset
    except DatasetNotFound as missing:
        raise exceptions.NotFound(NOT_FOUND_MESSAGE) from missing
    _refuse_archived(request, dataset)
    try:
        version = version_resolve(
            dataset=dataset,
            label=label,
            include_drafts=lambda: dataset_can_change(user=request.user, dataset=dataset),  # asked for drafts only
        )
    except VersionNotFound as missing:
        raise exceptions.NotFound(
            f"Dataset '{dataset.slug}' has no published version '{label}'.", code="version_not_found"
        ) from missing
    return dataset, version


class VersionDetailView(APIView):
    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        # The common CI lookup is answered before DRF wraps the request; everything else goes on below.
        plain = plain_lookup_response(request, **kwargs)
        return plain if plain is not None else super().dispatch(request, *args, **kwargs)

    @extend_schema(
        summary="Resolve slug@label (label may be 'latest') to locations and digest",
        parameters=[ALLOW_ARCHIVED],
        responses={
            200: VersionSerializer,
            404: OpenApiResponse(description="No such dataset or version"),
            410: OpenApiResponse(description="The dataset is archived"),
        },
    )
    def get(self, request: Request, slug: str, label: str) -> Response:
        dataset, version = _resolve_version(request, slug, label)
        can_read = dataset_can_read_data(user=request.user, dataset=dataset)
        context = {
            "locations": list(dataset.locations.all()) if can_read else None,
            "warnings": deprecation_warnings(dataset),
        }
        version.dataset = dataset
        return add_deprecation_headers(Response(VersionSerializer(version, context=context).data), dataset)


class ManifestView(APIView):
    @extend_schema(
        summary="The version's file list, streamed as JSON",
        parameters=[ALLOW_ARCHIVED],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request, slug: str, label: str) -> StreamingHttpResponse:
        dataset, version = _resolve_version(request, slug, label)
        if not dataset_can_read_data(user=request.user, dataset=dataset):
            raise exceptions.PermissionDenied("Reading the manifest needs read access to the dataset's data.")
        response = StreamingHttpResponse(_manifest_json(dataset, version), content_type="application/json")
        response["Cache-Control"] = "private, max-age=300" if version.is_published else "no-store"
        deprecated = add_deprecation_headers(Response(), dataset)
        for header in ("Deprecation", "Sunset", "Link"):
            if header in deprecated:
                response[header] = deprecated[header]
        return response


def _manifest_json(dataset: Dataset, version: DatasetVersion) -> Iterator[str]:
    head = {
        "dataset": dataset.slug,
        "label": version.label,
        "digest": f"sha256:{version.digest}",
        "file_count": version.file_count,
        "total_bytes": version.total_bytes,
    }
    yield json.dumps(head)[:-1] + ', "files": ['
    separator = ""
    for manifest_file in manifest_files(version=version):
        yield separator + json.dumps(
            {"path": manifest_file.path, "size": manifest_file.size, "hash": manifest_file.hash}
        )
        separator = ","
    yield "]}"


class OrgUnitListView(APIView):
    @extend_schema(summary="Org units (for the unit filter)", responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        units = OrgUnit.objects.filter(status=OrgUnit.Status.ACTIVE).values("id", "name", "parent_id")
        return Response({"results": list(units)})
