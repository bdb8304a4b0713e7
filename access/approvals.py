"""Access requests: who may decide (resolved at decision time), decisions, escalation and expiry.

Approval tiers, in order: the target's owner → stewards of its owning unit (following merge successors)
→ that unit's head → the catalog governance group. Departed people and the requester are skipped.
A request starts with the first tier that has anyone in it; each escalation admits the next tier too.
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.utils import timezone

from access.audit import audit_record
from access.grants import grant_create
from access.models import AccessRequest, Grant, Level, Membership, OrgUnit, Person
from kura.mail import mail_after_commit

TIERS = ("owner", "unit_steward", "unit_head", "governance")


@dataclass(frozen=True)
class Approvers:
    route: str
    people: list[Person]


def effective_unit(unit: OrgUnit | None) -> OrgUnit | None:
    """Follow merge successors, so a request on a merged unit's dataset reaches the unit it went into."""
    seen: set[Any] = set()
    while unit is not None and unit.successor_id is not None and unit.pk not in seen:
        seen.add(unit.pk)
        unit = unit.successor
    return unit


def _effective_units(unit_ids: set[Any]) -> dict[Any, OrgUnit | None]:
    """``effective_unit`` of each unit id, loading each step of the successor chains for all units at once."""
    units: dict[Any, OrgUnit] = {}
    asked: set[Any] = set()
    missing = {pk for pk in unit_ids if pk is not None}
    while missing:
        asked |= missing
        units.update(OrgUnit.objects.in_bulk(list(missing)))
        missing = {unit.successor_id for unit in units.values() if unit.successor_id is not None} - asked
    effective: dict[Any, OrgUnit | None] = {}
    for pk in unit_ids:
        unit, seen = units.get(pk), set()
        while unit is not None and unit.successor_id in units and unit.pk not in seen:
            seen.add(unit.pk)
            unit = units[unit.successor_id]
        effective[pk] = unit
    return effective


def _targets(requests: Sequence[AccessRequest]) -> dict[Any, Any]:
    """Each request's target (None if it is gone), by request id: one query per target model."""
    ids_by_type: dict[int, set[Any]] = defaultdict(set)
    for request in requests:
        ids_by_type[request.target_type_id].add(request.target_id)
    found: dict[tuple[int, Any], Any] = {}
    for type_id, ids in ids_by_type.items():
        model = ContentType.objects.get_for_id(type_id).model_class()
        if model is not None:
            found.update(((type_id, pk), obj) for pk, obj in model._default_manager.in_bulk(list(ids)).items())
    return {request.pk: found.get((request.target_type_id, request.target_id)) for request in requests}


def _by_name(people: Any) -> list[Person]:
    return sorted(people, key=lambda person: (person.display_name, person.pk))


def eligible_approvers_many(requests: Sequence[AccessRequest]) -> dict[Any, Approvers]:
    """``eligible_approvers`` of each request, keyed by request id, in a fixed number of queries however many
    requests there are (the inbox and its badge ask it of every pending request)."""
    if not requests:
        return {}
    target_of = _targets(requests)
    owners = Person.objects.select_related("user").in_bulk(
        {owner_id for target in target_of.values() if (owner_id := getattr(target, "owner_id", None)) is not None}
    )
    effective = _effective_units({getattr(target, "owning_unit_id", None) for target in target_of.values()})
    roles: dict[tuple[Any, str], list[Person]] = defaultdict(list)
    memberships = Membership.objects.current().filter(
        unit_id__in={unit.pk for unit in effective.values() if unit is not None},
        role__in=[Membership.Role.STEWARD, Membership.Role.HEAD],
    ).select_related("person__user")
    for membership in memberships:
        if membership.person not in roles[(membership.unit_id, membership.role)]:
            roles[(membership.unit_id, membership.role)].append(membership.person)
    governance = _by_name(
        Person.objects.filter(user__groups__name=settings.KURA_GOVERNANCE_GROUP).select_related("user").distinct()
    )
    approvers: dict[Any, Approvers] = {}
    for request in requests:
        target = target_of[request.pk]
        owner = owners.get(getattr(target, "owner_id", None))
        unit = effective.get(getattr(target, "owning_unit_id", None))
        candidates = {
            "owner": [owner] if owner is not None else [],
            "unit_steward": _by_name(roles[(unit.pk, Membership.Role.STEWARD)]) if unit is not None else [],
            "unit_head": _by_name(roles[(unit.pk, Membership.Role.HEAD)]) if unit is not None else [],
            "governance": governance,
        }
        approvers[request.pk] = _admitted(request, [(name, candidates[name]) for name in TIERS])
    return approvers


def _admitted(request: AccessRequest, tiers_in_order: list[tuple[str, list[Person]]]) -> Approvers:
    """The first tier with an active person always may decide; each escalation admits the next."""
    tiers: list[tuple[str, list[Person]]] = []
    for name, candidates in tiers_in_order:
        people = [
            person for person in candidates
            if person.status == Person.Status.ACTIVE and person.pk != request.requester_id
        ]
        if people:
            tiers.append((name, people))
    if not tiers:
        return Approvers(route="nobody", people=[])
    admitted = tiers[: 1 + request.escalation_count]
    admitted_people: list[Person] = []
    for _, tier_people in admitted:
        admitted_people.extend(person for person in tier_people if person not in admitted_people)
    return Approvers(route=admitted[-1][0], people=admitted_people)


def eligible_approvers(request: AccessRequest) -> Approvers:
    """Who may decide now. The first tier with an active person always may; each escalation admits the next."""
    return eligible_approvers_many([request])[request.pk]


def may_decide(person: Person | None, request: AccessRequest, approvers: Approvers) -> bool:
    """``can_decide`` with the request's approvers already resolved (``eligible_approvers_many``)."""
    if person is None or person.pk == request.requester_id or person.status != Person.Status.ACTIVE:
        return False
    return any(candidate.pk == person.pk for candidate in approvers.people)


def can_decide(person: Person | None, request: AccessRequest) -> bool:
    if person is None or person.pk == request.requester_id or person.status != Person.Status.ACTIVE:
        return False
    return may_decide(person, request, eligible_approvers(request))


def _notify(people: list[Person], subject: str, body: str) -> None:
    messages = [(subject, body, settings.DEFAULT_FROM_EMAIL, [p.email]) for p in people if p.email]
    mail_after_commit(messages)


def _link(request: AccessRequest) -> str:
    return f"{settings.KURA_BASE_URL}/access/requests/{request.pk}/"


def _route(request: AccessRequest, *, actor: Person | None, reason: str) -> Approvers:
    approvers = eligible_approvers(request)
    previous = request.approver_id
    request.approver = approvers.people[0] if approvers.people else None
    request.approver_route = approvers.route
    request.save(update_fields=["approver", "approver_route"])
    if previous is not None and previous != request.approver_id:
        audit_record(actor=actor, action="request.rerouted", target=request,
                     before={"approver": previous}, after={"approver": request.approver_id}, reason=reason)
    return approvers


@transaction.atomic
def access_request_create(
    *, requester: Person, target: models.Model, level: int, purpose: str, duration_days: int
) -> AccessRequest:
    errors: dict[str, str] = {}
    if level not in Level.values:
        errors["level"] = "Choose view, read or manage."
    if len(purpose.strip()) < 10:
        errors["purpose"] = "Say what you need the data for (at least a sentence); the approver reads this."
    if not 1 <= duration_days <= settings.KURA_GRANT_MAX_DAYS:
        errors["duration_days"] = f"Access can be requested for 1 to {settings.KURA_GRANT_MAX_DAYS} days."
    if errors:
        raise ValidationError(errors)
    # The requester's row serialises their requests: of two submits at once (a double click) the second waits
    # here for the first to commit and then finds its pending request.
    requester = Person.objects.select_for_update().get(pk=requester.pk)
    if requester.status != Person.Status.ACTIVE:
        raise ValidationError("Departed people cannot request access.")
    target_type = ContentType.objects.get_for_model(target)
    pending = AccessRequest.objects.filter(
        requester=requester, target_type=target_type, target_id=target.pk, status=AccessRequest.Status.PENDING
    )
    if pending.exists():
        raise ValidationError("You already have a pending request for this dataset; withdraw it to ask again.")
    now = timezone.now()
    request = AccessRequest.objects.create(
        target_type=target_type, target_id=target.pk, requester=requester, level=level, purpose=purpose.strip(),
        duration_days=duration_days, deadline_at=now + timedelta(days=settings.KURA_REQUEST_DEADLINE_DAYS),
    )
    approvers = _route(request, actor=requester, reason="")
    audit_record(actor=requester, action="request.created", target=request,
                 after={"level": level, "duration_days": duration_days, "approver_route": approvers.route},
                 reason=purpose)
    _notify(approvers.people, f"[Kura] {requester} asks for access to {target}",
            f"{requester} asks for '{Level(level).label}' on {target} for {duration_days} days:\n\n"
            f"{purpose}\n\nDecide: {_link(request)}")
    return request


@transaction.atomic
def access_request_decide(
    *, request: AccessRequest, decider: Person, approve: bool, comment: str = ""
) -> Grant | None:
    request = AccessRequest.objects.select_for_update().get(pk=request.pk)
    if request.status != AccessRequest.Status.PENDING:
        raise ValidationError(f"This request is already {request.get_status_display().lower()}.")
    if not can_decide(decider, request):
        raise PermissionDenied("You are not an approver for this request.")
    if not approve and not comment.strip():
        raise ValidationError({"comment": "Tell the requester why the request is denied."})
    now = timezone.now()
    request.status = AccessRequest.Status.APPROVED if approve else AccessRequest.Status.DENIED
    request.decided_by, request.decided_at, request.decision_comment = decider, now, comment.strip()
    request.save(update_fields=["status", "decided_by", "decided_at", "decision_comment"])
    grant = None
    if approve:
        grant = grant_create(
            target=request.target_object, level=request.level, basis=Grant.Basis.REQUEST, granted_by=decider,
            grantee_person=request.requester, justification=request.purpose,
            expires_at=now + timedelta(days=request.duration_days), request=request,
        )
    audit_record(actor=decider, action="request.approved" if approve else "request.denied", target=request,
                 after={"status": request.status}, reason=comment)
    verdict = "approved" if approve else "denied"
    _notify([request.requester], f"[Kura] Your access request for {request.target} was {verdict}",
            f"{decider} {verdict} your request.\n\n{comment}\n\n{_link(request)}")
    return grant


@transaction.atomic
def access_request_withdraw(*, request: AccessRequest, requester: Person) -> AccessRequest:
    request = AccessRequest.objects.select_for_update().get(pk=request.pk)
    if request.requester_id != requester.pk:
        raise PermissionDenied("Only the requester can withdraw a request.")
    if request.status != AccessRequest.Status.PENDING:
        raise ValidationError("Only a pending request can be withdrawn.")
    request.status = AccessRequest.Status.WITHDRAWN
    request.save(update_fields=["status"])
    audit_record(actor=requester, action="request.withdrawn", target=request)
    return request


def access_requests_withdraw_for(*, requester: Person, actor: Person | None, reason: str) -> int:
    """Withdraw every pending request of ``requester`` (e.g. who departed), each on the record like a withdrawal."""
    count = 0
    pending = AccessRequest.objects.filter(requester=requester, status=AccessRequest.Status.PENDING)
    for request in pending.select_for_update().order_by("pk"):
        request.status = AccessRequest.Status.WITHDRAWN
        request.save(update_fields=["status"])
        audit_record(actor=actor, action="request.withdrawn", target=request, reason=reason)
        count += 1
    return count


def access_requests_escalate(*, now: Any = None) -> int:
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.KURA_REQUEST_ESCALATE_AFTER_DAYS)
    due = AccessRequest.objects.filter(status=AccessRequest.Status.PENDING, escalation_count__lt=len(TIERS) - 1).filter(
        models.Q(escalated_at__lte=cutoff) | models.Q(escalated_at__isnull=True, created_at__lte=cutoff)
    )
    count = 0
    for request_id in list(due.values_list("pk", flat=True)):
        with transaction.atomic():
            # Under the lock, due again: decided, withdrawn or escalated by a concurrent run (beat firing twice, a
            # redelivered task) since it was listed, it is left alone rather than skip a tier and mail twice.
            request = due.select_for_update().filter(pk=request_id).first()
            if request is None:
                continue
            request.escalation_count += 1
            request.escalated_at = now
            request.save(update_fields=["escalation_count", "escalated_at"])
            approvers = _route(request, actor=None, reason="escalated: undecided")
            audit_record(actor=None, action="request.escalated", target=request,
                         after={"escalation_count": request.escalation_count, "route": approvers.route})
            _notify(approvers.people, f"[Kura] Escalated: access request for {request.target}",
                    f"{request.requester} has waited {settings.KURA_REQUEST_ESCALATE_AFTER_DAYS}+ days for a "
                    f"decision. You can decide now: {_link(request)}")
            count += 1
    return count


def access_requests_expire(*, now: Any = None) -> int:
    now = now or timezone.now()
    due = AccessRequest.objects.filter(status=AccessRequest.Status.PENDING, deadline_at__lte=now)
    count = 0
    for request_id in list(due.values_list("pk", flat=True)):
        with transaction.atomic():
            request = AccessRequest.objects.select_for_update().get(pk=request_id)
            if request.status != AccessRequest.Status.PENDING:
                continue
            request.status = AccessRequest.Status.EXPIRED
            request.save(update_fields=["status"])
            audit_record(actor=None, action="request.expired", target=request, reason="deadline passed undecided")
            _notify([request.requester], f"[Kura] Your access request for {request.target} expired",
                    f"Nobody decided before {request.deadline_at:%Y-%m-%d}. You can ask again: {_link(request)}")
            count += 1
    return count


def access_request_reroute(*, request: AccessRequest, actor: Person | None, reason: str) -> Approvers:
    return _route(request, actor=actor, reason=reason)


def pending_requests_by_object(objs: Sequence[models.Model]) -> dict[tuple[int, Any], list[AccessRequest]]:
    """The pending requests on each of ``objs`` (newest first), one query per model: keyed by (content type id,
    object pk)."""
    pks_by_type: dict[int, list[Any]] = defaultdict(list)
    for obj in objs:
        pks_by_type[ContentType.objects.get_for_model(obj).pk].append(obj.pk)
    pending: dict[tuple[int, Any], list[AccessRequest]] = defaultdict(list)
    for type_id, pks in pks_by_type.items():
        requests = AccessRequest.objects.filter(
            target_type_id=type_id, target_id__in=pks, status=AccessRequest.Status.PENDING
        ).select_related("requester")
        for request in requests:
            pending[(type_id, request.target_id)].append(request)
    return pending


def access_requests_reroute_for(*, person: Person, actor: Person | None) -> int:
    """Re-resolve every pending request that was waiting on ``person`` (e.g. because they departed)."""
    count = 0
    for request in AccessRequest.objects.filter(status=AccessRequest.Status.PENDING, approver=person):
        approvers = _route(request, actor=actor, reason=f"{person} is no longer available")
        _notify(approvers.people, f"[Kura] Access request for {request.target} now waits on you",
                f"{person} can no longer decide it. {_link(request)}")
        count += 1
    return count
