from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, transaction
from django.utils import timezone
from guardian.shortcuts import get_perms

from access.approvals import (
    access_request_create,
    access_request_decide,
    access_requests_escalate,
    access_requests_expire,
    eligible_approvers,
)
from access.grants import grant_revoke, grants_record_expiries
from access.leavers import person_depart, person_move
from access.models import AccessRequest, AuditEvent, GovernanceItem, Grant, Level, Membership, OrgUnit
from access.org import membership_start, org_event_apply, plan_merge, plan_rename, plan_split
from catalog.models import Dataset
from catalog.selectors import left_behind_datasets, proposed_successor
from catalog.services import datasets_reassign_owner
from tests.factories import grant, make_dataset, make_person, make_unit

pytestmark = pytest.mark.django_db


def visible(person, action="view"):
    return set(Dataset.objects.restrict(person.user, action).values_list("slug", flat=True))


def test_grant_levels_and_expiry_are_enforced_in_the_query(owner, colleague):
    restricted = make_dataset(owner, slug="restricted-set", visibility="restricted")
    assert "restricted-set" not in visible(colleague)
    g = grant(restricted, colleague, Level.READ, expires_at=timezone.now() + timedelta(hours=1))
    assert "restricted-set" in visible(colleague, "read")
    assert "restricted-set" not in visible(colleague, "change")
    Grant.objects.filter(pk=g.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    # No cleanup job has run: the query alone must already deny.
    assert "restricted-set" not in visible(colleague)


def test_guardian_projection_follows_the_ledger(owner, colleague):
    dataset = make_dataset(owner, slug="projected", visibility="restricted")
    g = grant(dataset, colleague, Level.READ)
    assert set(get_perms(colleague.user, dataset)) == {"view_dataset", "read_dataset_data"}
    grant_revoke(grant=g, actor=owner, reason="project finished")
    assert get_perms(colleague.user, dataset) == []
    assert AuditEvent.objects.filter(action="grant.revoked").count() == 1


def test_expiry_job_records_and_clears_projection(owner, colleague):
    dataset = make_dataset(owner, slug="expiring", visibility="restricted")
    g = grant(dataset, colleague, Level.VIEW, expires_at=timezone.now() + timedelta(hours=1))
    Grant.objects.filter(pk=g.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    assert grants_record_expiries() == 1
    assert grants_record_expiries() == 0
    assert get_perms(colleague.user, dataset) == []
    assert AuditEvent.objects.filter(action="grant.expired").count() == 1


def test_unit_grant_reaches_members_only(owner):
    other_unit = make_unit("Speech")
    member = make_person("sam", unit=other_unit)
    outsider = make_person("olga", unit=make_unit("Sales"))
    membership_start(person=member, unit=other_unit)
    dataset = make_dataset(owner, slug="unit-shared", visibility="restricted")
    grant(dataset, other_unit, Level.READ)
    assert "unit-shared" in visible(member, "read")
    assert "unit-shared" not in visible(outsider)


def test_request_approved_by_owner_creates_expiring_grant(owner, colleague):
    dataset = make_dataset(owner, slug="street-signs")
    request = access_request_create(requester=colleague, target=dataset, level=Level.READ,
                                    purpose="Evaluate the night-time detector.", duration_days=30)
    assert request.approver == owner and request.approver_route == "owner"
    with pytest.raises(PermissionDenied):
        access_request_decide(request=request, decider=colleague, approve=True)
    new_grant = access_request_decide(request=request, decider=owner, approve=True, comment="ok")
    assert new_grant.expires_at - timezone.now() > timedelta(days=29)
    assert "street-signs" in visible(colleague, "read")
    request.refresh_from_db()
    assert request.status == AccessRequest.Status.APPROVED


def test_no_self_approval_even_for_the_owner_asking_more(owner, unit):
    steward = make_person("stella", unit=unit)
    membership_start(person=steward, unit=unit, role=Membership.Role.STEWARD)
    dataset = make_dataset(owner, slug="own-data")
    request = access_request_create(requester=owner, target=dataset, level=Level.MANAGE,
                                    purpose="I need to manage my own dataset.", duration_days=10)
    approvers = eligible_approvers(request)
    assert owner not in approvers.people and approvers.people == [steward]
    with pytest.raises(PermissionDenied):
        access_request_decide(request=request, decider=owner, approve=True)


def test_deny_needs_a_reason(owner, colleague):
    dataset = make_dataset(owner, slug="street-signs")
    request = access_request_create(requester=colleague, target=dataset, level=Level.READ,
                                    purpose="Evaluate the night-time detector.", duration_days=30)
    with pytest.raises(ValidationError):
        access_request_decide(request=request, decider=owner, approve=False)
    access_request_decide(request=request, decider=owner, approve=False, comment="Personal data; ask legal.")
    assert not Grant.objects.exists()


def test_escalation_then_expiry_by_the_scheduled_jobs(owner, colleague, unit, settings):
    steward = make_person("stella", unit=unit)
    membership_start(person=steward, unit=unit, role=Membership.Role.STEWARD)
    dataset = make_dataset(owner, slug="street-signs")
    request = access_request_create(requester=colleague, target=dataset, level=Level.READ,
                                    purpose="Evaluate the night-time detector.", duration_days=30)
    assert eligible_approvers(request).people == [owner]
    later = timezone.now() + timedelta(days=settings.KURA_REQUEST_ESCALATE_AFTER_DAYS, minutes=1)
    assert access_requests_escalate(now=later) == 1
    request.refresh_from_db()
    assert request.escalation_count == 1
    assert set(eligible_approvers(request).people) == {owner, steward}
    assert access_requests_escalate(now=later) == 0  # not due again yet
    assert access_requests_expire(now=timezone.now() + timedelta(days=settings.KURA_REQUEST_DEADLINE_DAYS + 1)) == 1
    request.refresh_from_db()
    assert request.status == AccessRequest.Status.EXPIRED
    assert AuditEvent.objects.filter(action__in=["request.escalated", "request.expired"]).count() == 2


def test_leaver_datasets_go_left_behind_and_waiting_requests_reroute(owner, colleague, unit):
    manager = make_person("mira", unit=unit)
    owner.manager = manager
    owner.save()
    steward = make_person("stella", unit=unit)
    membership_start(person=steward, unit=unit, role=Membership.Role.STEWARD)
    dataset = make_dataset(owner, slug="orphan-to-be")
    other = make_dataset(colleague, slug="colleague-data")
    grant(other, owner, Level.READ)
    request = access_request_create(requester=colleague, target=dataset, level=Level.READ,
                                    purpose="Evaluate the night-time detector.", duration_days=30)
    assert request.approver == owner

    person_depart(person=owner, actor=steward)

    request.refresh_from_db()
    assert request.approver == steward
    assert [d.slug for d in left_behind_datasets(user=steward.user)] == ["orphan-to-be"]
    assert proposed_successor(dataset) == manager
    assert Grant.objects.get(grantee_person=owner).suspended_at is not None
    assert not owner.user.is_authenticated or "colleague-data" not in visible(owner, "read")
    access_request_decide(request=request, decider=steward, approve=True)


def test_mover_keeps_own_data_and_loses_old_unit_access_after_grace(owner, unit, monkeypatch):
    old_unit_data = make_dataset(make_person("x", unit=unit), slug="perception-shared", visibility="restricted")
    grant(old_unit_data, unit, Level.READ)
    membership_start(person=owner, unit=unit)
    own = make_dataset(owner, slug="my-own", visibility="restricted")
    new_unit = make_unit("Platform")

    person_move(person=owner, new_unit=new_unit, actor=None, grace_days=7)

    assert {"my-own", "perception-shared"} <= visible(owner, "read")
    later = timezone.now() + timedelta(days=8)
    monkeypatch.setattr(timezone, "now", lambda: later)  # the grace period is over
    assert "perception-shared" not in visible(owner, "read")
    assert "my-own" in visible(owner, "read")
    own.refresh_from_db()
    assert own.owner == owner


def test_rename_changes_nothing_but_the_name(owner, unit, colleague):
    dataset = make_dataset(owner, slug="street-signs", visibility="restricted")
    grant(dataset, unit, Level.READ)
    membership_start(person=colleague, unit=unit)
    before = set(Grant.objects.active().values_list("pk", flat=True))
    org_event_apply(plan=plan_rename(unit=unit, new_name="Perception & Mapping"), actor=None)
    unit.refresh_from_db()
    assert unit.name == "Perception & Mapping"
    assert set(Grant.objects.active().values_list("pk", flat=True)) == before
    assert "street-signs" in visible(colleague, "read")


def test_merge_moves_grants_stewardship_and_datasets(owner):
    a, b, c = make_unit("A"), make_unit("B"), make_unit("C")
    steward = make_person("stella", unit=a)
    membership_start(person=steward, unit=a, role=Membership.Role.STEWARD)
    member = make_person("mo", unit=b)
    membership_start(person=member, unit=b)
    dataset = make_dataset(owner, slug="a-data", unit=a, visibility="restricted")
    grant(dataset, b, Level.READ)

    plan = plan_merge(sources=[a, b], successor=c, actor=None)
    preview = [change["description"] for change in plan.summary()]
    assert f"{dataset.name} is now owned by C" in preview
    org_event_apply(plan=plan, actor=None)

    dataset.refresh_from_db()
    assert dataset.owning_unit == c
    assert Grant.objects.active().get().grantee_unit == c
    assert Membership.objects.current().get(person=steward).unit == c
    assert "a-data" in visible(member, "read")
    assert OrgUnit.objects.get(pk=a.pk).successor == c


def test_merge_moves_every_unit_grant_with_its_audit_trail_and_projection(owner):
    a, b, c = make_unit("A"), make_unit("B"), make_unit("C")
    member = make_person("mo", unit=c)
    membership_start(person=member, unit=c)
    first = make_dataset(owner, slug="first", unit=c, visibility="restricted")
    second = make_dataset(owner, slug="second", unit=c, visibility="restricted")
    expiry = timezone.now() + timedelta(days=30)
    moved = [
        grant(first, a, Level.READ),
        Grant.objects.get(pk=grant(second, a, Level.MANAGE, expires_at=expiry).pk),
        grant(second, b, Level.VIEW),
    ]
    already_there = grant(first, c, Level.VIEW)

    org_event_apply(plan=plan_merge(sources=[a, b], successor=c, actor=owner), actor=owner)

    for old in moved:
        old.refresh_from_db()
        assert old.revoked_at is not None and old.revoked_by == owner
        replacement = Grant.objects.get(replaces=old)
        assert (replacement.grantee_unit, replacement.level, replacement.basis, replacement.expires_at) == (
            c, old.level, Grant.Basis.REORG, old.expires_at,
        )
        assert replacement.granted_by == owner
    assert Grant.objects.active().filter(grantee_unit__in=[a, b]).count() == 0
    assert already_there in Grant.objects.active()
    revoked = AuditEvent.objects.filter(action="grant.revoked", reason="merge into C")
    created = AuditEvent.objects.filter(action="grant.created", reason="merge into C")
    assert revoked.count() == 3 and created.count() == 3
    assert all(event.before["revoked_at"] is None and event.after["revoked_at"] for event in revoked)
    a_group, b_group, c_group = (Group.objects.get(org_unit=unit) for unit in (a, b, c))
    assert get_perms(a_group, first) == [] and get_perms(a_group, second) == [] and get_perms(b_group, second) == []
    assert set(get_perms(c_group, first)) == {"view_dataset", "read_dataset_data"}
    assert set(get_perms(c_group, second)) == {"view_dataset", "read_dataset_data", "change_dataset"}
    assert {"first", "second"} <= visible(member, "read")


def test_split_widens_nothing_and_queues_the_unassigned(owner):
    a, b, c = make_unit("A"), make_unit("B"), make_unit("C")
    member = make_person("mo", unit=a)
    membership_start(person=member, unit=a)
    kept = make_dataset(owner, slug="kept", unit=a, visibility="restricted")
    queued = make_dataset(owner, slug="queued", unit=a, visibility="restricted")
    kept_grant = grant(kept, a, Level.READ)
    grant(queued, a, Level.READ)

    plan = plan_split(source=a, successors=[b, c], actor=None, assignments={
        "grants": {str(kept_grant.pk): str(b.pk)}, "objects": {str(kept.pk): str(b.pk)},
        "members": {str(member.pk): str(c.pk)},
    })
    org_event_apply(plan=plan, actor=None)

    # The member went to C; neither C nor anyone else gained access by the split.
    assert visible(member, "read") == set()
    assert Grant.objects.active().get().grantee_unit == b
    queued_grant = Grant.objects.get(target_id=queued.pk, grantee_unit=a)
    assert queued_grant.revoked_at is not None
    assert GovernanceItem.objects.get(kind="grant").object_id == str(queued_grant.pk)
    assert GovernanceItem.objects.get(kind="ownership").object_id == str(queued.pk)


def test_audit_log_is_append_only(owner):
    make_dataset(owner, slug="audited")
    event = AuditEvent.objects.first()
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(reason="tampered")
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()


def test_governance_group_decides_when_nobody_else_can(owner, colleague, unit):
    governor = make_person("gov", unit=make_unit("Governance"))
    governor.user.groups.add(Group.objects.get_or_create(name="Catalog governance")[0])
    dataset = make_dataset(owner, slug="street-signs")
    person_depart(person=owner, actor=None)
    request = access_request_create(requester=colleague, target=dataset, level=Level.READ,
                                    purpose="Evaluate the night-time detector.", duration_days=30)
    assert eligible_approvers(request).people == [governor]
    assert request.approver_route == "governance"


def test_merge_preview_lists_pending_requests_and_reroutes_them(owner, colleague):
    a, c = make_unit("A"), make_unit("C")
    steward_c = make_person("cora", unit=c)
    membership_start(person=steward_c, unit=c, role=Membership.Role.STEWARD)
    dataset = make_dataset(owner, slug="a-data", unit=a)
    request = access_request_create(requester=colleague, target=dataset, level=Level.READ,
                                    purpose="Evaluate the night-time detector.", duration_days=30)
    person_depart(person=owner, actor=None)
    request.refresh_from_db()
    assert request.approver_route == "nobody"

    plan = plan_merge(sources=[a], successor=c, actor=None)
    assert any(change["kind"] == "request" for change in plan.summary())
    org_event_apply(plan=plan, actor=None)

    request.refresh_from_db()
    assert request.approver == steward_c
    assert eligible_approvers(request).people == [steward_c]


def test_left_behind_reassignment_goes_to_successors_all_or_nothing(owner, colleague, unit):
    manager = make_person("mira", unit=unit)
    owner.manager = manager
    owner.save()
    first, second = make_dataset(owner, slug="first-left"), make_dataset(colleague, slug="second-left")
    person_depart(person=owner, actor=None)
    person_depart(person=colleague, actor=None)  # no manager, no steward: no successor

    with pytest.raises(ValidationError) as refused:
        datasets_reassign_owner(datasets=[first, second], new_owner=None, actor=manager, reason="left")
    assert refused.value.message_dict == {
        "new_owner": [f"'{second.name}' has no proposed successor: choose a person for it."]
    }
    first.refresh_from_db()
    assert first.owner == owner  # nothing moved

    plan = datasets_reassign_owner(datasets=[first], new_owner=None, actor=manager, reason="left")

    first.refresh_from_db()
    assert plan == {manager: [first]} and first.owner == manager
    assert AuditEvent.objects.filter(action="dataset.ownership_changed", reason="left").count() == 1
