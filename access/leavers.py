"""Leavers and movers: people depart or change units without their data or approvals getting stuck."""

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import transaction
from django.utils import timezone

from access.approvals import access_requests_reroute_for, access_requests_withdraw_for
from access.audit import audit_record
from access.grants import grants_suspend_for_person
from access.models import ApiToken, Membership, OrgUnit, Person
from access.org import _drop_group_if_no_membership, membership_end, membership_start
from access.services import token_revoke


@transaction.atomic
def person_depart(*, person: Person, actor: Person | None, reason: str = "left the company",
                  at: datetime | None = None) -> Person:
    """End memberships, suspend personal grants, revoke tokens, re-route approvals; datasets go to Left behind."""
    person = Person.objects.select_for_update().get(pk=person.pk)
    if person.status == Person.Status.DEPARTED:
        return person
    now = at or timezone.now()
    person.status, person.departed_at = Person.Status.DEPARTED, now
    person.save(update_fields=["status", "departed_at"])
    for membership in Membership.objects.current(now).filter(person=person):
        membership_end(membership=membership, actor=actor, reason="departed")
    suspended = grants_suspend_for_person(person=person, actor=actor, reason="grantee departed")
    # Revoked, not merely refused while departed: a rejoiner must not find a token left on an old laptop or in a
    # forgotten CI variable working again. Unit tokens are untouched, so CI survives its creator leaving.
    live_tokens = list(ApiToken.objects.filter(owner_person=person, revoked_at__isnull=True))
    for token in live_tokens:
        token_revoke(token=token, actor=actor)  # each audited like any revocation
    tokens = len(live_tokens)
    rerouted = access_requests_reroute_for(person=person, actor=actor)
    withdrawn = access_requests_withdraw_for(requester=person, actor=actor, reason="the requester departed")
    _end_sessions(person)
    audit_record(actor=actor, action="person.departed", target=person, reason=reason, after={
        "grants_suspended": suspended, "tokens_revoked": tokens, "requests_rerouted": rerouted,
        "own_requests_withdrawn": withdrawn,
    })
    return person


def _end_sessions(person: Person) -> None:
    # The auth backend already refuses departed people; deleting sessions also drops any cached login.
    user_id = str(person.user_id)
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        if session.get_decoded().get("_auth_user_id") == user_id:
            session.delete()


@transaction.atomic
def person_rejoin(*, person: Person, actor: Person | None, unit: OrgUnit | None) -> Person:
    person = Person.objects.select_for_update().get(pk=person.pk)
    if person.status == Person.Status.ACTIVE:
        return person
    person.status, person.departed_at, person.primary_unit = Person.Status.ACTIVE, None, unit
    person.save(update_fields=["status", "departed_at", "primary_unit"])
    if unit is not None:
        membership_start(person=person, unit=unit, actor=actor)
    audit_record(actor=actor, action="person.rejoined", target=person)
    return person


@transaction.atomic
def person_move(*, person: Person, new_unit: OrgUnit, actor: Person | None,
                grace_days: int | None = None) -> Person:
    """A mover keeps personal grants and owned datasets; access through the old unit ends after a grace period."""
    grace = timedelta(days=settings.KURA_MOVER_GRACE_DAYS if grace_days is None else grace_days)
    now = timezone.now()
    old_units = []
    for membership in Membership.objects.current(now).filter(person=person, valid_to__isnull=True):
        if membership.unit_id == new_unit.pk:
            continue
        old_units.append(membership.unit.name)
        membership_end(membership=membership, actor=actor, reason=f"moved to {new_unit.name}", at=now + grace)
    membership_start(person=person, unit=new_unit, actor=actor)
    person.primary_unit = new_unit
    person.save(update_fields=["primary_unit"])
    audit_record(actor=actor, action="person.moved", target=person,
                 before={"units": old_units}, after={"unit": new_unit.name, "grace_ends": now + grace})
    return person


def memberships_end_grace(*, now: datetime | None = None) -> int:
    """Drop group rights (the guardian projection) of memberships whose grace period has run out."""
    now = now or timezone.now()
    ended = Membership.objects.filter(valid_to__lte=now, valid_to__gte=now - timedelta(days=30))
    count = 0
    for membership in ended.select_related("person__user", "unit"):
        _drop_group_if_no_membership(membership.person, membership.unit)
        count += 1
    return count
