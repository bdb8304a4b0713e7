"""The access pages through Django's test client: requests, decisions, inbox, grants, Left behind, audit, org."""

import html
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from access.approvals import access_request_create, access_request_decide
from access.leavers import person_depart
from access.models import AccessRequest, AuditEvent, GovernanceItem, Grant, Level, Membership, OrgEvent, OrgUnit
from access.org import membership_start, org_event_apply, plan_merge
from catalog.models import Dataset
from catalog.services import LocationSpec
from storage.models import Finding, StorageConnection
from tests.factories import bearer, grant, make_dataset, make_person, make_unit
from tests.storage_support import make_local_connection, scan, write_parts

pytestmark = pytest.mark.django_db

LOCATION = "s3://kura-data/signs/eu/"
PURPOSE = "Evaluate the night-time detector on EU signs."


@pytest.fixture
def dataset(owner):
    return make_dataset(owner, slug="street-signs", name="Street signs", locations=[LocationSpec(LOCATION)])


@pytest.fixture
def steward(unit):
    person = make_person("stella", unit=unit, display_name="Stella Steward")
    membership_start(person=person, unit=unit, role=Membership.Role.STEWARD)
    return person


@pytest.fixture
def outsider():
    return make_person("otto", unit=make_unit("Sales"), display_name="Otto Outsider")


def ask(requester: Any, dataset: Dataset, level: int = Level.READ) -> AccessRequest:
    return access_request_create(requester=requester, target=dataset, level=level, purpose=PURPOSE, duration_days=30)


def request_form(level: str = "2", purpose: str = PURPOSE, days: str = "30") -> dict[str, str]:
    return {"level": level, "purpose": purpose, "duration_days": days}


def text(response: Any) -> str:
    return response.content.decode()


def detail_url(slug: str = "street-signs") -> str:
    return reverse("frontend:dataset-detail", args=[slug])


# --- asking for access on the dataset page ----------------------------------------------------------------


def test_request_form_creates_a_request_and_shows_the_approver(client, dataset, colleague, owner):
    client.force_login(colleague.user)
    page = text(client.get(detail_url()))
    assert 'id="access-panel"' in page and "Request access" in page
    assert LOCATION not in page

    response = client.post(reverse("frontend:access-request-create", args=["street-signs"]), request_form())

    assert response.status_code == 302 and response["Location"] == detail_url()
    request = AccessRequest.objects.get()
    assert (request.requester, request.level, request.duration_days) == (colleague, Level.READ, 30)
    assert request.status == AccessRequest.Status.PENDING and request.approver == owner
    page = text(client.get(detail_url()))
    assert "Your request was sent. Olivia Owner decides it" in page
    assert "Who decides now" in page and "Olivia Owner" in page
    assert reverse("frontend:access-request-withdraw", args=[request.pk]) in page
    assert 'name="purpose"' not in page  # the pending request replaces the form


def test_request_by_htmx_swaps_the_panel(client, dataset, colleague):
    client.force_login(colleague.user)
    response = client.post(reverse("frontend:access-request-create", args=["street-signs"]), request_form(level="3"),
                           headers={"HX-Request": "true"})
    assert response.status_code == 200
    content = text(response)
    assert content.lstrip().startswith('<section class="card accesspanel" id="access-panel">')
    assert "Olivia Owner" in content and "<strong>manage</strong>" in content
    assert AccessRequest.objects.get().level == Level.MANAGE


def test_duplicate_and_invalid_requests_show_the_service_errors(client, dataset, colleague):
    client.force_login(colleague.user)
    url = reverse("frontend:access-request-create", args=["street-signs"])
    client.post(url, request_form())

    duplicate = client.post(url, request_form())
    assert duplicate.status_code == 200
    assert "You already have a pending request for this dataset" in text(duplicate)
    assert AccessRequest.objects.count() == 1

    AccessRequest.objects.update(status=AccessRequest.Status.WITHDRAWN)
    short = client.post(url, request_form(purpose="data"))
    too_long = client.post(url, request_form(days="9999"))
    assert "Say what you need the data for" in text(short)
    assert "Access can be requested for 1 to 365 days." in text(too_long)
    assert AccessRequest.objects.count() == 1


def test_people_who_can_read_see_no_request_panel(client, dataset, owner, colleague):
    grant(dataset, colleague, Level.READ)
    for person in (owner, colleague):
        client.force_login(person.user)
        page = text(client.get(detail_url()))
        assert 'id="access-panel"' not in page and LOCATION in page
    client.force_login(owner.user)
    assert reverse("frontend:dataset-grants", args=["street-signs"]) in text(client.get(detail_url()))
    client.force_login(colleague.user)
    assert reverse("frontend:dataset-grants", args=["street-signs"]) not in text(client.get(detail_url()))


# --- inbox and decisions ----------------------------------------------------------------------------------


def test_inbox_shows_a_request_only_to_eligible_approvers(client, dataset, owner, colleague, outsider):
    request = ask(colleague, dataset)
    decide_url = reverse("frontend:access-request-decide", args=[request.pk])

    client.force_login(owner.user)
    inbox = client.get(reverse("frontend:inbox"))
    assert [row.access_request for row in inbox.context["rows"]] == [request]
    assert "Carl Colleague" in text(inbox) and decide_url in text(inbox) and PURPOSE in text(inbox)
    assert '<span class="navbadge"' in text(client.get(reverse("frontend:inbox-badge")))
    assert ">1</span>" in text(client.get(reverse("frontend:inbox-badge")))

    for person in (colleague, outsider):
        client.force_login(person.user)
        inbox = client.get(reverse("frontend:inbox"))
        assert inbox.context["rows"] == [] and "Nothing is waiting for you." in text(inbox)
        assert "navbadge" not in text(client.get(reverse("frontend:inbox-badge")))
    # The navigation loads the badge on every page.
    assert f'hx-get="{reverse("frontend:inbox-badge")}"' in text(client.get(reverse("frontend:dataset-list")))


def test_inbox_badge_and_my_requests_cost_the_same_queries_however_many_requests_wait(client, owner):
    """The badge is on every page and counts every pending request in the organisation: no query per request."""
    merged, successor = make_unit("Old lab"), make_unit("New lab")
    steward = make_person("stella", unit=successor)
    membership_start(person=steward, unit=successor, role=Membership.Role.STEWARD)
    asker = make_person("ann", unit=make_unit("Elsewhere"))

    def add_requests(count: int) -> None:
        leaver = make_person(unit=successor)  # once gone, the steward of the merged unit's successor decides
        for _ in range(count):
            left = make_dataset(leaver)
            # Kept in the merged unit, as datasets registered there before new datasets had to start in an active one.
            Dataset.objects.filter(pk=left.pk).update(owning_unit=merged)
            ask(asker, left)
            ask(asker, make_dataset(owner))
        person_depart(person=leaver, actor=None)

    def queries(url: str, person: Any) -> int:
        client.force_login(person.user)
        with CaptureQueriesContext(db_connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured.captured_queries)

    add_requests(1)
    org_event_apply(plan=plan_merge(sources=[merged], successor=successor, actor=None), actor=None)
    urls = [(reverse("frontend:inbox-badge"), steward), (reverse("frontend:inbox"), owner),
            (reverse("frontend:access-requests"), asker)]
    few = [queries(url, person) for url, person in urls]
    add_requests(6)
    assert [queries(url, person) for url, person in urls] == few
    client.force_login(steward.user)
    assert ">7</span>" in text(client.get(reverse("frontend:inbox-badge")))  # the merged unit's, via its successor


def test_approve_creates_a_grant_and_the_requester_then_sees_the_locations(client, dataset, owner, colleague):
    request = ask(colleague, dataset)
    client.force_login(owner.user)
    page = text(client.get(reverse("frontend:access-request", args=[request.pk])))
    assert PURPOSE in page and "Who may decide now" in page and "Olivia Owner" in page
    assert "request.created" in page  # the history

    response = client.post(reverse("frontend:access-request-decide", args=[request.pk]),
                           {"decision": "approve", "comment": "Fine for the evaluation."})

    assert response.status_code == 302
    request.refresh_from_db()
    assert request.status == AccessRequest.Status.APPROVED and request.decided_by == owner
    new_grant = Grant.objects.get(request=request)
    assert new_grant.grantee_person == colleague and new_grant.level == Level.READ
    assert new_grant.expires_at - timezone.now() > timedelta(days=29)
    client.force_login(colleague.user)
    page = text(client.get(detail_url()))
    assert LOCATION in page and 'id="access-panel"' not in page
    mine = text(client.get(reverse("frontend:access-requests")))
    assert "Approved" in mine and "Fine for the evaluation." in mine


def test_inline_approval_in_the_inbox_swaps_the_row(client, dataset, owner, colleague):
    request = ask(colleague, dataset)
    client.force_login(owner.user)

    response = client.post(reverse("frontend:access-request-decide", args=[request.pk]), {"decision": "approve"},
                           headers={"HX-Request": "true"})

    assert response.status_code == 200
    assert response["HX-Trigger"] == "inbox-changed"  # the nav badge reloads
    row = text(response)
    assert row.lstrip().startswith(f'<tr id="request-{request.pk}" class="decided">')
    assert "badge-approved" in row and "<form" not in row
    assert Grant.objects.filter(request=request).exists()
    assert client.get(reverse("frontend:inbox")).context["rows"] == []


def test_deciding_an_already_decided_request_says_so(client, dataset, owner, colleague):
    """A second tab, a back button, a double click: the second decision is refused in words, not silently."""
    request = ask(colleague, dataset)
    client.force_login(owner.user)
    url = reverse("frontend:access-request-decide", args=[request.pk])
    client.post(url, {"decision": "approve"})

    again = client.post(url, {"decision": "deny", "comment": "Changed my mind."}, follow=True)

    assert "This request is already approved." in text(again)
    request.refresh_from_db()
    assert request.status == AccessRequest.Status.APPROVED and request.decision_comment == ""
    assert Grant.objects.filter(request=request).count() == 1


def test_deny_without_a_comment_shows_the_error_and_changes_nothing(client, dataset, owner, colleague):
    request = ask(colleague, dataset)
    client.force_login(owner.user)
    url = reverse("frontend:access-request-decide", args=[request.pk])

    page = client.post(url, {"decision": "deny", "comment": "  "})
    row = client.post(url, {"decision": "deny"}, headers={"HX-Request": "true"})

    assert page.status_code == 200 and "Tell the requester why the request is denied." in text(page)
    assert row.status_code == 200 and "Tell the requester why the request is denied." in text(row)
    assert "HX-Trigger" not in row
    request.refresh_from_db()
    assert request.status == AccessRequest.Status.PENDING and request.decided_by is None
    assert not Grant.objects.filter(grantee_person=colleague).exists()

    client.post(url, {"decision": "deny", "comment": "Personal data: ask legal first."})
    request.refresh_from_db()
    assert request.status == AccessRequest.Status.DENIED
    client.force_login(colleague.user)
    assert "Personal data: ask legal first." in text(client.get(reverse("frontend:access-requests")))


def test_requester_cannot_approve_their_own_request(client, dataset, colleague):
    request = ask(colleague, dataset)
    client.force_login(colleague.user)

    page = client.get(reverse("frontend:access-request", args=[request.pk]))
    response = client.post(reverse("frontend:access-request-decide", args=[request.pk]), {"decision": "approve"})

    assert page.status_code == 200 and "You cannot decide your own request" in text(page)
    assert 'value="approve"' not in text(page)
    assert response.status_code == 403
    request.refresh_from_db()
    assert request.status == AccessRequest.Status.PENDING
    assert not Grant.objects.filter(grantee_person=colleague).exists()


def test_request_page_is_a_404_for_everybody_else(client, dataset, colleague, outsider):
    request = ask(colleague, dataset)
    client.force_login(outsider.user)
    assert client.get(reverse("frontend:access-request", args=[request.pk])).status_code == 404
    assert client.post(reverse("frontend:access-request-decide", args=[request.pk]),
                       {"decision": "approve"}).status_code == 404
    assert client.post(reverse("frontend:access-request-withdraw", args=[request.pk])).status_code == 404
    assert client.get(reverse("frontend:access-request", args=[999999])).status_code == 404
    request.refresh_from_db()
    assert request.status == AccessRequest.Status.PENDING


def test_withdraw_a_pending_request(client, dataset, colleague):
    request = ask(colleague, dataset)
    client.force_login(colleague.user)
    mine = text(client.get(reverse("frontend:access-requests")))
    assert "Street signs" in mine and "Pending" in mine and "Olivia Owner" in mine

    response = client.post(reverse("frontend:access-request-withdraw", args=[request.pk]), {"next": detail_url()})

    assert response.status_code == 302 and response["Location"] == detail_url()
    request.refresh_from_db()
    assert request.status == AccessRequest.Status.WITHDRAWN
    page = text(client.get(detail_url()))
    assert "Request withdrawn." in page and 'name="purpose"' in page  # they may ask again
    again = client.post(reverse("frontend:access-request-withdraw", args=[request.pk]), {"next": "https://evil.example/"})
    assert again["Location"] == reverse("frontend:access-requests")  # no open redirect
    assert "Only a pending request can be withdrawn." in text(client.get(again["Location"]))


# --- grants -----------------------------------------------------------------------------------------------


def test_grants_page_is_for_managers_only(client, dataset, owner, colleague, steward):
    url = reverse("frontend:dataset-grants", args=["street-signs"])
    client.force_login(colleague.user)
    assert client.get(url).status_code == 403
    assert client.post(url, {"person": colleague.pk, "level": "3", "justification": "me"}).status_code == 403
    assert not Grant.objects.filter(grantee_person=colleague).exists()
    for manager in (owner, steward):
        client.force_login(manager.user)
        assert client.get(url).status_code == 200


def test_grant_then_revoke_with_a_reason_ends_the_access(client, dataset, owner, colleague):
    client.force_login(owner.user)
    url = reverse("frontend:dataset-grants", args=["street-signs"])
    both = client.post(url, {"person": colleague.pk, "unit": colleague.primary_unit_id, "level": "2",
                             "justification": "Evaluation."})
    assert "Choose either a person or an org unit" in text(both)
    created = client.post(url, {"person": colleague.pk, "level": "2", "justification": "Night-time evaluation.",
                                "ends_on": (timezone.now() + timedelta(days=10)).date().isoformat()})
    assert created.status_code == 302
    access = Grant.objects.get(grantee_person=colleague)
    assert (access.level, access.basis, access.granted_by) == (Level.READ, Grant.Basis.MANUAL, owner)
    page = text(client.get(url))
    assert "Carl Colleague" in page and "Night-time evaluation." in page
    client.force_login(colleague.user)
    assert LOCATION in text(client.get(detail_url()))

    client.force_login(owner.user)
    revoke = reverse("frontend:grant-revoke", args=["street-signs", access.pk])
    refused = client.post(revoke, {"reason": ""})
    refused_row = client.post(revoke, {"reason": " "}, headers={"HX-Request": "true"})
    assert "Say why the access is revoked." in text(refused) and "Say why the access is revoked." in text(refused_row)
    access.refresh_from_db()
    assert access.revoked_at is None

    row = client.post(revoke, {"reason": "Evaluation finished."}, headers={"HX-Request": "true"})
    assert row.status_code == 200 and "revoked" in text(row) and "Evaluation finished." in text(row)
    access.refresh_from_db()
    assert access.revoked_at is not None and access.revoke_reason == "Evaluation finished."
    page = client.get(url)
    assert page.context["active"] == [] and page.context["past"] == [access]
    client.force_login(colleague.user)
    page = text(client.get(detail_url()))
    assert LOCATION not in page and 'id="access-panel"' in page


def test_a_grant_ending_on_the_last_day_of_the_calendar_is_refused_clearly(client, dataset, owner, colleague):
    client.force_login(owner.user)
    url = reverse("frontend:dataset-grants", args=["street-signs"])

    response = client.post(url, {"person": colleague.pk, "level": "2", "justification": "Long study.",
                                 "ends_on": "9999-12-31"})

    assert response.status_code == 200
    assert "Choose an earlier end date, or leave it empty for no end date." in text(response)
    assert not Grant.objects.filter(grantee_person=colleague).exists()


def test_revoking_an_already_revoked_grant_says_who_did_and_keeps_their_reason(client, dataset, owner, colleague):
    access = grant(dataset, colleague, Level.READ)
    revoke = reverse("frontend:grant-revoke", args=["street-signs", access.pk])
    client.force_login(owner.user)
    assert "Revoked read data of Carl Colleague" in text(client.post(revoke, {"reason": "Evaluation finished."},
                                                                      follow=True))

    again = text(client.post(revoke, {"reason": "Project cancelled."}, follow=True))

    assert "Revoked read data of Carl Colleague" not in again
    assert "already revoked" in again and "Olivia Owner" in again
    access.refresh_from_db()
    assert access.revoke_reason == "Evaluation finished."
    assert AuditEvent.objects.filter(action="grant.revoked").count() == 1


def test_revoke_refuses_a_grant_of_another_dataset(client, dataset, owner, colleague):
    other = make_dataset(owner, slug="other-data")
    foreign = grant(other, colleague, Level.READ)
    client.force_login(owner.user)
    response = client.post(reverse("frontend:grant-revoke", args=["street-signs", foreign.pk]), {"reason": "x"})
    assert response.status_code == 404
    foreign.refresh_from_db()
    assert foreign.revoked_at is None


# --- left behind ------------------------------------------------------------------------------------------


@pytest.fixture
def departed(owner, unit, steward, dataset):
    manager = make_person("mira", unit=unit, display_name="Mira Manager")
    owner.manager = manager
    owner.save()
    person_depart(person=owner, actor=None)
    return {"manager": manager}


def test_left_behind_lists_the_departed_owners_datasets_and_a_steward_reassigns(
    client, dataset, owner, steward, departed
):
    second = make_dataset(steward, slug="second-set", name="Second set")
    Dataset.objects.filter(pk=second.pk).update(owner=owner)
    client.force_login(steward.user)

    page = client.get(reverse("frontend:left-behind"))

    content = text(page)
    assert "Olivia Owner" in content and "Street signs" in content and "Second set" in content
    assert LOCATION in content  # the steward of the owning unit may read it
    assert "Mira Manager" in content  # the proposed successor
    assert f'value="{dataset.pk}"' in content

    response = client.post(reverse("frontend:left-behind-reassign"), {
        "datasets": [str(dataset.pk), str(second.pk)], "new_owner": "proposed", "reason": "",
    })

    assert response.status_code == 302
    assert set(Dataset.objects.values_list("owner", flat=True)) == {departed["manager"].pk}
    assert AuditEvent.objects.filter(action="dataset.ownership_changed", actor=steward).count() == 2
    assert "Nothing is left behind." in text(client.get(reverse("frontend:left-behind")))


def test_bulk_reassign_to_a_chosen_person_and_its_errors(client, dataset, owner, steward, colleague, departed):
    client.force_login(steward.user)
    url = reverse("frontend:left-behind-reassign")
    nothing = client.post(url, {"new_owner": str(colleague.pk)})
    assert "Select at least one dataset." in text(nothing)

    client.post(url, {"datasets": [str(dataset.pk)], "new_owner": str(colleague.pk), "reason": "Carl runs it now"})

    dataset.refresh_from_db()
    assert dataset.owner == colleague
    assert AuditEvent.objects.filter(action="dataset.ownership_changed", reason="Carl runs it now").exists()


def test_non_stewards_see_left_behind_read_only_and_cannot_reassign(client, dataset, owner, colleague, departed):
    client.force_login(colleague.user)
    page = text(client.get(reverse("frontend:left-behind")))
    assert "Street signs" in page and "Mira Manager" in page
    assert f'value="{dataset.pk}"' not in page and "Reassign selected" not in page
    assert LOCATION not in page  # no read access, so no locations

    response = client.post(reverse("frontend:left-behind-reassign"),
                           {"datasets": [str(dataset.pk)], "new_owner": str(colleague.pk)})

    assert response.status_code == 403
    dataset.refresh_from_db()
    assert dataset.owner == owner


def test_a_steward_of_another_unit_cannot_reassign_foreign_datasets(client, dataset, owner, colleague, departed):
    other_steward = make_person("sven", unit=make_unit("Speech"))
    membership_start(person=other_steward, unit=other_steward.primary_unit, role=Membership.Role.STEWARD)
    client.force_login(other_steward.user)
    assert f'value="{dataset.pk}"' not in text(client.get(reverse("frontend:left-behind")))
    response = client.post(reverse("frontend:left-behind-reassign"),
                           {"datasets": [str(dataset.pk)], "new_owner": str(colleague.pk)})
    assert response.status_code == 200 and "You cannot reassign one of the selected datasets." in text(response)
    dataset.refresh_from_db()
    assert dataset.owner == owner


def test_catalog_governance_reassigns_left_behind_datasets_without_a_unit_role(client, dataset, owner, settings,
                                                                              departed):
    governor = make_person("gina", unit=make_unit("Board"), display_name="Gina Governance")
    governor.user.groups.add(Group.objects.get_or_create(name=settings.KURA_GOVERNANCE_GROUP)[0])
    client.force_login(governor.user)
    assert f'value="{dataset.pk}"' in text(client.get(reverse("frontend:left-behind")))

    response = client.post(reverse("frontend:left-behind-reassign"),
                           {"datasets": [str(dataset.pk)], "new_owner": "proposed", "reason": ""})

    assert response.status_code == 302
    dataset.refresh_from_db()
    assert dataset.owner == departed["manager"]


def _leave_with_datasets_and_findings(number: int, connection: StorageConnection) -> None:
    """A leaver without a manager (the successor comes from their unit's steward), owning two datasets, whom
    two open storage findings name: one as the store's owner, one in a hint."""
    unit = make_unit(f"Unit {number}")
    membership_start(person=make_person(f"steward{number}", unit=unit), unit=unit, role=Membership.Role.STEWARD)
    leaver = make_person(f"leaver{number}", unit=unit, display_name=f"Leaver {number}")
    for _ in range(2):
        make_dataset(leaver)
    Finding.objects.create(connection=connection, kind=Finding.Kind.UNREGISTERED, key=f"owned-{number}",
                           uri=f"file:///share/owned-{number}/", storage_owner=leaver.user.username, total_bytes=10)
    Finding.objects.create(connection=connection, kind=Finding.Kind.UNREGISTERED, key=f"named-{number}",
                           uri=f"file:///share/tmp-{number}/", total_bytes=5,
                           hints=[f"The path names 'leaver{number}' ({leaver.display_name})."])
    person_depart(person=leaver, actor=None)


def test_left_behind_costs_the_same_queries_for_one_leaver_or_many(client, storage_settings, tmp_path):
    connection = make_local_connection([str(tmp_path / "mnt")], name="nas")
    client.force_login(make_person("ada", unit=make_unit("Platform"), staff=True).user)
    url = reverse("frontend:left-behind")
    _leave_with_datasets_and_findings(1, connection)
    with CaptureQueriesContext(db_connection) as one_leaver:
        page = text(client.get(url))
    assert "Leaver 1" in page and "file:///share/tmp-1/" in page and "Steward" in page

    for number in range(2, 6):
        _leave_with_datasets_and_findings(number, connection)
    with CaptureQueriesContext(db_connection) as five_leavers:
        page = text(client.get(url))

    assert all(f"file:///share/owned-{number}/" in page for number in range(1, 6))
    assert page.count("Also in storage, pointing to") == 5
    assert len(five_leavers.captured_queries) == len(one_leaver.captured_queries)


def test_left_behind_lists_each_leavers_ten_largest_findings(client, storage_settings, tmp_path, unit, steward):
    connection = make_local_connection([str(tmp_path / "mnt")], name="nas")
    ana = make_person("ana", unit=unit, display_name="Ana Alvarez")
    bo = make_person("bo", unit=unit, display_name="Bo Berg")
    for person in (ana, bo):
        make_dataset(person)
    for size in range(1, 13):  # twelve findings name Ana, by the store's owner of the data
        Finding.objects.create(connection=connection, kind=Finding.Kind.UNREGISTERED, key=f"ana-{size}",
                               uri=f"file:///share/ana-{size:02d}/", storage_owner="ana", total_bytes=size)
    Finding.objects.create(connection=connection, kind=Finding.Kind.UNREGISTERED, key="shared", uri="file:///share/x/",
                           storage_owner="bo", hints=["The path names 'ana' (Ana Alvarez)."], total_bytes=7)
    Finding.objects.create(connection=connection, kind=Finding.Kind.UNREGISTERED, key="closed", uri="file:///c/",
                           storage_owner="bo", status=Finding.Status.RESOLVED)
    for person in (ana, bo):
        person_depart(person=person, actor=None)
    client.force_login(steward.user)

    page = text(client.get(reverse("frontend:left-behind")))

    ana_part, bo_part = page.split("pointing to Ana Alvarez")[1], page.split("pointing to Bo Berg")[1]
    ana_part, bo_part = ana_part.split("</ul>")[0], bo_part.split("</ul>")[0]
    listed = ana_part.split("<li>")[1:]
    assert len(listed) == 10  # the ten largest of the thirteen naming her, largest first
    assert "ana-12/" in listed[0] and "ana-11/" in listed[1] and "ana-04/" in listed[9] and "ana-03/" not in ana_part
    assert "file:///share/x/" in ana_part  # named by a hint, 7 bytes: among Ana's ten largest
    assert "file:///share/x/" in bo_part and "file:///c/" not in page  # Bo's too; a resolved finding is not open



def test_left_behind_says_how_much_data_each_location_holds_by_the_last_scan(
    client, storage_settings, tmp_path, unit, steward
):
    share = tmp_path / "mnt" / "share"
    write_parts(share / "owned", count=3, size=100)
    leaver = make_person("lee", unit=unit, display_name="Lee Leaver")
    make_dataset(leaver, slug="lees-data", locations=[LocationSpec(f"file://{share}/owned/")])
    person_depart(person=leaver, actor=None)
    client.force_login(steward.user)
    assert "objects," not in text(client.get(reverse("frontend:left-behind")))  # never scanned: nothing to say

    scan(make_local_connection([str(share)], name="nas"))

    page = text(client.get(reverse("frontend:left-behind")))
    finding = Finding.objects.get(kind=Finding.Kind.OWNERLESS)
    assert f'href="/storage/findings/{finding.pk}/">3 objects, 300' in page and "last written" in page


# --- audit log --------------------------------------------------------------------------------------------


def test_audit_log_is_for_stewards_and_filters_like_the_api(client, dataset, owner, colleague, steward):
    access = grant(dataset, colleague, Level.READ)
    ask(colleague, make_dataset(owner, slug="more-signs"))
    client.force_login(colleague.user)
    assert client.get(reverse("frontend:audit")).status_code == 403

    client.force_login(steward.user)
    url = reverse("frontend:audit")
    everything = client.get(url)
    assert everything.status_code == 200
    actions = {event.action for event in everything.context["page"].object_list}
    assert {"dataset.registered", "grant.created", "request.created"} <= actions

    grants_only = client.get(url, {"action": "grant."}).context["page"].object_list
    assert [event.action for event in grants_only] == ["grant.created"]
    by_actor = client.get(url, {"actor": "carl"}).context["page"].object_list
    assert {event.action for event in by_actor} == {"request.created"}
    by_target = client.get(url, {"target": str(dataset.pk)}).context["page"].object_list
    assert {event.target_id for event in by_target} == {str(dataset.pk)}
    future = client.get(url, {"since": (timezone.now() + timedelta(days=1)).date().isoformat()})
    assert list(future.context["page"].object_list) == [] and "No events match these filters." in text(future)
    invalid = client.get(url, {"since": "yesterday"})
    assert "Use a date such as 2026-01-31" in text(invalid)
    assert access.pk  # keep the grant referenced


def test_audit_log_is_paginated(client, steward, owner):
    for number in range(55):
        make_dataset(owner, slug=f"paged-{number}")
    client.force_login(steward.user)
    first = client.get(reverse("frontend:audit"), {"action": "dataset.registered"})
    second = client.get(reverse("frontend:audit"), {"action": "dataset.registered", "page": 2})
    assert len(first.context["page"].object_list) == 50 and len(second.context["page"].object_list) == 5
    assert "action=dataset.registered&amp;page=2" in text(first)


# --- organisation -----------------------------------------------------------------------------------------


@pytest.fixture
def admin_person():
    return make_person("ada", staff=True, display_name="Ada Admin")


def org_url(kind: str) -> str:
    return reverse("frontend:org-event", args=[kind])


def preview_then_apply(client: Any, kind: str, data: dict[str, Any]) -> tuple[Any, Any]:
    preview = client.post(org_url(kind), {**data, "step": "preview"})
    assert preview.status_code == 200 and preview.context["preview"] is not None, preview.context["form"].errors
    applied = client.post(org_url(kind), {**data, "step": "apply", "preview_digest": preview.context["digest"]})
    return preview, applied


def test_org_pages_are_for_staff_and_governance(client, colleague, steward, admin_person, unit):
    for person in (colleague, steward):
        client.force_login(person.user)
        assert client.get(reverse("frontend:org")).status_code == 403
        assert client.post(org_url("rename"), {"unit": unit.pk, "new_name": "X", "step": "apply"}).status_code == 403
    client.force_login(admin_person.user)
    page = client.get(reverse("frontend:org"))
    assert page.status_code == 200 and "Perception" in text(page)
    assert client.get(org_url("nonsense")).status_code == 404
    unit.refresh_from_db()
    assert unit.name == "Perception"


def test_org_rename_preview_changes_nothing_and_apply_renames(client, admin_person, unit, dataset, colleague):
    grant(dataset, unit, Level.READ)
    client.force_login(admin_person.user)
    data = {"unit": unit.pk, "new_name": "Perception & Mapping", "reason": "Reorg 2026"}

    preview = client.post(org_url("rename"), {**data, "step": "preview"})

    expected = "'Perception' is renamed 'Perception & Mapping'; nothing else changes"
    assert expected in html.unescape(text(preview))
    unit.refresh_from_db()
    assert unit.name == "Perception" and not OrgEvent.objects.exists()

    _, applied = preview_then_apply(client, "rename", data)

    assert applied.status_code == 302 and applied["Location"] == reverse("frontend:org")
    unit.refresh_from_db()
    assert unit.name == "Perception & Mapping"
    event = OrgEvent.objects.get()
    assert event.kind == "rename" and event.reason == "Reorg 2026" and event.actor == admin_person
    assert Grant.objects.active().filter(grantee_unit=unit).count() == 1
    assert "Rename applied: 1 change" in text(client.get(reverse("frontend:org")))


def test_org_merge_preview_then_apply_moves_grants_members_and_datasets(client, admin_person, owner):
    a, b, c = make_unit("Alpha"), make_unit("Beta"), make_unit("Gamma")
    member = make_person("mo", unit=b)
    membership_start(person=member, unit=b)
    data_a = make_dataset(owner, slug="alpha-data", name="Alpha data", unit=a, visibility="restricted")
    grant(data_a, b, Level.READ)
    client.force_login(admin_person.user)
    data = {"sources": [a.pk, b.pk], "successor": c.pk}

    preview, applied = preview_then_apply(client, "merge", data)

    groups = dict(preview.context["preview"])
    assert "Read data on Alpha data moves from Beta to Gamma" in groups["Unit grants"]
    assert "Alpha data is now owned by Gamma" in groups["Dataset ownership"]
    assert applied.status_code == 302
    data_a.refresh_from_db()
    assert data_a.owning_unit == c
    assert Grant.objects.active().get(target_id=data_a.pk).grantee_unit == c
    assert Membership.objects.current().get(person=member).unit == c
    assert OrgUnit.objects.get(pk=a.pk).status == OrgUnit.Status.MERGED


def test_org_apply_refuses_a_plan_that_changed_since_the_preview(client, admin_person, owner):
    a, c = make_unit("Alpha"), make_unit("Gamma")
    make_dataset(owner, slug="alpha-data", name="Alpha data", unit=a)
    client.force_login(admin_person.user)
    data = {"sources": [a.pk], "successor": c.pk}
    preview = client.post(org_url("merge"), {**data, "step": "preview"})
    make_dataset(owner, slug="late-data", name="Late data", unit=a)  # the organisation changed meanwhile

    response = client.post(org_url("merge"), {**data, "step": "apply", "preview_digest": preview.context["digest"]})

    assert response.status_code == 200 and response.context["changed"]
    assert "Late data is now owned by Gamma" in text(response)
    assert not OrgEvent.objects.exists()
    assert OrgUnit.objects.get(pk=a.pk).status == OrgUnit.Status.ACTIVE


def test_org_split_assigns_only_what_is_chosen(client, admin_person, owner):
    a, b, c = make_unit("Alpha"), make_unit("Beta"), make_unit("Gamma")
    member = make_person("mo", unit=a, display_name="Mo Member")
    membership_start(person=member, unit=a)
    kept = make_dataset(owner, slug="kept", name="Kept", unit=a, visibility="restricted")
    queued = make_dataset(owner, slug="queued", name="Queued", unit=a, visibility="restricted")
    kept_grant = grant(kept, a, Level.READ)
    grant(queued, a, Level.READ)
    client.force_login(admin_person.user)

    first = client.post(org_url("split"), {"source": a.pk, "successors": [b.pk, c.pk], "step": "preview"})
    form = first.context["form"]
    assert {f"grant_{kept_grant.pk}", f"member_{member.pk}", f"object_{kept.pk}"} <= set(form.fields)
    assert "Mo Member (member)" in text(first) and "Unassigned → governance queue" in text(first)
    assert "Queued has no assigned successor: queued for governance" in text(first)

    data = {"source": a.pk, "successors": [b.pk, c.pk], f"grant_{kept_grant.pk}": b.pk,
            f"object_{kept.pk}": b.pk, f"member_{member.pk}": c.pk}
    _, applied = preview_then_apply(client, "split", data)

    assert applied.status_code == 302
    assert Grant.objects.active().get().grantee_unit == b
    assert {item.object_id for item in GovernanceItem.objects.all()} == {
        str(queued.pk), str(Grant.objects.get(target_id=queued.pk).pk)
    }
    assert Membership.objects.current().get(person=member).unit == c
    page = text(client.get(reverse("frontend:org")))
    assert "Governance queue" in page and "Queued" in page


def test_org_form_shows_planner_errors(client, admin_person, unit):
    client.force_login(admin_person.user)
    response = client.post(org_url("merge"), {"sources": [unit.pk], "successor": unit.pk, "step": "preview"})
    assert "Merge one or more units into a different successor unit." in text(response)
    assert response.context["preview"] is None


# --- restricted datasets stay hidden ----------------------------------------------------------------------


def test_access_pages_are_404_for_restricted_datasets_to_outsiders(client, owner, outsider):
    secret = make_dataset(owner, slug="secret-faces", name="Secret faces", visibility="restricted")
    client.force_login(outsider.user)
    assert client.get(detail_url("secret-faces")).status_code == 404
    assert client.post(reverse("frontend:access-request-create", args=["secret-faces"]),
                       request_form()).status_code == 404
    assert client.get(reverse("frontend:dataset-grants", args=["secret-faces"])).status_code == 404
    assert client.get(reverse("frontend:dataset-grants", args=["no-such-set"])).status_code == 404
    assert not AccessRequest.objects.exists()

    insider = make_person("ines", unit=make_unit("Legal"))
    grant(secret, insider, Level.VIEW)
    pending = ask(insider, secret)
    client.force_login(outsider.user)
    assert client.get(reverse("frontend:access-request", args=[pending.pk])).status_code == 404
    assert "Secret faces" not in text(client.get(reverse("frontend:inbox")))
    client.force_login(insider.user)
    assert "Secret faces" in text(client.get(reverse("frontend:access-requests")))


def test_anonymous_users_are_sent_to_sign_in(client, dataset):
    for url in (reverse("frontend:access-requests"), reverse("frontend:inbox"), reverse("frontend:left-behind"),
                reverse("frontend:audit"), reverse("frontend:org"),
                reverse("frontend:dataset-grants", args=["street-signs"])):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login")), url


def test_governance_decides_a_restricted_datasets_request_it_cannot_open(client, owner, outsider, settings):
    """The owner left and the unit has no steward or head: the request goes to catalog governance, whose members
    cannot open a restricted dataset. They see what they are asked to grant, and can decide, in the page and API."""
    restricted = make_dataset(owner, slug="faces", name="Faces", visibility=Dataset.Visibility.RESTRICTED)
    grant(restricted, outsider, Level.VIEW)
    pending = ask(outsider, restricted)
    person_depart(person=owner, actor=None)
    governor = make_person("gina", unit=make_unit("Board"), display_name="Gina Governance")
    governor.user.groups.add(Group.objects.get_or_create(name=settings.KURA_GOVERNANCE_GROUP)[0])
    client.force_login(governor.user)

    inbox = text(client.get(reverse("frontend:inbox")))
    page = client.get(reverse("frontend:access-request", args=[pending.pk]))

    assert "Faces" in inbox and "shown to you as its approver" in inbox and 'value="approve"' in inbox
    assert detail_url("faces") not in inbox  # named, not linked: its page stays closed to them
    assert page.status_code == 200 and "Faces" in text(page) and 'value="approve"' in text(page)
    assert client.get(detail_url("faces")).status_code == 404

    decided = client.post(reverse("frontend:access-request-decide", args=[pending.pk]), {"decision": "approve"})

    assert decided.status_code == 302
    pending.refresh_from_db()
    assert pending.status == AccessRequest.Status.APPROVED and pending.decided_by == governor
    after = client.get(reverse("frontend:access-request", args=[pending.pk]))
    assert after.status_code == 200 and "Faces" in text(after)  # who decided still sees what they decided


def test_an_approver_decides_a_restricted_datasets_request_over_the_api(api, owner, outsider, settings):
    restricted = make_dataset(owner, slug="faces", name="Faces", visibility=Dataset.Visibility.RESTRICTED)
    grant(restricted, outsider, Level.VIEW)
    pending = ask(outsider, restricted)
    person_depart(person=owner, actor=None)
    governor = make_person("gina", unit=make_unit("Board"))
    governor.user.groups.add(Group.objects.get_or_create(name=settings.KURA_GOVERNANCE_GROUP)[0])
    bystander = make_person("bo", unit=make_unit("Board"))

    api.credentials(HTTP_AUTHORIZATION=bearer(bystander, scope="read_write"))
    hidden = api.post(f"/api/v1/access-requests/{pending.pk}/decision/", {"approve": True}, format="json")
    api.credentials(HTTP_AUTHORIZATION=bearer(governor, scope="read_write"))
    inbox = api.get("/api/v1/access-requests/inbox/").json()
    decided = api.post(f"/api/v1/access-requests/{pending.pk}/decision/", {"approve": True}, format="json")

    assert hidden.status_code == 404
    assert [row["id"] for row in inbox] == [pending.pk]
    assert decided.status_code == 200, decided.json()
    assert decided.json()["status"] == "approved"


def test_the_decision_api_tells_nothing_of_a_request_to_someone_who_may_not_see_it(api, dataset, owner, outsider):
    decided = ask(outsider, dataset)
    access_request_decide(request=decided, decider=owner, approve=True)
    bystander = make_person("bo", unit=make_unit("Board"))  # may view the internal dataset, not the request

    api.credentials(HTTP_AUTHORIZATION=bearer(bystander, scope="read_write"))
    answer = api.post(f"/api/v1/access-requests/{decided.pk}/decision/", {"approve": False}, format="json")

    assert answer.status_code == 404 and "approved" not in answer.content.decode()
