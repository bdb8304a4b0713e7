"""Pending requests and the org's names survive reorganisations and departures: nothing goes stale or unrecorded."""

import threading
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from access.approvals import (
    access_request_create,
    access_request_decide,
    access_requests_escalate,
    eligible_approvers,
)
from access.leavers import person_depart
from access.models import AccessRequest, AuditEvent, Level, Membership
from access.org import (
    membership_end,
    membership_start,
    org_event_apply,
    plan_rename,
    plan_retire,
    plan_split,
    unit_alias_add,
    unit_for_department,
)
from tests.concurrency import race
from tests.factories import make_dataset, make_person, make_unit

pytestmark = pytest.mark.django_db

PURPOSE = "Evaluate the night-time detector on EU signs."


def governor() -> object:
    person = make_person("gov", unit=make_unit("Governance"), display_name="Greta Governance")
    person.user.groups.add(Group.objects.get_or_create(name="Catalog governance")[0])
    return person


def ask(requester, dataset) -> AccessRequest:
    return access_request_create(requester=requester, target=dataset, level=Level.READ, purpose=PURPOSE,
                                 duration_days=30)


def reroutes(request: AccessRequest) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action="request.rerouted", target_id=str(request.pk)))


def test_split_reroutes_pending_requests_to_the_datasets_new_unit(owner, colleague):
    a, north, south = make_unit("A"), make_unit("North"), make_unit("South")
    steward_a = make_person("stan", unit=a)
    membership_start(person=steward_a, unit=a, role=Membership.Role.STEWARD)
    steward_south = make_person("sue", unit=south)
    membership_start(person=steward_south, unit=south, role=Membership.Role.STEWARD)
    moved = make_dataset(owner, slug="moved", unit=a)
    queued = make_dataset(owner, slug="queued", unit=a)
    governance = governor()
    moved_request, queued_request = ask(colleague, moved), ask(colleague, queued)
    person_depart(person=owner, actor=None)  # the unit's steward decides now
    moved_request.refresh_from_db()
    assert moved_request.approver == steward_a

    plan = plan_split(source=a, successors=[north, south], actor=None, assignments={
        "objects": {str(moved.pk): str(south.pk)}, "members": {str(steward_a.pk): str(north.pk)},
    })
    assert [change["kind"] for change in plan.summary()].count("request") == 2  # the preview says so
    org_event_apply(plan=plan, actor=None)

    moved_request.refresh_from_db()
    queued_request.refresh_from_db()
    assert eligible_approvers(moved_request).people == [steward_south]
    assert (moved_request.approver, moved_request.approver_route) == (steward_south, "unit_steward")
    assert (queued_request.approver, queued_request.approver_route) == (governance, "governance")
    assert "split of A" in [event.reason for event in reroutes(moved_request)]
    assert "split of A" in [event.reason for event in reroutes(queued_request)]


def test_retire_reroutes_pending_requests_to_governance(owner, colleague):
    retired = make_unit("Old lab")
    dataset = make_dataset(owner, slug="old-lab-data", unit=retired)
    steward = make_person("stan", unit=make_unit("Elsewhere"))
    stewardship = membership_start(person=steward, unit=retired, role=Membership.Role.STEWARD)
    governance = governor()
    person_depart(person=owner, actor=None)
    request = ask(colleague, dataset)
    assert request.approver == steward
    membership_end(membership=stewardship, actor=None, reason="left the lab")  # the unit empties first

    plan = plan_retire(unit=retired, actor=None)
    assert any(change["kind"] == "request" for change in plan.summary())
    org_event_apply(plan=plan, actor=None)

    request.refresh_from_db()
    assert (request.approver, request.approver_route) == (governance, "governance")
    assert len(reroutes(request)) == 1


def test_departure_withdraws_the_leavers_own_requests_on_the_record(owner, colleague):
    dataset = make_dataset(owner, slug="street-signs")
    request = ask(colleague, dataset)

    person_depart(person=colleague, actor=owner, reason="left the company")

    request.refresh_from_db()
    assert request.status == AccessRequest.Status.WITHDRAWN
    withdrawn = AuditEvent.objects.get(action="request.withdrawn", target_id=str(request.pk))
    assert withdrawn.actor == owner and withdrawn.reason == "the requester departed"


def test_request_page_says_a_departed_requesters_request_was_withdrawn_for_them(client, owner, colleague):
    request = ask(colleague, make_dataset(owner, slug="street-signs"))
    person_depart(person=colleague, actor=None)

    client.force_login(owner.user)
    page = client.get(f"/access/requests/{request.pk}/").content.decode()

    assert "Withdrawn by the requester" not in page
    assert "Withdrawn: the requester departed" in page


def test_rename_refuses_a_name_another_unit_answers_to():
    platform, speech = make_unit("ML Platform"), make_unit("Speech")
    unit_alias_add(unit=platform, name="ML Platform")

    for taken in ("ml  PLATFORM", "ML Platform"):
        with pytest.raises(ValidationError) as refused:
            plan_rename(unit=speech, new_name=taken)
        assert "already" in refused.value.message_dict["new_name"][0]
    assert unit_for_department("ML Platform") == platform

    plan_rename(unit=platform, new_name="ml platform")  # its own name, spelled differently, is fine


@pytest.mark.django_db(transaction=True)
def test_a_double_submitted_request_is_created_once(owner, colleague):
    """Two submits of the same request at once (a double click): the second waits for the first and is refused."""
    dataset = make_dataset(owner, slug="street-signs")

    first, second = race(lambda: ask(colleague, dataset), lambda: ask(colleague, dataset))

    assert isinstance(first, AccessRequest)
    assert isinstance(second, ValidationError), repr(second)
    assert second.messages == ["You already have a pending request for this dataset; withdraw it to ask again."]
    assert AccessRequest.objects.filter(requester=colleague, status=AccessRequest.Status.PENDING).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_request_decided_while_the_escalation_job_runs_is_not_escalated(owner, colleague, settings):
    steward = make_person("stella", unit=owner.primary_unit)
    membership_start(person=steward, unit=owner.primary_unit, role=Membership.Role.STEWARD)
    request = ask(colleague, make_dataset(owner, slug="street-signs"))
    deciding, release = threading.Event(), threading.Event()

    def decide() -> None:
        try:
            with transaction.atomic():
                locked = AccessRequest.objects.select_for_update().get(pk=request.pk)
                deciding.set()
                release.wait(10)  # the job lists the request as pending meanwhile, then waits for this lock
                access_request_decide(request=locked, decider=owner, approve=True)
        finally:
            connection.close()

    decider = threading.Thread(target=decide)
    decider.start()
    assert deciding.wait(10)
    threading.Timer(1, release.set).start()
    later = timezone.now() + timedelta(days=settings.KURA_REQUEST_ESCALATE_AFTER_DAYS, minutes=1)
    escalated = access_requests_escalate(now=later)
    decider.join(10)

    request.refresh_from_db()
    assert (request.status, request.escalation_count, escalated) == (AccessRequest.Status.APPROVED, 0, 0)
    assert not AuditEvent.objects.filter(action="request.escalated").exists()
