"""``POST /api/v1/imports/croissant/``: register a draft dataset from a Croissant 1.1 + RAI document."""

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.parsers import BaseParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from access.selectors import default_owning_unit, person_for_user
from catalog.api.serializers import CroissantImportParamsSerializer, CroissantImportResultSerializer
from catalog.api.views import detail_response
from catalog.documentation.croissant_import import (
    MAX_DOCUMENT_BYTES,
    CroissantRejected,
    check_document_size,
    croissant_json,
)
from catalog.imports import dataset_import_croissant
from kura.api.errors import PayloadTooLarge

BODY = "body"


class CroissantRejectedError(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "The Croissant document cannot be imported."
    default_code = "croissant_invalid"


class CroissantJSONParser(BaseParser):
    """The body's bytes, up to the document limit: the import reads them itself so that every way a document
    can be wrong is answered with its own code."""

    media_type = "application/json"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> dict[str, bytes]:
        request = (parser_context or {}).get("request")
        declared = request.META.get("CONTENT_LENGTH") if request is not None else None
        if declared and declared.isdigit():
            try:
                check_document_size(int(declared))  # refused before the body is read
            except CroissantRejected as error:
                raise _rejected(error) from error
        return {BODY: stream.read(MAX_DOCUMENT_BYTES + 1) if stream is not None else b""}


class CroissantJSONLDParser(CroissantJSONParser):
    media_type = "application/ld+json"


def _rejected(error: CroissantRejected) -> exceptions.APIException:
    if error.code == "croissant_too_large":
        return PayloadTooLarge(error.message, code=error.code)
    return CroissantRejectedError(error.message, code=error.code)


class CroissantImportView(APIView):
    parser_classes = [CroissantJSONParser, CroissantJSONLDParser]

    @extend_schema(
        summary="Register a draft dataset from a Croissant 1.1 + RAI document (read-write token)",
        description=(
            "The body is the Croissant JSON-LD document (up to 5 MB). Kura takes its name, description, "
            "rai:dataUseCases as the purpose, the RAI datasheet properties, license, keywords as tags, the "
            "distribution's s3/gs/az/file/dvc contentUrls as storage locations (many files collapsed to their "
            "common prefix) and rai:dataAnnotationProtocol as the annotation rules. The new dataset is a draft "
            "owned by you; `notes` say what was left out or changed. Error codes: croissant_not_json, "
            "croissant_not_object, croissant_not_dataset, croissant_missing_name, croissant_missing_purpose, "
            "croissant_too_deep (400), croissant_too_large (413), validation_error (400, a value the catalog "
            "refuses, keyed by the document's property)."
        ),
        parameters=[CroissantImportParamsSerializer],
        request={"application/json": OpenApiTypes.OBJECT, "application/ld+json": OpenApiTypes.OBJECT},
        responses={
            201: CroissantImportResultSerializer,
            400: OpenApiResponse(description="The document cannot be imported; nothing was created"),
            403: OpenApiResponse(description="A read-only or unit token"),
            413: OpenApiResponse(description="The document is larger than 5 MB"),
        },
    )
    def post(self, request: Request) -> Response:
        person = person_for_user(request.user)
        if person is None:
            raise exceptions.PermissionDenied("Only people (not unit tokens) may register datasets.")
        params = CroissantImportParamsSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        unit = params.validated_data.get("unit") or default_owning_unit(person)
        if unit is None:  # the parameter offers active units only, and so does the default
            raise exceptions.ValidationError({"unit": ["You have no active primary unit; name the owning unit."]})
        # Without a body DRF parses nothing and hands an empty mapping.
        raw = request.data.get(BODY, b"") if isinstance(request.data, dict) else b""
        try:
            result = dataset_import_croissant(
                actor=person,
                owning_unit=unit,
                document=croissant_json(raw),
                slug=params.validated_data.get("slug"),
                purpose=params.validated_data.get("purpose"),
            )
        except CroissantRejected as error:
            raise _rejected(error) from error
        return detail_response(request, result.dataset, status.HTTP_201_CREATED, notes=result.notes)
