from typing import Any

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from access.models import ApiToken
from access.principals import UnitPrincipal
from access.services import TokenError, token_authenticate


class BearerTokenAuthentication(BaseAuthentication):
    """``Authorization: Bearer kura_<id>_<secret>``; no header means "try the next scheme"."""

    keyword = "bearer"

    def authenticate(self, request: Request) -> tuple[Any, ApiToken] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        parts = header.split()
        if parts[0].lower() != self.keyword:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(
                "Authorization header must be 'Bearer <token>'.", code="token_malformed"
            )
        try:
            token = token_authenticate(plaintext=parts[1])
        except TokenError as error:
            raise exceptions.AuthenticationFailed(error.message, code=error.code) from error
        if token.owner_person is not None:
            return token.owner_person.user, token
        assert token.owner_unit is not None
        return UnitPrincipal(token.owner_unit, token), token

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="kura"'
