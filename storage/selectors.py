"""Reads for connections, scan runs and findings. Findings are for staff, stewards and governance, plus
whoever a finding is assigned to or was claimed by."""

import operator
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import reduce
from typing import Any

from django.db.models import (
    BooleanField,
    Count,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    TextField,
    Window,
)
from django.db.models.functions import Cast, RowNumber
from django.utils import timezone

from access.models import Person
from access.selectors import person_for_user
from catalog.access_selectors import is_steward
from catalog.models import Dataset
from storage.models import Finding, ScanRun, ScanShard, StorageConnection


def can_manage_connections(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False) and getattr(user, "is_staff", False))


def can_triage_findings(user: Any) -> bool:
    return can_manage_connections(user) or is_steward(user)


def connection_list(*, user: Any) -> "QuerySet[StorageConnection]":
    """Connections with their DVC repositories and last run loaded along (``LAST_RUN_FIELDS``), for a list."""
    if not can_manage_connections(user):
        return StorageConnection.objects.none()
    latest = ScanRun.objects.filter(connection=OuterRef("pk")).order_by("-created_at")
    return StorageConnection.objects.prefetch_related("dvc_repos").annotate(
        **{f"last_run_{field}": Subquery(latest.values(field)[:1]) for field in LAST_RUN_FIELDS}
    )


LAST_RUN_FIELDS = ("id", "status", "created_at")


def connection_last_run(connection: StorageConnection) -> dict[str, Any] | None:
    """The connection's newest run, as ``connection_list`` loaded it along."""
    values = {field: getattr(connection, f"last_run_{field}") for field in LAST_RUN_FIELDS}
    return values if values["id"] is not None else None


def finding_list(*, user: Any) -> "QuerySet[Finding]":
    findings = Finding.objects.select_related("connection", "assignee", "claimed_by", "dataset", "location")
    # A finding about a registered location never reveals a dataset its reader may not see.
    findings = findings.filter(Q(dataset__isnull=True) | Q(dataset__in=Dataset.objects.restrict(user, "view")))
    if can_triage_findings(user):
        return findings
    person = person_for_user(user)
    if person is None:
        return findings.none()
    return findings.filter(Q(assignee=person) | Q(claimed_by=person))


def finding_filter(findings: "QuerySet[Finding]", params: Any) -> "QuerySet[Finding]":
    """Filters shared by the API and the pages: kind, status (or 'open' for all unresolved), connection, q."""
    kind = params.get("kind", "").strip()
    if kind:
        findings = findings.filter(kind=kind)
    status = params.get("status", "").strip()
    if status == "open":
        findings = findings.filter(status__in=Finding.OPEN_STATUSES)
    elif status:
        findings = findings.filter(status=status)
    connection = params.get("connection", "").strip()
    if connection:
        findings = findings.filter(connection__name=connection)
    assignee = params.get("assignee", "").strip()
    if assignee:
        findings = findings.filter(assignee__user__username=assignee)
    query = params.get("q", "").strip()
    if query:
        findings = findings.filter(Q(uri__icontains=query) | Q(storage_owner__icontains=query))
    return findings


@dataclass(frozen=True)
class RunProgress:
    objects: int
    bytes: int
    shards_total: int
    shards_done: int
    shards_failed: int
    rate_per_second: float | None
    eta_seconds: float | None


_SHARD_FIGURES = {
    "objects": Sum("objects_seen"), "bytes": Sum("bytes_seen"), "total": Count("id"),
    "done": Count("id", filter=Q(status="done")), "failed": Count("id", filter=Q(status="failed")),
}


def _progress(run: ScanRun, totals: dict[str, Any], now: datetime) -> RunProgress:
    objects, size = totals.get("objects") or 0, totals.get("bytes") or 0
    end = run.finished_at or now
    elapsed = (end - run.started_at).total_seconds() if run.started_at else 0.0
    rate = objects / elapsed if elapsed > 0 and objects else None
    eta = None
    if not run.is_finished and rate and run.expected_objects:
        eta = max(0.0, (run.expected_objects - objects) / rate)
    return RunProgress(objects, size, totals.get("total", 0), totals.get("done", 0), totals.get("failed", 0), rate,
                       eta)


def run_progress(run: ScanRun) -> RunProgress:
    """Objects and bytes so far, objects per second and, when a previous full scan tells the size, an ETA."""
    return _progress(run, run.shards.aggregate(**_SHARD_FIGURES), timezone.now())


def run_progress_by_run(runs: Sequence[ScanRun]) -> dict[int, RunProgress]:
    """``run_progress`` of each run of a page, in one query however many runs there are."""
    rows = ScanShard.objects.filter(run__in=[run.pk for run in runs]).order_by().values("run_id")
    totals: dict[int, dict[str, Any]] = {row["run_id"]: dict(row) for row in rows.annotate(**_SHARD_FIGURES)}
    now = timezone.now()
    return {run.pk: _progress(run, totals.get(run.pk, {}), now) for run in runs}


def run_list(*, user: Any) -> "QuerySet[ScanRun]":
    if not can_triage_findings(user):
        return ScanRun.objects.none()
    return ScanRun.objects.select_related("connection", "requested_by")


def finding_connection_names(*, user: Any) -> list[str]:
    """Connections to offer as a findings filter: all of them for staff, else those of the findings one sees."""
    if can_manage_connections(user):
        return list(StorageConnection.objects.order_by("name").values_list("name", flat=True))
    return sorted(set(finding_list(user=user).values_list("connection__name", flat=True)))


def dvc_remote_get(*, user: Any, pk: int) -> StorageConnection | None:
    """A DVC remote connection, for the people who triage findings (its page shows no credentials)."""
    if not can_triage_findings(user):
        return None
    return StorageConnection.objects.filter(pk=pk, is_dvc_remote=True).first()


def dvc_remote_open_findings(*, user: Any, connection: StorageConnection) -> "QuerySet[Finding]":
    return finding_list(user=user).filter(
        connection=connection, kind__in=[Finding.Kind.DVC_UNREFERENCED, Finding.Kind.DVC_HISTORICAL],
        status__in=Finding.OPEN_STATUSES,
    )


def findings_pointing_to(*, user: Any, people: Sequence[Person], limit: int = 10) -> dict[Any, list[Finding]]:
    """Open findings whose evidence names each of ``people``: the store's owner of the data, a DVC commit author,
    or a hint such as "the path names 'amara' (Amara Okafor)". What leavers left in storage besides datasets.

    The ``limit`` largest per person, keyed by person id, in one query however many people are asked about.
    """
    if not people:
        return {}
    names = {f"names_{person.pk}": ExpressionWrapper(_names(person), output_field=BooleanField()) for person in people}
    ranks = {
        f"rank_{person.pk}": Window(RowNumber(), partition_by=F(f"names_{person.pk}"),
                                    order_by=[F("total_bytes").desc(), F("uri"), F("pk")])
        for person in people
    }
    findings = (
        finding_list(user=user)
        .filter(status__in=Finding.OPEN_STATUSES)
        .annotate(hint_text=Cast("hints", TextField()))
        .annotate(**names)
        .filter(reduce(operator.or_, (Q(**{name: True}) for name in names)))
        .annotate(**ranks)
        .filter(reduce(operator.or_, (Q(**{f"names_{p.pk}": True, f"rank_{p.pk}__lte": limit}) for p in people)))
        .order_by("-total_bytes", "uri", "pk")
    )
    found: dict[Any, list[Finding]] = {person.pk: [] for person in people}
    for finding in findings:
        for person in people:
            if getattr(finding, f"names_{person.pk}") and getattr(finding, f"rank_{person.pk}") <= limit:
                found[person.pk].append(finding)
    return found


def _names(person: Person) -> Q:
    """Evidence naming ``person``; reads the ``hint_text`` annotation (the hints as text)."""
    return (
        Q(storage_owner__iexact=person.user.username)
        | Q(storage_owner__istartswith=person.display_name)
        | Q(hint_text__icontains=f"({person.display_name})")
    )


def left_data_by_location(*, user: Any, location_ids: Sequence[int]) -> dict[int, Finding]:
    """The open "owner departed" finding of each of these locations that ``user`` may see: how much data the
    last scan found there, keyed by location id."""
    findings = finding_list(user=user).filter(kind=Finding.Kind.OWNERLESS, status__in=Finding.OPEN_STATUSES,
                                              location_id__in=list(location_ids))
    return {finding.location_id: finding for finding in findings.order_by("last_seen_at") if finding.location_id}
