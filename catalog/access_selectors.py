"""Reads that join the access ledger with dataset visibility (``access`` cannot see datasets itself)."""

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

from django.contrib.contenttypes.models import ContentType
from django.db.models import Count, Q, QuerySet

from access.approvals import can_decide, eligible_approvers_many, may_decide
from access.models import AccessRequest, AuditEvent, GovernanceItem, Grant, Membership, OrgEvent, OrgUnit, Person
from access.selectors import is_governance, is_steward, person_for_user
from catalog.models import Dataset
from catalog.querysets import Action
from catalog.selectors import left_behind_datasets, proposed_successors


def audit_events_visible(*, user: Any) -> "QuerySet[AuditEvent]":
    """Governance sees the whole log; stewards see events about datasets they may view, org events and people."""
    events = AuditEvent.objects.select_related("actor", "target_type").order_by("-created_at", "-id")
    if is_governance(user):
        return events
    if not is_steward(user):
        return events.none()
    dataset_type = ContentType.objects.get_for_model(Dataset)
    request_type = ContentType.objects.get_for_model(AccessRequest)
    visible_ids = [str(pk) for pk in Dataset.objects.restrict(user, "view").values_list("pk", flat=True)]
    visible_requests = [
        str(pk) for pk in AccessRequest.objects.filter(target_id__in=visible_ids).values_list("pk", flat=True)
    ]
    return events.filter(
        Q(target_type=dataset_type, target_id__in=visible_ids)
        | Q(target_type=request_type, target_id__in=visible_requests)
        | Q(target_type__in=[ContentType.objects.get_for_model(OrgEvent), ContentType.objects.get_for_model(Person)])
    )


def dataset_grants(*, dataset: Dataset, include_inactive: bool = False) -> "QuerySet[Grant]":
    grants = Grant.objects.filter(target_type=ContentType.objects.get_for_model(Dataset), target_id=dataset.pk)
    if not include_inactive:
        grants = grants.active()
    return grants.select_related("grantee_person", "grantee_unit", "granted_by").order_by("-created_at")


def requests_of(*, person: Person) -> "QuerySet[AccessRequest]":
    return AccessRequest.objects.filter(requester=person).select_related("approver", "decided_by")


def requests_awaiting(*, person: Person) -> list[AccessRequest]:
    """Pending requests ``person`` may decide now (resolved per request, as at decision time)."""
    pending = list(AccessRequest.objects.filter(status=AccessRequest.Status.PENDING).select_related("requester"))
    approvers = eligible_approvers_many(pending)
    return [request for request in pending if may_decide(person, request, approvers[request.pk])]


# --- reads for the access pages (frontend) --------------------------------------------------------------


def request_pending_on(*, person: Person, dataset: Dataset) -> AccessRequest | None:
    """The person's pending request for this dataset, if any (at most one: the service refuses a second)."""
    return (
        requests_of(person=person)
        .filter(target_type=ContentType.objects.get_for_model(Dataset), target_id=dataset.pk,
                status=AccessRequest.Status.PENDING)
        .first()
    )


def request_history(*, request: AccessRequest) -> "QuerySet[AuditEvent]":
    """What happened to one request (created, re-routed, escalated, decided, withdrawn, expired), oldest first."""
    return (
        AuditEvent.objects.filter(target_type=ContentType.objects.get_for_model(AccessRequest),
                                  target_id=str(request.pk))
        .select_related("actor")
        .order_by("created_at", "id")
    )


def datasets_by_id(*, user: Any, ids: Iterable[Any], action: Action = "view") -> dict[str, Dataset]:
    """Of the datasets ``ids`` names, those ``user`` may ``action``, keyed by ``str(pk)``."""
    wanted = {str(pk) for pk in ids}
    if not wanted:
        return {}
    allowed = Dataset.objects.restrict(user, action).filter(pk__in=wanted).select_related("owner", "owning_unit")
    return {str(dataset.pk): dataset for dataset in allowed}


def _datasets_to_decide(requests: Iterable[AccessRequest]) -> dict[str, Dataset]:
    """The datasets of ``requests``, keyed by ``str(pk)``, whatever their visibility; only for requests the person
    may decide, or did. An approver must know what they grant, also of a restricted dataset they cannot open;
    otherwise a request routed to catalog governance could only expire."""
    ids = {str(request.target_id) for request in requests}
    if not ids:
        return {}
    datasets = Dataset.objects.filter(pk__in=ids).select_related("owner", "owning_unit")
    return {str(dataset.pk): dataset for dataset in datasets}


class VisibleRequest(NamedTuple):
    access_request: AccessRequest
    dataset: Dataset | None  # None: the user may not see it
    can_open: bool  # the dataset's own page: False for a restricted dataset shown to an approver only
    can_decide: bool


def access_request_visible(*, user: Any, pk: int) -> VisibleRequest | None:
    """One access request as ``user`` may see it; None when it does not exist for them.

    The requester sees their own request; people who may decide it, or did, see it with its dataset, also a
    restricted one they cannot open; for everybody else it does not exist (the page and the API answer 404).
    """
    access_request = AccessRequest.objects.select_related("requester", "approver", "decided_by").filter(pk=pk).first()
    if access_request is None:
        return None
    person = person_for_user(user)
    dataset = datasets_by_id(user=user, ids=[access_request.target_id]).get(str(access_request.target_id))
    can_open = dataset is not None
    if person is not None and access_request.requester_id == person.pk:
        return VisibleRequest(access_request, dataset, can_open, can_decide=False)
    decider = can_decide(person, access_request)
    if not (decider or (person is not None and access_request.decided_by_id == person.pk)):
        return None
    if dataset is None:
        dataset = _datasets_to_decide([access_request]).get(str(access_request.target_id))
    return VisibleRequest(access_request, dataset, can_open, can_decide=decider)


def inbox_rows(*, user: Any, person: Person) -> list[VisibleRequest]:
    """The pending requests ``person`` may decide now, each with its dataset (named even where restricted)."""
    waiting = requests_awaiting(person=person)
    datasets = _datasets_to_decide(waiting)
    openable = datasets_by_id(user=user, ids=datasets)
    return [
        VisibleRequest(row, datasets.get(str(row.target_id)), str(row.target_id) in openable, can_decide=True)
        for row in waiting
    ]


@dataclass(frozen=True)
class UnitNode:
    unit: OrgUnit
    depth: int
    members: int
    stewards: int
    heads: int
    datasets: int


def org_unit_tree() -> list[UnitNode]:
    """Every unit (active ones first among siblings) in tree order, with current membership and dataset counts."""
    units = list(OrgUnit.objects.select_related("successor", "parent"))
    roles: dict[tuple[Any, str], int] = {
        (row["unit_id"], row["role"]): row["n"]
        for row in Membership.objects.current().values("unit_id", "role").annotate(n=Count("id"))
    }
    owned = {
        row["owning_unit_id"]: row["n"] for row in Dataset.objects.values("owning_unit_id").annotate(n=Count("id"))
    }
    known = {unit.pk for unit in units}
    children: dict[Any, list[OrgUnit]] = {}
    for unit in units:
        children.setdefault(unit.parent_id if unit.parent_id in known else None, []).append(unit)
    for siblings in children.values():
        siblings.sort(key=lambda unit: (unit.status != OrgUnit.Status.ACTIVE, unit.name.casefold()))
    nodes: list[UnitNode] = []
    seen: set[Any] = set()

    def walk(parent: Any, depth: int) -> None:
        for unit in children.get(parent, []):
            if unit.pk in seen:
                continue
            seen.add(unit.pk)
            nodes.append(UnitNode(
                unit=unit, depth=depth, members=roles.get((unit.pk, Membership.Role.MEMBER), 0),
                stewards=roles.get((unit.pk, Membership.Role.STEWARD), 0),
                heads=roles.get((unit.pk, Membership.Role.HEAD), 0), datasets=owned.get(unit.pk, 0),
            ))
            walk(unit.pk, depth + 1)

    walk(None, 0)
    return nodes


@dataclass(frozen=True)
class SplitInventory:
    """What a split of ``unit`` has to place: its active unit grants, current memberships and owned datasets."""

    grants: list[Grant]
    memberships: list[Membership]
    datasets: list[Dataset]


def split_inventory(*, unit: OrgUnit) -> SplitInventory:
    return SplitInventory(
        grants=list(Grant.objects.active().filter(grantee_unit=unit).order_by("created_at")),
        memberships=list(
            Membership.objects.current().filter(unit=unit).select_related("person").order_by("person__display_name")
        ),
        datasets=list(Dataset.objects.filter(owning_unit=unit).order_by("slug")),
    )


def governance_queue() -> "QuerySet[GovernanceItem]":
    """What reorganisations left for governance to decide, oldest first."""
    return (
        GovernanceItem.objects.filter(resolved_at__isnull=True)
        .select_related("former_unit", "event", "object_type")
        .order_by("created_at", "id")
    )


def org_events_recent(*, limit: int = 10) -> "QuerySet[OrgEvent]":
    return OrgEvent.objects.select_related("actor").prefetch_related("sources", "targets").order_by("-applied_at")[
        :limit
    ]


@dataclass
class LeftBehindRow:
    dataset: Dataset
    locations: list[Any] | None  # None: the viewer may not read the data, so not where it lives either
    successor: Person | None
    can_reassign: bool


@dataclass
class LeftBehindGroup:
    person: Person
    rows: list[LeftBehindRow]
    successor: Person | None  # the successor proposed for most of this person's datasets


def left_behind_groups(*, user: Any) -> list[LeftBehindGroup]:
    """The Left behind queue as ``user`` may see it, by departed owner, newest departure first."""
    datasets = list(left_behind_datasets(user=user))
    ids = [dataset.pk for dataset in datasets]
    readable = datasets_by_id(user=user, ids=ids, action="read")
    changeable = datasets_by_id(user=user, ids=ids, action="reassign")
    successors = proposed_successors(datasets)
    groups: dict[Any, LeftBehindGroup] = {}
    for dataset in datasets:
        group = groups.setdefault(dataset.owner_id, LeftBehindGroup(person=dataset.owner, rows=[], successor=None))
        group.rows.append(LeftBehindRow(
            dataset=dataset,
            locations=list(dataset.locations.all()) if str(dataset.pk) in readable else None,
            successor=successors[dataset.pk],
            can_reassign=str(dataset.pk) in changeable,
        ))
    for group in groups.values():
        votes = Counter(row.successor for row in group.rows if row.successor is not None)
        group.successor = votes.most_common(1)[0][0] if votes else None
    return list(groups.values())
