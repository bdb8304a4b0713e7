import io
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser, DataAndFiles, JSONParser

from kura.api.errors import PayloadTooLarge
from kura.text import nests_deeper_than, storable

UNSTORABLE_TEXT = "The body holds text with a NUL character or an unpaired surrogate, which cannot be stored."
# Far deeper than any document Kura reads; a deeper one would exhaust the recursion of whatever walks it next
# (hashing, storing, serialising) and fail there as a 500.
MAX_JSON_DEPTH = 100
TOO_DEEP = f"The JSON body is nested more than {MAX_JSON_DEPTH} levels deep."


class LimitedJSONParser(JSONParser):
    """JSON bodies up to KURA_API_MAX_BODY_BYTES; larger ones get a 413 before being read into memory.

    Strings with a NUL character or a lone surrogate (both only reachable through ``\\u`` escapes) are refused
    with a 400 here: PostgreSQL cannot store either, and they would otherwise fail as a 500 at the first write.
    """

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        limit = settings.KURA_API_MAX_BODY_BYTES
        request = (parser_context or {}).get("request")
        declared = request.META.get("CONTENT_LENGTH") if request is not None else None
        if declared and declared.isdigit() and int(declared) > limit:
            raise PayloadTooLarge(f"The request body exceeds {limit} bytes.")
        raw = stream.read() if stream is not None else b""
        try:
            data = super().parse(io.BytesIO(raw), media_type, parser_context)
            if b"\\u" in raw and not storable(data):  # without an escape, json has no way to spell either
                raise ParseError(UNSTORABLE_TEXT)
        except RecursionError as error:  # a 500 would be retried by clients for ever
            raise ParseError(TOO_DEEP) from error
        if nests_deeper_than(data, MAX_JSON_DEPTH):
            raise ParseError(TOO_DEEP)
        return data


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
