"""What org events move in bulk must end exactly as moving it one at a time would.

Grants: the set-based PostgreSQL path must leave what the ORM path (``_grants_move_with_orm``) leaves, and that
is each grant as ``grant_revoke`` followed by ``grant_create`` would leave it. Datasets: moving a unit's datasets
together must leave what ``dataset_update`` leaves for each. Every comparison runs the same work both ways, each
in a savepoint that is rolled back, with the clock stopped so both write the same timestamps.
"""

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone
from guardian.shortcuts import assign_perm, get_perms

from access import grant_moves
from access.approvals import access_request_create
from access.grant_moves import grants_move_to_unit
from access.grants import grant_revoke
from access.leavers import person_depart
from access.models import AccessRequest, AuditEvent, GovernanceItem, Grant, Level, Membership, OrgEvent, OrgUnit
from access.org import membership_start, org_event_apply, plan_merge, plan_retire
from catalog.models import Dataset, DatasetGroupObjectPermission, DatasetUserObjectPermission
from catalog.services import dataset_update, datasets_move_to_unit
from tests.factories import grant, make_dataset, make_person, make_unit

pytestmark = pytest.mark.django_db

# Columns the two paths fill from the field default (the clock at instance creation) or the sequence.
_UNCOMPARED = {"id", "created_at", "starts_at"}


@pytest.fixture
def frozen_now(monkeypatch):
    """The services' clock, stopped a little ahead: rows that take their time from a field default (creation
    times, a replacement's ``starts_at`` in the ORM path) then lie before it, as they would in real time."""
    now = timezone.now() + timedelta(minutes=1)
    monkeypatch.setattr(timezone, "now", lambda: now)
    return now


@pytest.fixture
def org(owner, colleague):
    """Two source units and a successor holding grants of every kind, plus everything else a merge moves."""
    a, b, c, other = make_unit("A"), make_unit("B"), make_unit("C"), make_unit("Other")
    member_a, member_b = make_person("ada", unit=a), make_person("ben", unit=b)
    membership_start(person=member_a, unit=a)
    membership_start(person=member_b, unit=b, role=Membership.Role.STEWARD)
    leaver = make_person("lea", unit=other)
    d = {name: make_dataset(owner, slug=f"set-{name}", unit=c, visibility="restricted") for name in
         ("d1", "d2", "d3", "d4", "d5", "d6")}
    owned_by_a = make_dataset(owner, slug="owned-by-a", unit=a, visibility="restricted")
    soon = timezone.now() + timedelta(days=30)
    grants = {
        "a-d1-read": grant(d["d1"], a, Level.READ, justification="Labelling"),
        "a-d2-manage-expiring": grant(d["d2"], a, Level.MANAGE, expires_at=soon),
        "b-d2-view": grant(d["d2"], b, Level.VIEW),
        "b-d3-read": grant(d["d3"], b, Level.READ),
        "a-d3-view": grant(d["d3"], a, Level.VIEW),
        "a-owned-read": grant(owned_by_a, a, Level.READ),
        "a-d4-expired": grant(d["d4"], a, Level.READ, expires_at=soon),
        "a-d5-revoked": grant(d["d5"], a, Level.MANAGE),
        "a-d6-suspended": grant(d["d6"], a, Level.READ),
        "c-d1-view-duplicate": grant(d["d1"], c, Level.VIEW),
        "c-d3-manage": grant(d["d3"], c, Level.MANAGE),
        "person-d1-read": grant(d["d1"], colleague, Level.READ),
        "leaver-d2-read": grant(d["d2"], leaver, Level.READ),
        "other-d2-view": grant(d["d2"], other, Level.VIEW),
        "a-d4-moved": grant(d["d4"], a, Level.VIEW),
        "a-d5-revoked-meanwhile": grant(d["d5"], a, Level.VIEW),
    }
    Grant.objects.filter(pk=grants["a-d4-expired"].pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    grant_revoke(grant=grants["a-d5-revoked"], actor=owner, reason="project over")
    Grant.objects.filter(pk=grants["a-d6-suspended"].pk).update(suspended_at=timezone.now())
    person_depart(person=leaver, actor=None)
    # A row no grant calls for: re-deriving d1 for A removes it.
    assign_perm("change_dataset", Group.objects.get(org_unit=a), d["d1"])
    access_request_create(requester=colleague, target=owned_by_a, level=Level.READ,
                          purpose="Evaluate the night-time detector.", duration_days=30)
    return {"a": a, "b": b, "c": c, "datasets": d, "owned_by_a": owned_by_a, "grants": grants}


def _grant_key(row: dict[str, Any], old_ids: set[int]) -> tuple[str, int]:
    return ("existing", row["id"]) if row["id"] in old_ids else ("replacing", row["replaces_id"])


def _state(old_grant_ids: set[int]) -> dict[str, Any]:
    """Everything an org event may change, without sequence values and creation clocks."""
    event_type = ContentType.objects.get_for_model(OrgEvent).pk
    grants = {}
    for row in Grant.objects.order_by("pk").values():
        key = _grant_key(row, old_grant_ids)
        assert key not in grants, "one replacement per moved grant"
        grants[key] = {name: value for name, value in row.items() if name not in _UNCOMPARED}
    return {
        "grants": grants,
        "audit": [
            {name: value for name, value in row.items() if name not in _UNCOMPARED | {"target_id"}}
            | {"target_id": None if row["target_type_id"] == event_type else row["target_id"]}  # its pk
            for row in AuditEvent.objects.order_by("pk").values()
        ],
        "group_perms": sorted(DatasetGroupObjectPermission.objects.values_list(
            "group_id", "permission__codename", "content_object_id")),
        "user_perms": sorted(DatasetUserObjectPermission.objects.values_list(
            "user_id", "permission__codename", "content_object_id")),
        "datasets": sorted(Dataset.objects.values_list("slug", "owning_unit_id", "owner_id")),
        "memberships": sorted(Membership.objects.values_list("person_id", "unit_id", "role", "valid_to",
                                                             "end_reason")),
        "units": sorted(OrgUnit.objects.values_list("name", "status", "successor_id")),
        "requests": sorted(AccessRequest.objects.values_list("pk", "status", "approver_id", "approver_route")),
        "events": list(OrgEvent.objects.values_list("kind", "summary", "reason")),
    }


def _applied(apply: Any, *, set_based: bool, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The state ``apply`` leaves through one path; rolled back afterwards."""
    old_grant_ids = set(Grant.objects.values_list("pk", flat=True))
    with monkeypatch.context() as patch:
        patch.setattr(grant_moves, "set_based_moves_supported", lambda: set_based)
        with transaction.atomic():
            apply()
            state = _state(old_grant_ids)
            transaction.set_rollback(True)
    return state


def test_merge_through_sql_leaves_what_the_orm_path_leaves(org, owner, frozen_now, monkeypatch):
    plan = plan_merge(sources=[org["a"], org["b"]], successor=org["c"], actor=owner)
    grant_revoke(grant=org["grants"]["a-d5-revoked-meanwhile"], actor=owner, reason="no longer needed")

    def apply() -> None:
        org_event_apply(plan=plan, actor=owner, reason="reorganisation")

    through_sql = _applied(apply, set_based=True, monkeypatch=monkeypatch)
    through_orm = _applied(apply, set_based=False, monkeypatch=monkeypatch)

    assert through_sql == through_orm
    moved = [g for name, g in org["grants"].items() if name.startswith(("a-", "b-"))
             and name not in {"a-d4-expired", "a-d5-revoked", "a-d6-suspended", "a-d5-revoked-meanwhile"}]
    assert {key for key in through_sql["grants"] if key[0] == "replacing"} == {("replacing", g.pk) for g in moved}


def test_moving_person_and_unit_grants_directly_matches_the_orm_path(org, owner, colleague, frozen_now, monkeypatch):
    chosen = [org["grants"][name].pk for name in ("person-d1-read", "a-d1-read", "b-d3-read", "a-d5-revoked")]

    def apply() -> None:
        assert grants_move_to_unit(grant_ids=chosen, successor=org["c"], actor=None, reason="handover") == 3

    through_sql = _applied(apply, set_based=True, monkeypatch=monkeypatch)
    through_orm = _applied(apply, set_based=False, monkeypatch=monkeypatch)

    assert through_sql == through_orm
    d1 = org["datasets"]["d1"]
    assert ("replacing", org["grants"]["person-d1-read"].pk) in through_sql["grants"]
    assert not any(user == colleague.user_id and obj == d1.pk for user, _, obj in through_sql["user_perms"])


def test_merge_through_sql_moves_each_grant_with_its_two_audit_events(org, owner, frozen_now):
    a, b, c = org["a"], org["b"], org["c"]
    untouched = {name: Grant.objects.get(pk=g.pk) for name, g in org["grants"].items()
                 if not name.startswith(("a-", "b-")) or name in {"a-d4-expired", "a-d5-revoked", "a-d6-suspended"}}
    plan = plan_merge(sources=[a, b], successor=c, actor=owner)
    audit_before = AuditEvent.objects.count()

    org_event_apply(plan=plan, actor=owner, reason="reorganisation")

    moved = sorted((g for name, g in org["grants"].items() if name.startswith(("a-", "b-"))
                    and name not in untouched), key=lambda g: g.pk)
    for old in moved:
        old.refresh_from_db()
        assert (old.revoked_at, old.revoked_by, old.revoke_reason) == (frozen_now, owner, "merge into C")
        new = Grant.objects.get(replaces=old)
        assert (new.grantee_unit, new.grantee_person, new.level, new.basis, new.granted_by, new.expires_at,
                new.justification, new.revoked_at, new.suspended_at) == (
            c, None, old.level, Grant.Basis.REORG, owner, old.expires_at, old.justification, None, None)
    for name, before in untouched.items():
        after = Grant.objects.get(pk=before.pk)
        assert (after.revoked_at, after.suspended_at, after.expires_at) == (
            before.revoked_at, before.suspended_at, before.expires_at), name
        assert not Grant.objects.filter(replaces=before).exists(), name
    assert Grant.objects.active().filter(grantee_unit=c, target_id=org["datasets"]["d1"].pk).count() == 2

    events = list(AuditEvent.objects.order_by("pk")[audit_before:].values(
        "action", "actor", "target_id", "target_repr", "before", "after", "reason"))
    grant_events = [event for event in events if event["action"].startswith("grant.")]
    assert len(grant_events) == 2 * len(moved)
    stamp = DjangoJSONEncoder().default(frozen_now)
    for old, (revoked, created) in zip(moved, zip(grant_events[::2], grant_events[1::2], strict=True), strict=True):
        target = Dataset.objects.get(pk=old.target_id)
        level = old.get_level_display()
        expiry = DjangoJSONEncoder().default(old.expires_at) if old.expires_at else None
        snapshot = {"grantee": old.grantee_unit.name, "level": level, "basis": "manual", "expires_at": expiry,
                    "revoked_at": None, "suspended_at": None}
        assert revoked == {"action": "grant.revoked", "actor": owner.pk, "target_id": str(target.pk),
                           "target_repr": target.name, "before": snapshot,
                           "after": {**snapshot, "revoked_at": stamp}, "reason": "merge into C"}
        assert created == {"action": "grant.created", "actor": owner.pk, "target_id": str(target.pk),
                           "target_repr": target.name, "before": None,
                           "after": {**snapshot, "grantee": "C", "basis": "reorg"}, "reason": "merge into C"}

    d = org["datasets"]
    a_group, b_group, c_group = (Group.objects.get(org_unit=unit) for unit in (a, b, c))
    for dataset in (d["d1"], d["d2"], d["d3"], org["owned_by_a"]):
        assert get_perms(a_group, dataset) == [] and get_perms(b_group, dataset) == []
    assert set(get_perms(c_group, d["d1"])) == {"view_dataset", "read_dataset_data"}
    assert set(get_perms(c_group, d["d2"])) == {"view_dataset", "read_dataset_data", "change_dataset"}
    assert set(get_perms(c_group, d["d3"])) == {"view_dataset", "read_dataset_data", "change_dataset"}
    assert set(get_perms(c_group, d["d4"])) == {"view_dataset"}
    assert set(get_perms(c_group, d["d5"])) == {"view_dataset"} and get_perms(c_group, d["d6"]) == []
    assert set(get_perms(a_group, d["d6"])) == {"view_dataset", "read_dataset_data"}  # suspended: not touched
    assert get_perms(a_group, d["d4"]) == []  # the expired grant's row went with the moved one's


def test_a_grant_expired_since_planning_undoes_the_whole_merge(org, owner, monkeypatch):
    plan = plan_merge(sources=[org["a"], org["b"]], successor=org["c"], actor=owner)
    Grant.objects.filter(pk=org["grants"]["b-d3-read"].pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    old_grant_ids = set(Grant.objects.values_list("pk", flat=True))
    before = _state(old_grant_ids)
    for set_based in (True, False):
        with monkeypatch.context() as patch:
            patch.setattr(grant_moves, "set_based_moves_supported", lambda: set_based)  # noqa: B023
            with pytest.raises(ValidationError, match="expiry"):
                org_event_apply(plan=plan, actor=owner, reason="reorganisation")
        assert _state(old_grant_ids) == before


def test_retiring_a_unit_queues_each_grant_it_held_and_stops_it(owner):
    unit = make_unit("Retiring")
    data = make_dataset(owner, slug="retiring-data", unit=unit, visibility="restricted")
    other = make_dataset(owner, slug="elsewhere", visibility="restricted")
    held = [grant(data, unit, Level.MANAGE), grant(other, unit, Level.VIEW)]

    org_event_apply(plan=plan_retire(unit=unit, actor=owner), actor=owner)

    for old in held:
        old.refresh_from_db()
        assert old.revoked_at is not None and old.revoke_reason == "retire of Retiring: awaiting governance"
    queued = {item.object_id: item.object_repr for item in GovernanceItem.objects.filter(kind="grant")}
    assert queued == {str(held[0].pk): "Manage for Retiring", str(held[1].pk): "View metadata for Retiring"}
    assert GovernanceItem.objects.get(kind="ownership").object_id == str(data.pk)
    assert get_perms(Group.objects.get(org_unit=unit), data) == []
    assert not Grant.objects.active().filter(grantee_unit=unit).exists()


def _dataset_state(since_audit_id: int) -> dict[str, Any]:
    return {
        "datasets": list(Dataset.objects.order_by("pk").values()),
        "audit": [
            {name: value for name, value in row.items() if name not in _UNCOMPARED}
            for row in AuditEvent.objects.filter(pk__gt=since_audit_id).order_by("pk").values()
        ],
    }


def _left_by(apply: Any) -> dict[str, Any] | ValidationError:
    since = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    with transaction.atomic():
        try:
            apply()
        except ValidationError as error:
            return error
        finally:
            state = _dataset_state(since)
            transaction.set_rollback(True)
    return state


def test_moving_datasets_together_leaves_what_updating_each_leaves(owner, frozen_now):
    a, c = make_unit("A"), make_unit("C")
    datasets = [make_dataset(owner, slug=f"unit-a-{n}", unit=a, description=f"Set **{n}**") for n in range(3)]
    datasets.append(make_dataset(owner, slug="already-c", unit=c))  # nothing changes: no audit event

    def one_by_one() -> None:
        for dataset in datasets:
            dataset_update(dataset=dataset, actor=owner, owning_unit=c, change_reason="merge into C")

    def together() -> None:
        datasets_move_to_unit(datasets=datasets, unit=c, actor=owner, reason="merge into C")

    expected = _left_by(one_by_one)
    assert _left_by(together) == expected
    assert [event["action"] for event in expected["audit"]] == ["dataset.ownership_changed"] * 3
    assert {row["owning_unit_id"] for row in expected["datasets"] if row["slug"].startswith("unit-a")} == {c.pk}


def test_a_dataset_that_fails_its_checks_stops_the_move_either_way(owner):
    a, c = make_unit("A"), make_unit("C")
    datasets = [make_dataset(owner, slug=f"unit-a-{n}", unit=a) for n in range(3)]
    Dataset.objects.filter(pk=datasets[1].pk).update(purpose="short")

    one_by_one = _left_by(lambda: [dataset_update(dataset=d, actor=owner, owning_unit=c, change_reason="merge")
                                   for d in datasets])
    together = _left_by(lambda: datasets_move_to_unit(datasets=datasets, unit=c, actor=owner, reason="merge"))

    assert isinstance(one_by_one, ValidationError) and isinstance(together, ValidationError)
    assert together.message_dict == one_by_one.message_dict
    assert set(Dataset.objects.values_list("owning_unit_id", flat=True)) == {a.pk}
