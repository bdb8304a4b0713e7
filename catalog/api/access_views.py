"""API for grants, access requests, the audit log and departures."""

from typing import Any

from django.db.models import Q
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from access.approvals import access_request_create, access_request_decide, access_request_withdraw
from access.grants import grant_create, grant_revoke
from access.leavers import person_depart
from access.models import AccessRequest, AuditEvent, Grant, OrgUnit, Person
from access.selectors import is_steward, person_by_handle, person_for_user
from catalog.access_selectors import (
    access_request_visible,
    audit_events_visible,
    dataset_grants,
    requests_awaiting,
    requests_of,
)
from catalog.api.access_serializers import (
    LEVELS,
    AccessRequestCreateSerializer,
    AccessRequestSerializer,
    AuditEventSerializer,
    DecisionSerializer,
    DepartSerializer,
    GrantCreateSerializer,
    GrantSerializer,
    RevokeSerializer,
)
from catalog.api.views import _require_change, resolve_or_404
from catalog.models import Dataset
from kura.api.errors import Conflict


def _person(request: Request) -> Person:
    person = person_for_user(request.user)
    if person is None:
        raise exceptions.PermissionDenied("This needs a person's credentials, not a unit token.")
    return person


def _slugs(requests: list[AccessRequest]) -> dict[str, str]:
    ids = {request.target_id for request in requests}
    return {str(pk): slug for pk, slug in Dataset.objects.filter(pk__in=ids).values_list("pk", "slug")}


class DatasetGrantsView(APIView):
    @extend_schema(summary="Active grants on a dataset (managers)", responses=GrantSerializer(many=True))
    def get(self, request: Request, slug: str) -> Response:
        dataset = resolve_or_404(request, slug)
        _require_change(request, dataset)
        return Response(GrantSerializer(dataset_grants(dataset=dataset), many=True).data)

    @extend_schema(summary="Grant access on a dataset (managers)", request=GrantCreateSerializer,
                   responses={201: GrantSerializer})
    def post(self, request: Request, slug: str) -> Response:
        dataset = resolve_or_404(request, slug)
        _require_change(request, dataset)
        serializer = GrantCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        grantee_person = grantee_unit = None
        if data.get("person"):
            grantee_person = person_by_handle(data["person"])
            if grantee_person is None:
                raise exceptions.ValidationError({"person": ["No such person."]})
        if data.get("unit"):
            grantee_unit = OrgUnit.objects.filter(pk=data["unit"]).first()
            if grantee_unit is None:
                raise exceptions.ValidationError({"unit": ["No such org unit."]})
        grant = grant_create(
            target=dataset, level=LEVELS[data["level"]], basis=Grant.Basis.MANUAL,
            granted_by=person_for_user(request.user), grantee_person=grantee_person, grantee_unit=grantee_unit,
            justification=data["justification"], expires_at=data["expires_at"],
        )
        return Response(GrantSerializer(grant).data, status=status.HTTP_201_CREATED)


class GrantRevokeView(APIView):
    @extend_schema(summary="Revoke a grant (managers of its dataset)", request=RevokeSerializer,
                   responses=GrantSerializer)
    def post(self, request: Request, grant_id: int) -> Response:
        grant = get_object_or_404(Grant, pk=grant_id)
        dataset = Dataset.objects.restrict(request.user, "view").filter(pk=grant.target_id).first()
        if dataset is None:
            raise exceptions.NotFound("Not found.")
        _require_change(request, dataset)
        if grant.revoked_at is not None:
            raise Conflict(f"This grant was already revoked on {grant.revoked_at.isoformat()}.", code="grant_revoked")
        serializer = RevokeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        grant = grant_revoke(grant=grant, actor=person_for_user(request.user),
                             reason=serializer.validated_data["reason"])
        return Response(GrantSerializer(grant).data)


class AccessRequestListView(APIView):
    @extend_schema(summary="Your access requests", responses=AccessRequestSerializer(many=True))
    def get(self, request: Request) -> Response:
        mine = list(requests_of(person=_person(request))[:200])
        return Response(AccessRequestSerializer(mine, many=True, context={"slugs": _slugs(mine)}).data)

    @extend_schema(summary="Ask for access to a dataset", request=AccessRequestCreateSerializer,
                   responses={201: AccessRequestSerializer})
    def post(self, request: Request) -> Response:
        serializer = AccessRequestCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        dataset = resolve_or_404(request, data["dataset"])
        created = access_request_create(
            requester=_person(request), target=dataset, level=LEVELS[data["level"]], purpose=data["purpose"],
            duration_days=data["duration_days"],
        )
        body = AccessRequestSerializer(created, context={"slugs": {str(dataset.pk): dataset.slug}}).data
        return Response(body, status=status.HTTP_201_CREATED)


class AccessRequestInboxView(APIView):
    @extend_schema(summary="Pending requests you may decide", responses=AccessRequestSerializer(many=True))
    def get(self, request: Request) -> Response:
        waiting = requests_awaiting(person=_person(request))
        return Response(AccessRequestSerializer(waiting, many=True, context={"slugs": _slugs(waiting)}).data)


class AccessRequestDecisionView(APIView):
    @extend_schema(summary="Approve or deny a request", request=DecisionSerializer,
                   responses=AccessRequestSerializer)
    def post(self, request: Request, request_id: int) -> Response:
        serializer = DecisionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        decider = _person(request)
        # Seen as on its page: an approver also of a restricted dataset's request; others learn nothing of it.
        visible = access_request_visible(user=request.user, pk=request_id)
        if visible is None:
            raise exceptions.NotFound("Not found.")
        access_request = visible.access_request
        access_request_decide(request=access_request, decider=decider, **serializer.validated_data)
        access_request.refresh_from_db()
        return Response(AccessRequestSerializer(access_request, context={"slugs": _slugs([access_request])}).data)


class AccessRequestWithdrawView(APIView):
    @extend_schema(summary="Withdraw your pending request", request=None, responses=AccessRequestSerializer)
    def post(self, request: Request, request_id: int) -> Response:
        access_request = get_object_or_404(AccessRequest, pk=request_id, requester=_person(request))
        access_request = access_request_withdraw(request=access_request, requester=_person(request))
        return Response(AccessRequestSerializer(access_request, context={"slugs": _slugs([access_request])}).data)


class AuditEventListView(GenericAPIView):
    serializer_class = AuditEventSerializer
    queryset = AuditEvent.objects.none()  # rows come from audit_events_visible()

    @extend_schema(
        summary="The audit log (stewards and governance)",
        parameters=[
            OpenApiParameter("action", OpenApiTypes.STR, description="Exact action or a prefix ending in '.'"),
            OpenApiParameter("actor", OpenApiTypes.STR, description="Username or external id"),
            OpenApiParameter("target", OpenApiTypes.STR, description="Target id (e.g. a dataset UUID)"),
            OpenApiParameter("since", OpenApiTypes.DATETIME),
        ],
        responses=AuditEventSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        if not is_steward(request.user):
            raise exceptions.PermissionDenied("The audit log is for stewards and governance.")
        events = filter_audit(audit_events_visible(user=request.user), request.query_params)
        page = self.paginate_queryset(events)
        return self.get_paginated_response(AuditEventSerializer(page, many=True).data)


def filter_audit(events: Any, params: Any) -> Any:
    action = params.get("action", "").strip()
    if action:
        events = events.filter(action__startswith=action) if action.endswith(".") else events.filter(action=action)
    actor = params.get("actor", "").strip()
    if actor:
        events = events.filter(Q(actor__external_id=actor) | Q(actor__user__username=actor))
    if params.get("target"):
        events = events.filter(target_id=params["target"].strip())
    if params.get("since"):
        from django.utils.dateparse import parse_datetime

        try:
            since = parse_datetime(params["since"])
        except ValueError:  # well formed, but no real moment (hour 25, February 30)
            since = None
        if since is None:
            raise exceptions.ValidationError({"since": ["Use an ISO 8601 date-time."]})
        events = events.filter(created_at__gte=since)
    return events


class PersonDepartView(APIView):
    @extend_schema(
        summary="Record that a person left (staff)", request=DepartSerializer, responses={200: OpenApiTypes.OBJECT}
    )
    def post(self, request: Request, external_id: str) -> Response:
        if not request.user.is_staff:
            raise exceptions.PermissionDenied("Only staff can record departures.")
        person = get_object_or_404(Person, external_id=external_id)
        serializer = DepartSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        person = person_depart(person=person, actor=person_for_user(request.user),
                               reason=serializer.validated_data["reason"])
        return Response({"external_id": person.external_id, "status": person.status,
                         "departed_at": person.departed_at})


