"""Storage API: connections (staff), scans and findings (staff, stewards, governance; assignees see theirs)."""

from typing import Any

from django.db import transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from access.models import OrgUnit, Person
from access.selectors import person_by_handle, person_for_user
from kura.api.errors import NOT_FOUND_MESSAGE
from storage.api.serializers import (
    AssignSerializer,
    ClaimSerializer,
    ConnectionCreateSerializer,
    ConnectionSerializer,
    DismissSerializer,
    FindingSerializer,
    ScanRunSerializer,
)
from storage.models import Finding, ScanRun, StorageConnection
from storage.scanning import scan_start
from storage.selectors import (
    can_manage_connections,
    can_triage_findings,
    connection_list,
    finding_filter,
    finding_list,
    run_list,
    run_progress_by_run,
)
from storage.services import connection_create, finding_assign, finding_claim, finding_dismiss


def _staff_only(request: Request) -> None:
    if not can_manage_connections(request.user):
        raise exceptions.PermissionDenied("Storage connections are managed by staff.")


def _actor(request: Request) -> Person:
    person = person_for_user(request.user)
    if person is None:
        raise exceptions.PermissionDenied("This needs a person's credentials, not a unit token.")
    return person


def _connection(request: Request, name: str) -> StorageConnection:
    connection = connection_list(user=request.user).filter(name=name).first()
    if connection is None:
        raise exceptions.NotFound(NOT_FOUND_MESSAGE)
    return connection


class ConnectionListView(GenericAPIView):
    serializer_class = ConnectionSerializer
    queryset = StorageConnection.objects.none()

    @extend_schema(summary="Storage connections (staff)", responses=ConnectionSerializer(many=True))
    def get(self, request: Request) -> Response:
        _staff_only(request)
        page = self.paginate_queryset(connection_list(user=request.user))
        return self.get_paginated_response(ConnectionSerializer(page, many=True).data)

    @extend_schema(summary="Add a storage connection (staff); credentials by reference only",
                   request=ConnectionCreateSerializer, responses={201: ConnectionSerializer})
    def post(self, request: Request) -> Response:
        _staff_only(request)
        serializer = ConnectionCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        connection = connection_create(actor=person_for_user(request.user), **serializer.validated_data)
        listed = _connection(request, connection.name)  # read back as the list reads it (last run, repositories)
        return Response(ConnectionSerializer(listed).data, status=status.HTTP_201_CREATED)


class ConnectionDetailView(APIView):
    @extend_schema(summary="A storage connection (staff)", responses=ConnectionSerializer)
    def get(self, request: Request, name: str) -> Response:
        _staff_only(request)
        return Response(ConnectionSerializer(_connection(request, name)).data)


class ConnectionScanView(APIView):
    @extend_schema(summary="Start a scan (staff); answers the run already in flight if there is one",
                   request=None, responses={202: ScanRunSerializer})
    def post(self, request: Request, name: str) -> Response:
        _staff_only(request)
        connection = _connection(request, name)
        with transaction.atomic():
            run = scan_start(connection=connection, trigger="api", requested_by=person_for_user(request.user))
        return Response(ScanRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class ScanRunListView(GenericAPIView):
    serializer_class = ScanRunSerializer
    queryset = ScanRun.objects.none()

    @extend_schema(summary="Scan runs with progress", parameters=[
        OpenApiParameter("connection", OpenApiTypes.STR), OpenApiParameter("status", OpenApiTypes.STR)],
        responses=ScanRunSerializer(many=True))
    def get(self, request: Request) -> Response:
        if not can_triage_findings(request.user):
            raise exceptions.PermissionDenied("Scans are for staff, stewards and governance.")
        runs = run_list(user=request.user)
        if request.query_params.get("connection"):
            runs = runs.filter(connection__name=request.query_params["connection"])
        if request.query_params.get("status"):
            runs = runs.filter(status=request.query_params["status"])
        page = self.paginate_queryset(runs) or []
        serializer = ScanRunSerializer(page, many=True, context={"progress": run_progress_by_run(page)})
        return self.get_paginated_response(serializer.data)


class ScanRunDetailView(APIView):
    @extend_schema(summary="One scan run: progress (objects, bytes, rate, ETA) and errors",
                   responses=ScanRunSerializer)
    def get(self, request: Request, run_id: int) -> Response:
        run = run_list(user=request.user).filter(pk=run_id).first()
        if run is None:
            raise exceptions.NotFound(NOT_FOUND_MESSAGE)
        return Response(ScanRunSerializer(run).data)


class FindingListView(GenericAPIView):
    serializer_class = FindingSerializer
    queryset = Finding.objects.none()

    @extend_schema(summary="Findings of storage scans", parameters=[
        OpenApiParameter("kind", OpenApiTypes.STR, enum=Finding.Kind.values),
        OpenApiParameter("status", OpenApiTypes.STR, description="A status, or 'open' for every unresolved one"),
        OpenApiParameter("connection", OpenApiTypes.STR), OpenApiParameter("assignee", OpenApiTypes.STR),
        OpenApiParameter("q", OpenApiTypes.STR, description="Part of the URI or storage owner")],
        responses=FindingSerializer(many=True))
    def get(self, request: Request) -> Response:
        findings = finding_filter(finding_list(user=request.user), request.query_params)
        page = self.paginate_queryset(findings)
        return self.get_paginated_response(FindingSerializer(page, many=True).data)


def _finding(request: Request, finding_id: int) -> Finding:
    finding = finding_list(user=request.user).filter(pk=finding_id).first()
    if finding is None:
        raise exceptions.NotFound(NOT_FOUND_MESSAGE)
    return finding


class FindingDetailView(APIView):
    @extend_schema(summary="One finding", responses=FindingSerializer)
    def get(self, request: Request, finding_id: int) -> Response:
        return Response(FindingSerializer(_finding(request, finding_id)).data)


class FindingClaimView(APIView):
    @extend_schema(summary="Claim unregistered data: creates a draft dataset you own", request=ClaimSerializer,
                   responses={201: FindingSerializer})
    def post(self, request: Request, finding_id: int) -> Response:
        finding = _finding(request, finding_id)
        serializer = ClaimSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data: dict[str, Any] = serializer.validated_data
        unit = None
        if data["unit"] is not None:
            unit = OrgUnit.objects.filter(pk=data["unit"], status=OrgUnit.Status.ACTIVE).first()
            if unit is None:
                raise exceptions.ValidationError({"unit": ["No such active org unit."]})
        finding_claim(finding=finding, actor=_actor(request), owning_unit=unit, name=data["name"],
                      purpose=data["purpose"])
        finding.refresh_from_db()
        return Response(FindingSerializer(finding).data, status=status.HTTP_201_CREATED)


class FindingAssignView(APIView):
    @extend_schema(summary="Assign a finding to someone", request=AssignSerializer, responses=FindingSerializer)
    def post(self, request: Request, finding_id: int) -> Response:
        finding = _finding(request, finding_id)
        serializer = AssignSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        who = serializer.validated_data["person"]
        assignee = person_by_handle(who)
        if assignee is None:
            raise exceptions.ValidationError({"person": ["No such person."]})
        finding = finding_assign(finding=finding, actor=_actor(request), assignee=assignee,
                                 note=serializer.validated_data["note"])
        return Response(FindingSerializer(finding).data)


class FindingDismissView(APIView):
    @extend_schema(summary="Dismiss a finding with a reason", request=DismissSerializer, responses=FindingSerializer)
    def post(self, request: Request, finding_id: int) -> Response:
        finding = _finding(request, finding_id)
        serializer = DismissSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        finding = finding_dismiss(finding=finding, actor=_actor(request), reason=serializer.validated_data["reason"])
        return Response(FindingSerializer(finding).data)
