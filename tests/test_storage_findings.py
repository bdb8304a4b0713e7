"""Acting on findings (claim, assign, dismiss) through services and the API."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection as connection_db
from django.test.utils import CaptureQueriesContext

from access.leavers import person_depart
from access.models import AuditEvent, Membership, OrgUnit
from access.org import membership_start, org_event_apply, plan_merge
from catalog.models import Dataset
from storage.dvc.repos import training_repo_create
from storage.models import Finding, ScanRun, StorageConnection
from storage.services import connection_create, finding_assign, finding_claim, finding_dismiss
from tests.factories import bearer, make_dataset, make_person, make_unit
from tests.storage_support import make_local_connection, scan

pytestmark = pytest.mark.django_db


@pytest.fixture
def share(storage_settings, tmp_path):
    root = tmp_path / "mnt" / "share"
    for folder, count in {"tmp-amara-export": 3, "old-experiments/kws": 2}.items():
        (root / folder).mkdir(parents=True)
        for index in range(count):
            (root / folder / f"part-{index}.bin").write_bytes(b"z" * 10)
    return root


@pytest.fixture
def scanned(share):
    connection = make_local_connection([str(share)], name="nas")
    scan(connection)
    return connection


def _finding(connection: StorageConnection, folder: str) -> Finding:
    return Finding.objects.get(connection=connection, uri__endswith=f"/{folder}/")


def test_claim_creates_a_draft_dataset_that_closes_the_finding_on_the_next_scan(scanned, share, owner):
    finding = _finding(scanned, "tmp-amara-export")

    dataset = finding_claim(finding=finding, actor=owner)

    assert (dataset.status, dataset.owner, dataset.owning_unit) == (Dataset.Status.DRAFT, owner, owner.primary_unit)
    assert dataset.slug == "tmp-amara-export"
    assert list(dataset.locations.values_list("uri", flat=True)) == [f"file://{share}/tmp-amara-export/"]
    finding.refresh_from_db()
    assert (finding.status, finding.claimed_by, finding.dataset) == (Finding.Status.CLAIMED, owner, dataset)
    assert AuditEvent.objects.filter(action="storage.finding_claimed", target_id=str(finding.pk)).exists()
    with pytest.raises(ValidationError):
        finding_claim(finding=finding, actor=owner)

    scan(scanned)

    finding.refresh_from_db()
    assert (finding.status, finding.resolution) == (Finding.Status.RESOLVED, "Registered in the catalog.")


def test_a_claim_after_a_merge_lands_in_the_successor_unit(scanned, owner):
    successor = make_unit("Perception & Mapping")
    membership_start(person=owner, unit=owner.primary_unit)
    org_event_apply(plan=plan_merge(sources=[owner.primary_unit], successor=successor, actor=None), actor=None)
    owner.refresh_from_db()

    dataset = finding_claim(finding=_finding(scanned, "tmp-amara-export"), actor=owner)

    assert dataset.owning_unit == successor


def test_a_claim_without_an_active_unit_to_default_to_asks_for_one(scanned, owner):
    OrgUnit.objects.filter(pk=owner.primary_unit_id).update(status=OrgUnit.Status.RETIRED)  # stranded before
    owner.refresh_from_db()

    with pytest.raises(ValidationError) as error:
        finding_claim(finding=_finding(scanned, "tmp-amara-export"), actor=owner)

    assert error.value.message_dict == {"owning_unit": ["Say which unit will own the data."]}
    assert not Dataset.objects.exists()


def test_claiming_a_folder_whose_name_is_no_slug_gets_a_free_slug_made_from_it(storage_settings, tmp_path, owner):
    root = tmp_path / "mnt" / "share"
    for folder in ("Night_Drives 2025", "x"):
        (root / folder).mkdir(parents=True)
        (root / folder / "clip.bin").write_bytes(b"z" * 10)
    connection = make_local_connection([str(root)], name="nas")
    scan(connection)
    make_dataset(owner, slug="night-drives-2025")

    night = finding_claim(finding=_finding(connection, "Night_Drives 2025"), actor=owner)
    short = finding_claim(finding=_finding(connection, "x"), actor=owner)

    assert night.slug == "night-drives-2025-2"  # underscores and spaces become hyphens; the taken one is numbered
    assert night.name == "Night_Drives 2025"
    assert short.slug == "claimed-data-x"


@pytest.fixture
def steward(owner):
    person = make_person("stella", unit=owner.primary_unit)
    membership_start(person=person, unit=owner.primary_unit, role=Membership.Role.STEWARD)
    return person


def test_assign_and_dismiss_are_audited_and_survive_rescans(scanned, steward, colleague):
    export, old = _finding(scanned, "tmp-amara-export"), _finding(scanned, "old-experiments")

    finding_assign(finding=export, actor=steward, assignee=colleague, note="yours?")
    with pytest.raises(ValidationError):
        finding_dismiss(finding=old, actor=steward, reason="")
    finding_dismiss(finding=old, actor=steward, reason="Scratch space, wiped weekly.")
    leaver = make_person("leaver")
    person_depart(person=leaver, actor=None)
    with pytest.raises(ValidationError):
        finding_assign(finding=export, actor=steward, assignee=leaver)

    scan(scanned)

    export.refresh_from_db()
    old.refresh_from_db()
    assert (export.status, export.assignee) == (Finding.Status.ASSIGNED, colleague)
    assert (old.status, old.dismissal_reason) == (Finding.Status.DISMISSED, "Scratch space, wiped weekly.")
    actions = set(AuditEvent.objects.filter(action__startswith="storage.finding").values_list("action", flat=True))
    assert actions == {"storage.finding_assigned", "storage.finding_dismissed"}


def test_a_dismissed_finding_cannot_be_claimed_even_by_its_assignee(scanned, steward, colleague):
    export = _finding(scanned, "tmp-amara-export")
    finding_assign(finding=export, actor=steward, assignee=colleague)
    finding_dismiss(finding=export, actor=steward, reason="Scratch space, wiped weekly.")

    with pytest.raises(ValidationError) as refused:
        finding_claim(finding=export, actor=colleague)  # its page shows no claim form; a POST went through

    assert refused.value.code == "finding_closed"
    assert "dismissed" in refused.value.messages[0]
    export.refresh_from_db()
    assert (export.status, export.claimed_by, export.dataset) == (Finding.Status.DISMISSED, None, None)
    assert not Dataset.objects.exists()


def test_only_those_who_triage_assign_or_dismiss_whoever_calls_the_service(scanned, owner, colleague):
    export = _finding(scanned, "tmp-amara-export")
    staff = make_person("boss", staff=True, unit=owner.primary_unit)

    with pytest.raises(PermissionDenied, match="Only stewards, governance and staff assign findings"):
        finding_assign(finding=export, actor=owner, assignee=colleague)
    with pytest.raises(PermissionDenied, match="Only stewards, governance and staff dismiss findings"):
        finding_dismiss(finding=export, actor=colleague, reason="Not mine to keep.")
    export.refresh_from_db()
    assert export.status == Finding.Status.OPEN and not AuditEvent.objects.filter(action__startswith="storage.finding")

    assert finding_assign(finding=export, actor=staff, assignee=colleague).assignee == colleague


def test_connections_api_is_staff_only_and_never_shows_credentials(api, storage_settings, share, owner,
                                                                   monkeypatch):
    staff = make_person("root", staff=True)
    api.credentials(HTTP_AUTHORIZATION=bearer(owner, scope="read_write"))
    assert api.get("/api/v1/storage/connections/").status_code == 403

    api.credentials(HTTP_AUTHORIZATION=bearer(staff, scope="read_write"))
    created = api.post("/api/v1/storage/connections/", {
        "name": "lake", "kind": "s3", "roots": ["lake/raw"], "endpoint_url": "http://127.0.0.1:9",
        "access_key_env": "LAKE_KEY_ID", "secret_key_env": "LAKE_SECRET"}, format="json")
    assert created.status_code == 201, created.content
    refused = api.post("/api/v1/storage/connections/", {
        "name": "imds", "kind": "s3", "roots": ["b"], "endpoint_url": "http://169.254.169.254/"}, format="json")
    assert refused.status_code == 400
    assert "endpoint_url" in refused.json()["error"]["details"]
    escaped = api.post("/api/v1/storage/connections/", {"name": "up", "kind": "local", "roots": [f"{share}/../.."]},
                       format="json")
    assert escaped.status_code == 400

    listed = api.get("/api/v1/storage/connections/")
    assert listed.status_code == 200
    body = listed.content.decode()
    assert "LAKE_KEY_ID" not in body and "LAKE_SECRET" not in body
    assert listed.json()["results"][0]["credentials_source"] == "environment"
    assert api.get("/api/v1/storage/connections/lake/").json()["roots"] == ["lake/raw/"]

    training_repo_create(actor=None, name="signs", url="https://git.example.com/signs.git")
    remote = api.post("/api/v1/storage/connections/", {
        "name": "dvc-remote", "kind": "local", "roots": [str(share)], "is_dvc_remote": True,
        "dvc_repos": ["signs"]}, format="json")
    assert remote.status_code == 201 and remote.json()["dvc_repos"] == ["signs"]
    unknown = api.post("/api/v1/storage/connections/", {
        "name": "dvc-two", "kind": "local", "roots": [str(share)], "is_dvc_remote": True,
        "dvc_repos": ["nope"]}, format="json")
    assert unknown.status_code == 400 and "dvc_repos" in unknown.json()["error"]["details"]


def test_findings_api_filters_and_actions(api, scanned, owner, colleague):
    outsider = make_person("outsider")
    api.credentials(HTTP_AUTHORIZATION=bearer(outsider, scope="read_write"))
    assert api.get("/api/v1/storage/findings/").json()["results"] == []
    export = _finding(scanned, "tmp-amara-export")
    assert api.get(f"/api/v1/storage/findings/{export.pk}/").status_code == 404

    staff = make_person("boss", staff=True, unit=owner.primary_unit)
    api.credentials(HTTP_AUTHORIZATION=bearer(staff, scope="read_write"))
    listed = api.get("/api/v1/storage/findings/", {"kind": "unregistered", "status": "open", "q": "amara"}).json()
    assert [item["uri"] for item in listed["results"]] == [export.uri]
    assert listed["results"][0]["object_count"] == 3

    assigned = api.post(f"/api/v1/storage/findings/{export.pk}/assign/", {"person": colleague.external_id},
                        format="json")
    assert assigned.status_code == 200 and assigned.json()["status"] == "assigned"
    dismissed = api.post(f"/api/v1/storage/findings/{export.pk}/dismiss/", {"reason": "no"}, format="json")
    assert dismissed.status_code == 400 and dismissed.json()["error"]["code"] == "validation_error"

    api.credentials(HTTP_AUTHORIZATION=bearer(colleague, scope="read_write"))
    mine = api.get("/api/v1/storage/findings/").json()["results"]
    assert [item["id"] for item in mine] == [export.pk]  # the assignee sees what was handed to them
    claimed = api.post(f"/api/v1/storage/findings/{export.pk}/claim/", {"name": "Amara's export"}, format="json")
    assert claimed.status_code == 201, claimed.content
    assert claimed.json()["status"] == "claimed"
    dataset = Dataset.objects.get(slug=claimed.json()["dataset"])
    assert (dataset.owner, dataset.name, dataset.status) == (colleague, "Amara's export", Dataset.Status.DRAFT)

    runs = api.get("/api/v1/storage/scans/")
    assert runs.status_code == 403


def test_the_api_refuses_an_assignee_who_would_hand_on_or_dismiss_their_finding(api, scanned, steward, colleague):
    export = _finding(scanned, "tmp-amara-export")
    finding_assign(finding=export, actor=steward, assignee=colleague)
    api.credentials(HTTP_AUTHORIZATION=bearer(colleague, scope="read_write"))
    assert api.get(f"/api/v1/storage/findings/{export.pk}/").status_code == 200  # they see it

    handed_on = api.post(f"/api/v1/storage/findings/{export.pk}/assign/", {"person": steward.external_id},
                         format="json")
    dismissed = api.post(f"/api/v1/storage/findings/{export.pk}/dismiss/", {"reason": "Not mine to keep."},
                         format="json")

    assert handed_on.status_code == 403 and handed_on.json()["error"] == {
        "code": "permission_denied", "message": "Only stewards, governance and staff assign findings."}
    assert dismissed.status_code == 403
    assert dismissed.json()["error"]["message"] == "Only stewards, governance and staff dismiss findings."
    export.refresh_from_db()
    assert (export.status, export.assignee) == (Finding.Status.ASSIGNED, colleague)


def test_findings_never_reveal_a_restricted_dataset(api, share, owner):
    from access.models import Membership
    from access.org import membership_start
    from catalog.services import LocationSpec
    from tests.factories import make_dataset, make_unit

    (share / "secret").mkdir()
    secret = make_dataset(owner, visibility="restricted", locations=[LocationSpec(f"file://{share}/secret/")])
    connection = make_local_connection([str(share)], name="nas")
    scan(connection)
    assert Finding.objects.filter(connection=connection, dataset=secret, kind=Finding.Kind.MISSING).exists()
    steward = make_person("stella", unit=make_unit("Speech"))
    membership_start(person=steward, unit=steward.primary_unit, role=Membership.Role.STEWARD)

    api.credentials(HTTP_AUTHORIZATION=bearer(steward))
    listed = api.get("/api/v1/storage/findings/").json()["results"]

    assert listed and all(item["dataset"] != secret.slug for item in listed)
    assert all("/secret/" not in item["uri"] for item in listed)


def test_connection_list_loads_last_runs_and_repositories_in_constant_queries(api, storage_settings, share):
    staff = make_person("root", staff=True)
    api.credentials(HTTP_AUTHORIZATION=bearer(staff))
    signs = training_repo_create(actor=None, name="signs", url="https://git.example.com/signs.git")

    def add(name):
        connection = connection_create(actor=None, name=name, kind="local", roots=[str(share)], is_dvc_remote=True,
                                       dvc_repos=[signs])
        ScanRun.objects.create(connection=connection)
        return ScanRun.objects.create(connection=connection)  # the newer run is the one listed

    newest = add("first")
    api.get("/api/v1/storage/connections/")
    with CaptureQueriesContext(connection_db) as one:
        body = api.get("/api/v1/storage/connections/").json()
    for name in ("second", "third", "fourth"):
        add(name)
    with CaptureQueriesContext(connection_db) as four:
        many = api.get("/api/v1/storage/connections/").json()

    assert body["results"][0]["last_run"]["id"] == newest.pk
    assert body["results"][0]["dvc_repos"] == ["signs"]
    assert len(many["results"]) == 4 and all(item["last_run"] for item in many["results"])
    assert len(four) == len(one)
