from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.parsers import BaseParser, DataAndFiles, JSONParser

from kura.api.errors import PayloadTooLarge


class LimitedJSONParser(JSONParser):
    """JSON bodies up to KURA_API_MAX_BODY_BYTES; larger ones get a 413 before being read into memory."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        limit = settings.KURA_API_MAX_BODY_BYTES
        request = (parser_context or {}).get("request")
        declared = request.META.get("CONTENT_LENGTH") if request is not None else None
        if declared and declared.isdigit() and int(declared) > limit:
            raise PayloadTooLarge(f"The request body exceeds {limit} bytes.")
        return super().parse(stream, media_type, parser_context)


class LimitedCSVParser(BaseParser):
    """A raw ``text/csv`` body, handed to the view as an uploaded file named ``file`` (like a multipart upload),
    with the same size limit as JSON."""

    media_type = "text/csv"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> "DataAndFiles[Any, Any]":
        limit = settings.KURA_API_MAX_BODY_BYTES
        content = stream.read(limit + 1) if stream is not None else b""
        if len(content) > limit:
            raise PayloadTooLarge(f"The request body exceeds {limit} bytes.")
        return DataAndFiles({}, {"file": SimpleUploadedFile("body.csv", content, content_type="text/csv")})
