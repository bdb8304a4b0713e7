"""The CI version lookup's common case, answered before DRF sets up a request.

Every CI job asks ``slug@latest`` with a bearer token; DRF's request wrapping, content negotiation and
rendering cost several times what the answer's one statement costs PostgreSQL. A request that is anything
but the plain case (another method, a query string, another media type, no or a bad token, a former slug, an
archived, hidden or missing dataset, a draft or unknown version, a database other than PostgreSQL) returns
None here and goes through ``VersionDetailView`` as usual, which words every error. The answer's body is
rendered by the same function (``version_payload``) and renderer as DRF's, so both paths answer alike.
"""

from django.http import HttpRequest, HttpResponse
from rest_framework.renderers import JSONRenderer

from access.authentication import live_bearer_principal
from catalog.api.headers import add_deprecation_headers
from catalog.api.payloads import version_payload
from catalog.lookup_statements import plain_lookup_supported, plain_version_lookup
from catalog.selectors import deprecation_warnings

_RENDERER = JSONRenderer()
_ACCEPTED = ("", "*/*", "application/json", "application/*")


def plain_lookup_response(request: HttpRequest, slug: str, label: str) -> HttpResponse | None:
    if request.method != "GET" or request.META.get("QUERY_STRING") or not _accepts_json(request):
        return None
    if not plain_lookup_supported():
        return None
    user = live_bearer_principal(request.META.get("HTTP_AUTHORIZATION", ""))
    if user is None:
        return None
    answer = plain_version_lookup(user, slug, label)
    if answer is None:
        return None
    deprecated = answer.deprecated
    warnings = deprecation_warnings(deprecated) if deprecated is not None else []
    payload = version_payload(answer.version, dataset_slug=slug, locations=answer.locations, warnings=warnings)
    response = HttpResponse(_RENDERER.render(payload), content_type="application/json")
    response["Allow"] = "GET, HEAD, OPTIONS"  # as DRF answers
    return add_deprecation_headers(response, deprecated) if deprecated is not None else response


def _accepts_json(request: HttpRequest) -> bool:
    accept = request.META.get("HTTP_ACCEPT", "")
    return all(part.split(";", 1)[0].strip() in _ACCEPTED for part in accept.split(","))
