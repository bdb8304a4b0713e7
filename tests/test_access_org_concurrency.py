"""Two reorganisations at once: the second waits for the first and is refused when the first changed its units,
instead of merging a unit twice or stranding what the first moved on a unit that is no longer active."""

from collections.abc import Callable
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from access.models import Grant, Level, Membership, OrgEvent, OrgUnit
from access.org import membership_start, org_event_apply, plan_merge, plan_move, plan_retire, plan_split
from tests.concurrency import race
from tests.factories import grant, make_dataset, make_person, make_unit


def _units(*names: str) -> list[OrgUnit]:
    return [make_unit(name) for name in names]


def _while_another_event_holds_its_locks(other: Any, action: Callable[[], object]) -> tuple[object, object]:
    """Apply ``other`` and keep its transaction open until ``action``, in another thread, waits on its locks."""
    applied, result = race(lambda: org_event_apply(plan=other, actor=None), action)
    return ("applied" if isinstance(applied, OrgEvent) else applied), result


@pytest.mark.django_db(transaction=True)
def test_a_merge_waits_for_a_concurrent_merge_of_the_same_unit_and_is_refused(owner):
    a, c, d = _units("A", "C", "D")
    ada = make_person("ada", unit=a)
    membership_start(person=ada, unit=a)
    into_d = plan_merge(sources=[a], successor=d, actor=None)  # planned (previewed) before either applies

    first, second = _while_another_event_holds_its_locks(
        plan_merge(sources=[a], successor=c, actor=None), lambda: org_event_apply(plan=into_d, actor=None)
    )

    assert first == "applied"
    assert isinstance(second, ValidationError), repr(second)
    assert second.messages == [
        "'A' was merged into 'C' since this was planned, by another reorganisation: plan this one again."
    ]
    a.refresh_from_db()
    assert (a.status, a.successor) == (OrgUnit.Status.MERGED, c)
    assert list(Membership.objects.current().filter(person=ada).values_list("unit__name", flat=True)) == ["C"]
    assert OrgEvent.objects.count() == 1


@pytest.mark.django_db
def test_merging_a_successor_away_is_refused_after_more_was_merged_into_it(owner):
    a, c, d = _units("A", "C", "D")
    dataset = make_dataset(owner, slug="a-data", unit=a, visibility="restricted")
    grant(dataset, a, Level.READ)
    c_into_d = plan_merge(sources=[c], successor=d, actor=None)  # lists what C holds now: nothing of A's

    org_event_apply(plan=plan_merge(sources=[a], successor=c, actor=None), actor=None)
    with pytest.raises(ValidationError) as refused:
        org_event_apply(plan=c_into_d, actor=None)

    assert refused.value.messages == [
        "Another reorganisation moved more into 'C' since this was planned: plan this one again, so that it "
        "includes what was moved."
    ]
    assert OrgUnit.objects.get(pk=c.pk).status == OrgUnit.Status.ACTIVE  # A's grant and dataset are not stranded
    again = plan_merge(sources=[c], successor=d, actor=None)
    org_event_apply(plan=again, actor=None)
    dataset.refresh_from_db()
    assert dataset.owning_unit == d and Grant.objects.active().get(target_id=dataset.pk).grantee_unit == d


@pytest.mark.django_db
def test_independent_merges_into_one_successor_both_apply(owner):
    a, b, c = _units("A", "B", "C")
    a_into_c = plan_merge(sources=[a], successor=c, actor=None)
    b_into_c = plan_merge(sources=[b], successor=c, actor=None)

    org_event_apply(plan=a_into_c, actor=None)
    org_event_apply(plan=b_into_c, actor=None)

    assert set(OrgUnit.objects.filter(successor=c).values_list("name", flat=True)) == {"A", "B"}


@pytest.mark.django_db
def test_stale_splits_retirements_and_moves_are_refused(owner):
    a, b, c, d = _units("A", "B", "C", "D")
    split = plan_split(source=a, successors=[b, c], assignments={}, actor=None)
    retire = plan_retire(unit=a, actor=None)
    org_event_apply(plan=plan_merge(sources=[b], successor=d, actor=None), actor=None)
    with pytest.raises(ValidationError, match="'B' was merged into 'D' since this was planned"):
        org_event_apply(plan=split, actor=None)

    membership_start(person=make_person("ada", unit=a), unit=a)
    with pytest.raises(ValidationError, match="The unit has members again"):
        org_event_apply(plan=retire, actor=None)

    under_d = plan_move(unit=c, new_parent=d)
    org_event_apply(plan=plan_move(unit=d, new_parent=c), actor=None)
    with pytest.raises(ValidationError, match="put the new parent under this unit"):
        org_event_apply(plan=under_d, actor=None)
    assert OrgUnit.objects.get(pk=c.pk).parent is None


@pytest.mark.django_db(transaction=True)
def test_the_org_page_shows_a_refusal_when_another_event_got_there_first(client, owner):
    a, c, d = _units("A", "C", "D")
    admin = make_person("ada", staff=True)
    client.force_login(admin.user)
    url = reverse("frontend:org-event", args=["merge"])
    data = {"sources": [a.pk], "successor": c.pk, "reason": "Reorg"}
    preview = client.post(url, {**data, "step": "preview"})

    first, page = _while_another_event_holds_its_locks(
        plan_merge(sources=[a], successor=d, actor=None),
        lambda: client.post(url, {**data, "step": "apply", "preview_digest": preview.context["digest"]}),
    )

    assert first == "applied"
    assert not isinstance(page, Exception), repr(page)
    assert page.status_code == 200
    assert "&#x27;A&#x27; was merged into &#x27;D&#x27; since this was planned" in page.content.decode()
    assert OrgUnit.objects.get(pk=a.pk).successor == d and OrgEvent.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_moves_sharing_no_unit_cannot_close_a_cycle_between_them():
    a, c = _units("A", "C")
    b, d = make_unit("B", parent=a), make_unit("D", parent=c)
    a_under_d, c_under_b = plan_move(unit=a, new_parent=d), plan_move(unit=c, new_parent=b)  # each fine alone

    first, second = _while_another_event_holds_its_locks(a_under_d, lambda: org_event_apply(plan=c_under_b,
                                                                                           actor=None))

    assert first == "applied"
    assert isinstance(second, ValidationError), repr(second)
    assert "cannot move under its own sub-unit" in second.messages[0]
    assert OrgUnit.objects.get(pk=c.pk).parent is None and OrgUnit.objects.get(pk=a.pk).parent == d


@pytest.mark.django_db
def test_a_merge_refuses_what_was_added_to_its_source_after_planning(owner):
    a, c = _units("A", "C")
    dataset = make_dataset(owner, slug="a-data")
    into_c = plan_merge(sources=[a], successor=c, actor=None)
    late = grant(dataset, a, Level.READ)  # granted to A between the preview and the apply

    with pytest.raises(ValidationError, match="gained a grant, a member, a token or a dataset"):
        org_event_apply(plan=into_c, actor=None)

    assert OrgUnit.objects.get(pk=a.pk).status == OrgUnit.Status.ACTIVE and OrgEvent.objects.count() == 0
    assert Grant.objects.get(pk=late.pk).grantee_unit == a  # nothing half-moved
    again = plan_merge(sources=[OrgUnit.objects.get(pk=a.pk)], successor=c, actor=None)  # planned again: applies
    org_event_apply(plan=again, actor=None)
    assert not Grant.objects.active().filter(grantee_unit=a).exists()
    assert Grant.objects.active().filter(grantee_unit=c).count() == 1
