"""Reads that join the access ledger with dataset visibility (``access`` cannot see datasets itself)."""

from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db.models import Q, QuerySet

from access.approvals import can_decide
from access.models import AccessRequest, AuditEvent, Grant, Membership, OrgEvent, Person
from access.selectors import person_for_user
from catalog.models import Dataset


def is_governance(user: Any) -> bool:
    if getattr(user, "is_staff", False):
        return True
    return bool(getattr(user, "pk", None)) and user.groups.filter(name=settings.KURA_GOVERNANCE_GROUP).exists()


def is_steward(user: Any) -> bool:
    person = person_for_user(user)
    if person is None:
        return is_governance(user)
    roles = [Membership.Role.STEWARD, Membership.Role.HEAD]
    return is_governance(user) or Membership.objects.current().filter(person=person, role__in=roles).exists()


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
    pending = AccessRequest.objects.filter(status=AccessRequest.Status.PENDING).select_related("requester")
    return [request for request in pending if can_decide(person, request)]


def request_target(request: AccessRequest) -> Dataset:
    return Dataset.objects.get(pk=request.target_id)
