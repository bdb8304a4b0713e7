"""The staff endpoint that applies a directory export; the work is done by ``access.directory``."""

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from access.api.serializers import DirectoryRecordSerializer, DirectorySyncResultSerializer
from access.directory import directory_sync
from access.directory_export import DirectoryFormatError, decode, detect_format, ensure_record_list, read_records
from access.selectors import person_for_user
from kura.api.parsers import LimitedCSVParser, LimitedJSONParser

TRUE_PARAMS = {"1", "true", "yes", "on"}


class DirectorySyncView(APIView):
    parser_classes = [LimitedJSONParser, LimitedCSVParser, MultiPartParser]

    @extend_schema(
        summary="Apply a directory export (staff)",
        description=(
            "Applies an HR/IdP export as joiner, mover, leaver and rejoiner events in one transaction. Send a JSON "
            "list of people, a `text/csv` body with a header row, or a multipart upload in the `file` field. "
            "Departments map to org units through aliases only; unmapped ones are reported and leave the person's "
            "unit unchanged. Applying the same export twice changes nothing the second time."
        ),
        parameters=[OpenApiParameter("dry_run", OpenApiTypes.BOOL, description="Compute the plan; write nothing.")],
        request={
            "application/json": DirectoryRecordSerializer(many=True),
            "text/csv": {"type": "string", "description": "external_id,name,email,department,manager_external_id,"
                                                          "active"},
            "multipart/form-data": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}},
                                    "required": ["file"]},
        },
        responses={200: DirectorySyncResultSerializer},
    )
    def post(self, request: Request) -> Response:
        if not request.user.is_staff:
            raise exceptions.PermissionDenied("Only staff can sync the directory.")
        try:
            records, source = _records(request)
        except DirectoryFormatError as error:
            raise exceptions.ParseError(str(error), code="invalid_export") from error
        dry_run = request.query_params.get("dry_run", "").strip().lower() in TRUE_PARAMS
        result = directory_sync(records=records, actor=person_for_user(request.user), dry_run=dry_run,
                                source=f"API: {source}")
        return Response(DirectorySyncResultSerializer(result.as_dict()).data)


def _records(request: Request) -> tuple[list[Any], str]:
    if request.content_type.startswith(("multipart/", "text/csv")):
        upload = request.FILES.get("file")
        if upload is None:
            raise DirectoryFormatError("Upload the export in a multipart field named 'file'.")
        content = decode(upload.read())
        if request.content_type.startswith("text/csv"):
            return read_records(content, "csv"), "CSV body"
        return read_records(content, detect_format(content, upload.name or "")), f"upload {upload.name}"
    return ensure_record_list(request.data), "JSON body"


class DirectorySyncSlashView(DirectorySyncView):
    """The same endpoint with a trailing slash; documented once, under the spelling without it."""

    schema = None
