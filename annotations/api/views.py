from dataclasses import asdict
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotations.api.serializers import GuidelineSerializer, RevisionDetailSerializer
from annotations.diff import guideline_diff
from annotations.models import GuidelineRevision
from annotations.selectors import (
    RevisionNotFound,
    correction_examples_by_rule,
    guideline_revision_get,
    guideline_revisions,
)
from catalog.models import Dataset
from catalog.selectors import DatasetNotFound, dataset_resolve
from kura.api.errors import NOT_FOUND_MESSAGE
from kura.text import positive_whole_number


def _dataset(request: Request, slug: str) -> Dataset:
    try:
        return dataset_resolve(user=request.user, slug=slug, related=()).dataset
    except DatasetNotFound as missing:
        raise exceptions.NotFound(NOT_FOUND_MESSAGE) from missing


def _revision(dataset: Dataset, number: int) -> GuidelineRevision:
    try:
        return guideline_revision_get(dataset, number)
    except RevisionNotFound as missing:
        raise exceptions.NotFound(NOT_FOUND_MESSAGE) from missing


def _detail_context(dataset: Dataset, revision: GuidelineRevision | None) -> dict[str, Any]:
    return {"slug": dataset.slug, "groups": correction_examples_by_rule(revision) if revision else []}


class GuidelineView(APIView):
    @extend_schema(summary="A dataset's annotation rules: the current revision and the list of all revisions",
                   responses=GuidelineSerializer)
    def get(self, request: Request, slug: str) -> Response:
        dataset = _dataset(request, slug)
        revisions = guideline_revisions(dataset)
        current = revisions[0] if revisions else None
        data = {"dataset": dataset.slug, "current": current, "revisions": revisions}
        return Response(GuidelineSerializer(data, context=_detail_context(dataset, current)).data)


class GuidelineRevisionView(APIView):
    @extend_schema(summary="One revision of a dataset's annotation rules", responses=RevisionDetailSerializer)
    def get(self, request: Request, slug: str, number: int) -> Response:
        dataset = _dataset(request, slug)
        revision = _revision(dataset, number)
        return Response(RevisionDetailSerializer(revision, context=_detail_context(dataset, revision)).data)


def _number(request: Request, name: str) -> int:
    number = positive_whole_number(request.query_params.get(name, ""))
    if number is None:
        raise exceptions.ValidationError({name: ["Give a revision number (1, 2, ...)."]})
    return number


class GuidelineDiffView(APIView):
    @extend_schema(
        summary="What changed between two revisions: rules text line by line and label schema",
        parameters=[
            OpenApiParameter("from", OpenApiTypes.INT, required=True),
            OpenApiParameter("to", OpenApiTypes.INT, required=True),
        ],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request: Request, slug: str) -> Response:
        dataset = _dataset(request, slug)
        old_number, new_number = _number(request, "from"), _number(request, "to")
        diff = guideline_diff(_revision(dataset, old_number), _revision(dataset, new_number))
        return Response({"dataset": dataset.slug, **asdict(diff), "body_unchanged": diff.body_unchanged,
                         "schema_unchanged": diff.schema.unchanged})
