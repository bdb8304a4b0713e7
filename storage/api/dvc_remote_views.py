"""DVC remotes in the API (staff): what a scan found, and the streamed report of unreferenced objects."""

import csv
import json
from collections.abc import Iterator

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from kura.api.errors import NOT_FOUND_MESSAGE
from storage.api.views import _connection, _staff_only
from storage.dvc.remote_report import (
    EXPORT_COLUMNS,
    UnreferencedObject,
    remote_summary,
    remote_warnings,
    unreferenced_objects,
)
from storage.listers import ListingError
from storage.models import StorageConnection
from storage.reports import Bar


def _dvc_remote(request: Request, name: str) -> StorageConnection:
    _staff_only(request)
    connection = _connection(request, name)
    if not connection.is_dvc_remote:
        raise exceptions.NotFound(NOT_FOUND_MESSAGE)
    return connection


def _bars(bars: list[Bar]) -> list[dict[str, object]]:
    return [{"label": bar.label, "objects": bar.count, "bytes": bar.bytes} for bar in bars]


class DvcRemoteView(APIView):
    @extend_schema(summary="A DVC remote: bytes by classification and repository, and safety warnings (staff)",
                   responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, name: str) -> Response:
        summary = remote_summary(_dvc_remote(request, name))
        return Response({
            "connection": summary.connection.name,
            "scan": {"id": summary.run.pk, "finished_at": summary.run.finished_at} if summary.run else None,
            "repositories": [{"name": repo.name, "status": repo.status} for repo in summary.repos],
            "by_class": _bars(summary.by_class),
            "by_repository": _bars(summary.by_repo),
            "warnings": summary.warnings,
        })


class _Echo:
    def write(self, value: str) -> str:
        return value


class RemoteUnreadable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The remote cannot be read."
    default_code = "remote_unreadable"


def _csv_lines(objects: Iterator[UnreferencedObject]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(EXPORT_COLUMNS)
    for item in objects:
        yield writer.writerow(item.as_row())


def _json_chunks(connection: StorageConnection, warnings: list[str],
                 objects: Iterator[UnreferencedObject]) -> Iterator[str]:
    head = {"connection": connection.name, "warnings": warnings}
    yield json.dumps(head)[:-1] + ', "objects": ['
    separator = ""
    for item in objects:
        yield separator + json.dumps(item.as_dict())
        separator = ",\n"
    yield "]}\n"


class DvcUnreferencedExportView(APIView):
    @extend_schema(summary="Objects no indexed commit refers to, listed now (CSV or JSON, streamed; staff). "
                           "Kura never deletes: this is for a person to review.",
                   responses={(200, "text/csv"): OpenApiTypes.STR, (200, "application/json"): OpenApiTypes.OBJECT})
    def get(self, request: Request, name: str, extension: str) -> StreamingHttpResponse:
        connection = _dvc_remote(request, name)
        warnings = remote_warnings(connection)
        try:
            objects = unreferenced_objects(connection)
        except ListingError as error:  # once the first bytes are out, only a cut-off file could say so
            raise RemoteUnreadable(error.message) from error
        if extension == "csv":
            response = StreamingHttpResponse(_csv_lines(objects), content_type="text/csv; charset=utf-8")
        else:
            response = StreamingHttpResponse(_json_chunks(connection, warnings, objects),
                                             content_type="application/json")
        response["Content-Disposition"] = f'attachment; filename="{connection.name}-unreferenced.{extension}"'
        response["X-Kura-Warnings"] = str(len(warnings))
        return response
