from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from access.api.serializers import WhoAmISerializer
from access.models import ApiToken
from access.principals import UnitPrincipal
from access.selectors import person_for_user


class WhoAmIView(APIView):
    """Who the presented credentials belong to; CI uses it to check a token before a long job."""

    @extend_schema(responses=WhoAmISerializer)
    def get(self, request: Request) -> Response:
        token = request.auth if isinstance(request.auth, ApiToken) else None
        data: dict[str, Any] = {
            "token_name": token.name if token else None,
            "token_scope": token.scope if token else None,
            "token_expires_at": token.expires_at if token else None,
        }
        if isinstance(request.user, UnitPrincipal):
            data.update(
                kind="unit",
                username=request.user.username,
                display_name=request.user.unit.name,
                external_id=None,
                unit=str(request.user.unit.pk),
            )
        else:
            person = person_for_user(request.user)
            data.update(
                kind="person" if person else "staff",
                username=request.user.get_username(),
                display_name=person.display_name if person else request.user.get_username(),
                external_id=person.external_id if person else None,
                unit=str(person.primary_unit_id) if person and person.primary_unit_id else None,
            )
        return Response(WhoAmISerializer(data).data)
