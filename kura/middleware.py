"""Request checks that hold for every view."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse

from kura.api.errors import error_body

NUL_MESSAGE = "The request's path or query string contains a NUL character."


def reject_nul_bytes(get_response: Callable[[HttpRequest], HttpResponse]) -> Callable[[HttpRequest], HttpResponse]:
    """400 for a NUL character in the path or the query string.

    No slug, label, key or filter of Kura's may hold one, and PostgreSQL refuses to compare text with one: a
    URL such as ``/api/v1/datasets/a%00b/`` would otherwise reach the database and fail there with a 500.
    """

    def middleware(request: HttpRequest) -> HttpResponse:
        if "\x00" in request.path_info or "%00" in request.META.get("QUERY_STRING", ""):
            if request.path_info.startswith("/api/"):
                return JsonResponse(error_body("invalid_characters", NUL_MESSAGE), status=400)
            return HttpResponseBadRequest(NUL_MESSAGE, content_type="text/plain; charset=utf-8")
        return get_response(request)

    return middleware
