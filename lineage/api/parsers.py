import gzip
import io
import zlib
from typing import Any

from django.conf import settings
from rest_framework import exceptions

from kura.api.errors import PayloadTooLarge
from kura.api.parsers import LimitedJSONParser


class MaybeGzipJSONParser(LimitedJSONParser):
    """JSON, optionally ``Content-Encoding: gzip`` (the openlineage-python HTTP transport's ``compression``).

    The decompressed size is bounded too, so a small gzip bomb cannot fill memory.
    """

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        request = (parser_context or {}).get("request")
        encoding = request.META.get("HTTP_CONTENT_ENCODING", "").strip().lower() if request is not None else ""
        if encoding in {"", "identity"}:
            return super().parse(stream, media_type, parser_context)
        if encoding != "gzip":
            raise exceptions.UnsupportedMediaType(
                media_type or "", detail=f"Content-Encoding '{encoding}' is not supported; send identity or gzip."
            )
        limit = settings.KURA_API_MAX_BODY_BYTES
        try:
            body = gzip.GzipFile(fileobj=stream).read(limit + 1)
        except (OSError, EOFError, zlib.error) as error:
            raise exceptions.ParseError("The gzip-encoded body could not be decompressed.") from error
        if len(body) > limit:
            raise PayloadTooLarge(f"The decompressed body exceeds {limit} bytes.")
        return super().parse(io.BytesIO(body), media_type, parser_context)
