from typing import Any

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from access.models import ApiToken
from access.principals import UnitPrincipal
from access.services import TokenError, token_authenticate

_KEYWORD = "bearer"


class BearerTokenAuthentication(BaseAuthentication):
    """``Authorization: Bearer kura_<id>_<secret>``; no header means "try the next scheme"."""

    keyword = _KEYWORD

    def authenticate(self, request: Request) -> tuple[Any, ApiToken] | None:
        parts = _bearer_parts(request.META.get("HTTP_AUTHORIZATION", ""))
        if parts is None:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(
                "Authorization header must be 'Bearer <token>'.", code="token_malformed"
            )
        try:
            token = token_authenticate(plaintext=parts[1])
        except TokenError as error:
            raise exceptions.AuthenticationFailed(error.message, code=error.code) from error
        return principal_of(token), token

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="kura"'


def principal_of(token: ApiToken) -> Any:
    """Who acts with ``token``: its person's user, or the unit behind a unit token."""
    if token.owner_person is not None:
        return token.owner_person.user
    assert token.owner_unit is not None
    return UnitPrincipal(token.owner_unit, token)


def live_bearer_principal(header: str) -> Any | None:
    """The caller behind an ``Authorization`` header carrying a live bearer token, for a view that answers
    outside DRF. None for anything else (no header, another scheme, a bad token): such a request goes to DRF,
    which answers it with the right error."""
    parts = _bearer_parts(header)
    if parts is None or len(parts) != 2:
        return None
    try:
        return principal_of(token_authenticate(plaintext=parts[1]))
    except TokenError:
        return None


def _bearer_parts(header: str) -> list[str] | None:
    """The header's words if it names the bearer scheme; None for no header or another scheme."""
    parts = header.split()
    return parts if parts and parts[0].lower() == _KEYWORD else None
