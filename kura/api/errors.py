"""One JSON error shape for the whole API: {"error": {"code", "message", "details"}}.

Codes are stable; CI scripts may branch on them.
"""

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response


class Gone(exceptions.APIException):
    status_code = status.HTTP_410_GONE
    default_detail = "This resource has been archived."
    default_code = "gone"


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state."
    default_code = "conflict"


NOT_FOUND_MESSAGE = "Not found."


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"error": {"code": code, "message": message}}
    if details is not None:
        body["error"]["details"] = details
    return body


def _code_for(exc: exceptions.APIException) -> str:
    if isinstance(exc, exceptions.ValidationError):
        return "validation_error"
    # DRF's default codes (not_found, authentication_failed, ...) are already stable names; Kura's own
    # raises pass a specific one (token_expired, dataset_archived, ...).
    codes = exc.get_codes()
    return codes if isinstance(codes, str) else str(exc.default_code)


def json_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(NOT_FOUND_MESSAGE)
    elif isinstance(exc, DjangoValidationError):
        # Services raise Django's ValidationError; the API reports it like a serializer error.
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = exceptions.ValidationError(detail)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)  # a service's refusal says why
    # Imported here: rest_framework.views reads DRF's settings on import, which import kura.api.parsers,
    # which imports this module; at the top, whichever of the two loads first would find the other half-made.
    from rest_framework.views import exception_handler

    response = exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return response
    code = _code_for(exc)
    if isinstance(exc, exceptions.ValidationError):
        response.data = error_body(code, "The request is invalid; see details.", exc.detail)
    else:
        message = str(exc.detail) if not isinstance(exc.detail, (list, dict)) else str(exc.default_detail)
        response.data = error_body(code, message)
    return response


def api_not_found(request: HttpRequest, rest: str) -> JsonResponse:
    return JsonResponse(error_body("not_found", NOT_FOUND_MESSAGE), status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    """``handler500``: an API caller gets the JSON error shape (CI branches on the code), a person the page."""
    if request.path_info.startswith("/api/"):
        return JsonResponse(
            error_body("server_error", "Kura failed to answer this request; the error has been logged."), status=500
        )
    return defaults.server_error(request)
