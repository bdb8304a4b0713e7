import json
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.utils import timezone

from access.approvals import access_request_create
from access.directory import directory_sync
from access.directory_export import DirectoryFormatError, read_records
from access.leavers import person_depart
from access.models import AccessRequest, AuditEvent, Grant, Level, Membership, Person
from access.org import membership_start, org_event_apply, plan_merge, unit_alias_add
from catalog.access_selectors import requests_awaiting
from catalog.models import Dataset
from catalog.selectors import left_behind_datasets, proposed_successor
from tests.factories import bearer, grant, make_dataset, make_person, make_unit

pytestmark = pytest.mark.django_db


@pytest.fixture
def org(unit):
    """Perception (also spelt "CV" by the directory) and Platform, each reachable through aliases only."""
    platform = make_unit("Platform")
    unit_alias_add(unit=unit, name="Perception")
    unit_alias_add(unit=platform, name="ML Platform")
    return {"perception": unit, "platform": platform}


def member(username, unit, **kwargs):
    person = make_person(username, unit=unit, **kwargs)
    membership_start(person=person, unit=unit)
    return person


def record(person, **overrides):
    row = {"external_id": person.external_id, "name": person.display_name, "email": person.email,
           "department": "Perception", "manager_external_id": "", "active": True}
    row.update(overrides)
    return row


def open_units(person):
    return set(Membership.objects.filter(person=person, valid_to__isnull=True).values_list("unit__name", flat=True))


def sync(records, **kwargs):
    return directory_sync(records=records, actor=None, **kwargs)


def test_joiner_is_created_in_the_aliased_unit(org):
    result = sync([{"external_id": "HR-1", "name": "Nina New", "email": "nina@example.com",
                    "department": " ml   PLATFORM ", "active": "yes"}])
    assert result.joiners == ["HR-1"] and not result.errors
    nina = Person.objects.get(external_id="HR-1")
    assert (nina.display_name, nina.email, nina.user.email) == ("Nina New", "nina@example.com", "nina@example.com")
    assert nina.primary_unit == org["platform"] and open_units(nina) == {"Platform"}
    assert nina.user.username == "nina" and not nina.user.has_usable_password()
    assert AuditEvent.objects.filter(action="person.joined", target_id=str(nina.pk)).count() == 1
    assert AuditEvent.objects.filter(action="directory.synced").get().after["joiners"] == 1


def test_manager_is_resolved_whatever_the_row_order(org):
    boss = {"external_id": "HR-B", "name": "Bo Boss", "department": "Perception"}
    report = {"external_id": "HR-R", "name": "Ray Report", "department": "Perception", "manager_external_id": "HR-B"}
    sync([report, boss])  # the manager's row comes after the report's
    assert Person.objects.get(external_id="HR-R").manager.external_id == "HR-B"
    sync([{**report, "manager_external_id": ""}, boss])
    assert Person.objects.get(external_id="HR-R").manager is None
    result = sync([boss, report])
    assert result.updated == ["HR-R"]
    assert Person.objects.get(external_id="HR-R").manager.external_id == "HR-B"


def test_mover_keeps_own_data_and_personal_grants_and_old_unit_access_ends_after_grace(org, settings, monkeypatch):
    settings.KURA_MOVER_GRACE_DAYS = 7
    perception, platform = org["perception"], org["platform"]
    mover = member("maya", perception)
    own = make_dataset(mover, slug="mayas-own", visibility="restricted")
    other_owner = member("otto", platform)
    personal = grant(make_dataset(other_owner, slug="granted-to-maya", visibility="restricted"), mover, Level.READ)
    grant(make_dataset(member("pete", perception), slug="perception-only", visibility="restricted"),
          perception, Level.READ)

    result = sync([record(mover, department="ML Platform")])

    assert result.movers == [mover.external_id]
    assert result.changes[0]["changes"]["unit"] == {"before": "Perception", "after": "Platform"}
    mover.refresh_from_db()
    own.refresh_from_db()
    assert mover.primary_unit == platform and own.owner == mover
    personal.refresh_from_db()
    assert personal.revoked_at is None and personal.suspended_at is None
    readable_now = set(Dataset.objects.restrict(mover.user, "read").values_list("slug", flat=True))
    assert {"mayas-own", "granted-to-maya", "perception-only"} <= readable_now  # grace period
    later = timezone.now() + timedelta(days=8)
    monkeypatch.setattr(timezone, "now", lambda: later)  # the grace period is over
    readable_later = set(Dataset.objects.restrict(mover.user, "read").values_list("slug", flat=True))
    assert "granted-to-maya" in readable_later and "perception-only" not in readable_later
    assert AuditEvent.objects.filter(action="person.moved", target_id=str(mover.pk)).count() == 1


def test_leaver_datasets_go_left_behind_and_waiting_requests_are_rerouted(org, colleague):
    perception = org["perception"]
    manager = member("mira", perception)
    leaver = member("lena", perception)
    steward = make_person("stella", unit=perception)
    membership_start(person=steward, unit=perception, role=Membership.Role.STEWARD)
    dataset = make_dataset(leaver, slug="lenas-data")
    request = access_request_create(requester=colleague, target=dataset, level=Level.READ,
                                    purpose="Evaluate the night-time detector.", duration_days=30)
    assert request.approver == leaver

    result = sync([record(leaver, active="false", manager_external_id=manager.external_id)])

    assert result.leavers == [leaver.external_id]
    leaver.refresh_from_db()
    assert leaver.status == Person.Status.DEPARTED and open_units(leaver) == set()
    assert [d.slug for d in left_behind_datasets(user=steward.user)] == ["lenas-data"]
    assert proposed_successor(dataset) == manager  # the manager named in the same export
    request.refresh_from_db()
    assert request.status == AccessRequest.Status.PENDING and request.approver == steward
    assert request in requests_awaiting(person=steward)
    assert AuditEvent.objects.filter(action="person.departed", reason="inactive in the directory export").count() == 1


def test_rejoiner_comes_back_into_the_unit_the_directory_names(org):
    person = member("rita", org["perception"])
    person_depart(person=person, actor=None)
    result = sync([record(person, department="ML Platform")])
    assert result.rejoiners == [person.external_id]
    person.refresh_from_db()
    assert person.status == Person.Status.ACTIVE and person.primary_unit == org["platform"]
    assert open_units(person) == {"Platform"}


def test_department_renamed_in_the_directory_is_not_a_move(org):
    perception = org["perception"]
    people = [member(f"p{index}", perception) for index in range(3)]
    dataset = make_dataset(people[0], slug="perception-data", visibility="restricted")
    grant(dataset, perception, Level.READ)
    unit_alias_add(unit=perception, name="Computer Vision & Perception")  # the directory's new spelling
    memberships_before = set(Membership.objects.values_list("pk", "valid_to"))

    result = sync([record(person, department="Computer Vision & Perception") for person in people])

    assert result.movers == [] and sorted(result.unchanged) == sorted(p.external_id for p in people)
    assert set(Membership.objects.values_list("pk", "valid_to")) == memberships_before
    assert not AuditEvent.objects.filter(action__in=["person.moved", "membership.ended"]).exists()
    assert "perception-data" in set(Dataset.objects.restrict(people[2].user, "read").values_list("slug", flat=True))


def test_department_of_a_merged_unit_follows_the_successor_without_a_move(org):
    old = make_unit("Computer Vision")
    unit_alias_add(unit=old, name="Computer Vision")
    kai = member("kai", old)
    org_event_apply(plan=plan_merge(sources=[old], successor=org["perception"], actor=None), actor=None)
    kai.refresh_from_db()
    assert kai.primary_unit == org["perception"]  # the merge moved it
    result = sync([record(kai, department="Computer Vision")])
    assert result.movers == [] and result.unchanged == [kai.external_id]
    Person.objects.filter(pk=kai.pk).update(primary_unit=old)  # left there by a merge before merges moved it
    result = sync([record(kai, department="Computer Vision")])
    assert result.movers == [] and result.updated == [kai.external_id]
    kai.refresh_from_db()
    assert kai.primary_unit == org["perception"]
    assert sync([record(kai, department="Perception")]).unchanged == [kai.external_id]


def test_unmapped_department_is_reported_and_the_unit_left_alone(org):
    make_unit("Marketing")  # a unit of the same name is not an alias: departments never match by name
    existing = member("ed", org["perception"])
    result = sync([record(existing, department="Marketing"),
                   {"external_id": "HR-9", "name": "Nora", "department": "Marketing"}])
    assert result.unmapped_departments == {"Marketing": [existing.external_id, "HR-9"]}
    assert result.unchanged == [existing.external_id] and result.joiners == ["HR-9"]
    existing.refresh_from_db()
    assert existing.primary_unit == org["perception"] and open_units(existing) == {"Perception"}
    nora = Person.objects.get(external_id="HR-9")
    assert nora.primary_unit is None and open_units(nora) == set()


def test_name_and_email_changes_update_the_person_and_user(org):
    person = member("ulla", org["perception"])
    result = sync([record(person, name="Ulla Updated", email="ulla.new@example.com")])
    assert result.updated == [person.external_id]
    person.refresh_from_db()
    assert (person.display_name, person.email, person.user.email) == (
        "Ulla Updated", "ulla.new@example.com", "ulla.new@example.com")
    event = AuditEvent.objects.get(action="person.updated")
    assert event.before["name"] == "Ulla" and event.after["email"] == "ulla.new@example.com"


CSV_EXPORT = (
    "\ufeffExternal ID;Name;Email;Department;Manager;Active\n"
    "HR-20;Carla Csv;carla@example.com;Perception;HR-21;true\n"
    "HR-21;Chris Chief;chris@example.com;ML Platform;;1\n"
)


def test_csv_and_json_exports_give_the_same_result(org):
    csv_result = sync(read_records(CSV_EXPORT, "csv"), dry_run=True)
    json_export = json.dumps([
        {"external_id": "HR-20", "name": "Carla Csv", "email": "carla@example.com", "department": "Perception",
         "manager_external_id": "HR-21", "active": True},
        {"external_id": "HR-21", "name": "Chris Chief", "email": "chris@example.com", "department": "ML Platform",
         "manager_external_id": "", "active": True},
    ])
    json_result = sync(read_records(json_export, "json"), dry_run=True)
    assert csv_result.joiners == json_result.joiners == ["HR-20", "HR-21"]
    assert csv_result.changes == json_result.changes
    sync(read_records(CSV_EXPORT, "csv"))
    assert Person.objects.get(external_id="HR-20").manager.external_id == "HR-21"


@pytest.mark.parametrize(("content", "fmt", "message"), [
    ('[{"external_id": "HR-1",', "json", "not valid JSON"),
    ('{"external_id": "HR-1"}', "json", "must be a list"),
    ("name,email\nAnn,ann@example.com\n", "csv", "external_id"),
    ("", "csv", "empty"),
    ('external_id,name\nHR-1,"Ann\n', "csv", "malformed"),
    ("external_id,name\nHR-1,Ann,extra\n", "csv", "more cells"),
])
def test_malformed_exports_are_clear_errors(content, fmt, message):
    with pytest.raises(DirectoryFormatError, match=message):
        read_records(content, fmt)


def test_row_errors_are_collected_and_good_rows_still_apply(org):
    result = sync([
        {"name": "No Id"},
        {"external_id": "HR-D", "name": "Dup One"},
        {"external_id": "HR-D", "name": "Dup Two"},
        {"external_id": "HR-E", "name": "Bad Mail", "email": "not-an-address"},
        {"external_id": "HR-M", "name": "Lost Report", "manager_external_id": "HR-NOBODY"},
        {"external_id": "HR-A", "name": "Odd Flag", "active": "maybe"},
        {"external_id": "HR-N"},
        "not an object",
        {"external_id": "HR-OK", "name": "Fine Person"},
    ])
    errors = {(error.row, error.field) for error in result.errors}
    assert errors == {(1, "external_id"), (2, "external_id"), (3, "external_id"), (4, "email"),
                      (5, "manager_external_id"), (6, "active"), (7, "name"), (8, "")}
    assert "HR-NOBODY" in next(e.message for e in result.errors if e.row == 5)
    assert result.joiners == ["HR-M", "HR-OK"]  # an unknown manager leaves only the manager unset
    assert Person.objects.get(external_id="HR-M").manager is None
    assert not Person.objects.filter(external_id__in=["HR-D", "HR-E", "HR-A", "HR-N"]).exists()


def test_dry_run_writes_nothing(org):
    leaver = member("lars", org["perception"])
    mover = member("moe", org["perception"])
    counts = (Person.objects.count(), Membership.objects.count(), AuditEvent.objects.count(), Grant.objects.count())
    result = sync([record(leaver, active=False), record(mover, department="ML Platform"),
                   {"external_id": "HR-NEW", "name": "New Person", "department": "Perception"}], dry_run=True)
    assert (result.dry_run, result.joiners, result.movers, result.leavers) == (
        True, ["HR-NEW"], [mover.external_id], [leaver.external_id])
    assert counts == (Person.objects.count(), Membership.objects.count(), AuditEvent.objects.count(),
                      Grant.objects.count())
    leaver.refresh_from_db()
    assert leaver.status == Person.Status.ACTIVE


def test_applying_the_same_export_twice_changes_nothing_the_second_time(org):
    leaver = member("lars", org["perception"])
    mover = member("moe", org["perception"])
    departed = member("dora", org["perception"])
    person_depart(person=departed, actor=None)
    export = [
        record(leaver, active=False),
        record(mover, department="ML Platform", name="Moe Moved"),
        record(departed, active=False),
        {"external_id": "HR-NEW", "name": "New Person", "department": "Perception",
         "manager_external_id": mover.external_id},
        {"external_id": "HR-GONE", "name": "Never Here", "active": False},
        {"external_id": "HR-X", "name": "Unmapped", "department": "Marketing"},
    ]
    first = sync(export)
    assert (first.joiners, first.movers, first.leavers) == (["HR-NEW", "HR-X"], [mover.external_id],
                                                             [leaver.external_id])
    state = (list(Person.objects.values().order_by("pk")), list(Membership.objects.values().order_by("pk")),
             AuditEvent.objects.count())

    second = sync(export)

    assert second.changed is False and second.changes == []
    assert sorted(second.unchanged) == sorted(
        [leaver.external_id, mover.external_id, departed.external_id, "HR-NEW", "HR-X"])
    assert second.skipped == ["HR-GONE"] and second.unmapped_departments == {"Marketing": ["HR-X"]}
    assert state == (list(Person.objects.values().order_by("pk")), list(Membership.objects.values().order_by("pk")),
                     AuditEvent.objects.count())


# --- API --------------------------------------------------------------------------------------------------


JOINER = [{"external_id": "HR-API", "name": "Api Person", "department": "Perception"}]


def test_api_requires_staff_and_a_writing_token(api, org, colleague):
    url = "/api/v1/directory/sync"
    assert api.post(url, JOINER, format="json").status_code == 401
    api.credentials(HTTP_AUTHORIZATION=bearer(colleague, scope="read_write"))
    denied = api.post(url, JOINER, format="json")
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "permission_denied"
    admin = make_person("admin", staff=True)
    api.credentials(HTTP_AUTHORIZATION=bearer(admin, scope="read"))
    read_only = api.post(url, JOINER, format="json")
    assert read_only.status_code == 403 and read_only.json()["error"]["code"] == "token_read_only"
    assert not Person.objects.filter(external_id="HR-API").exists()
    api.credentials(HTTP_AUTHORIZATION=bearer(admin, scope="read_write"))
    applied = api.post(url, JOINER, format="json")
    assert applied.status_code == 200, applied.content
    assert applied.json()["joiners"] == ["HR-API"] and applied.json()["counts"]["joiners"] == 1
    assert AuditEvent.objects.get(action="person.joined").actor == admin


def test_api_accepts_json_csv_body_and_upload_with_or_without_slash(api, org):
    admin = make_person("admin", staff=True)
    api.force_login(admin.user)
    dry = api.post("/api/v1/directory/sync/?dry_run=1", JOINER, format="json")
    assert dry.status_code == 200 and dry.json()["dry_run"] is True and dry.json()["joiners"] == ["HR-API"]
    assert not Person.objects.filter(external_id="HR-API").exists()
    body = api.post("/api/v1/directory/sync", CSV_EXPORT.encode(), content_type="text/csv")
    assert body.status_code == 200, body.content
    assert body.json()["joiners"] == ["HR-20", "HR-21"]
    upload = SimpleUploadedFile("people.json", json.dumps(JOINER).encode(), content_type="application/json")
    uploaded = api.post("/api/v1/directory/sync/", {"file": upload}, format="multipart")
    assert uploaded.status_code == 200 and uploaded.json()["joiners"] == ["HR-API"]
    again = api.post("/api/v1/directory/sync/", CSV_EXPORT.encode(), content_type="text/csv")
    assert again.json()["counts"]["unchanged"] == 2 and again.json()["changes"] == []


def test_api_malformed_input_is_a_clear_400(api, org):
    api.force_login(make_person("admin", staff=True).user)
    bad_csv = api.post("/api/v1/directory/sync", b"name\nAnn\n", content_type="text/csv")
    assert bad_csv.status_code == 400 and bad_csv.json()["error"]["code"] == "invalid_export"
    assert "external_id" in bad_csv.json()["error"]["message"]
    not_list = api.post("/api/v1/directory/sync", {"external_id": "x"}, format="json")
    assert not_list.status_code == 400 and not_list.json()["error"]["code"] == "invalid_export"
    bad_json = api.post("/api/v1/directory/sync", b"[{", content_type="application/json")
    assert bad_json.status_code == 400 and bad_json.json()["error"]["code"] == "parse_error"
    no_file = api.post("/api/v1/directory/sync", {"other": "x"}, format="multipart")
    assert no_file.status_code == 400 and "'file'" in no_file.json()["error"]["message"]
    rows = api.post("/api/v1/directory/sync", [{"external_id": "HR-1", "email": "nope"}], format="json")
    assert rows.status_code == 200 and rows.json()["errors"][0]["field"] == "email"


def test_endpoint_is_in_the_openapi_schema(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    operation = schema["paths"]["/api/v1/directory/sync"]["post"]
    assert set(operation["requestBody"]["content"]) == {"application/json", "text/csv", "multipart/form-data"}
    assert any(parameter["name"] == "dry_run" for parameter in operation["parameters"])


# --- command ----------------------------------------------------------------------------------------------


def test_command_prints_the_summary_and_honours_dry_run(org, tmp_path, capsys):
    export = tmp_path / "people.csv"
    export.write_text(CSV_EXPORT, encoding="utf-8")
    call_command("sync_directory", str(export), "--dry-run")
    dry = capsys.readouterr().out
    assert "Dry run: nothing was written." in dry and "joiners: 2" in dry and "HR-20" in dry
    assert not Person.objects.exists()
    call_command("sync_directory", str(export), "--format", "csv")
    applied = capsys.readouterr().out
    assert "Directory sync applied." in applied and "joiners: 2" in applied
    assert Person.objects.count() == 2
    call_command("sync_directory", str(export))
    assert "unchanged: 2" in capsys.readouterr().out


def test_command_reports_unreadable_input(tmp_path):
    broken = tmp_path / "people.json"
    broken.write_text("[{", encoding="utf-8")
    with pytest.raises(CommandError, match="not valid JSON"):
        call_command("sync_directory", str(broken))
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("sync_directory", str(tmp_path / "missing.csv"))


def test_demo_directory_applies_without_moves_and_then_changes_nothing(tmp_path):
    from frontend.demo import PEOPLE, load_demo

    load_demo(tmp_path)
    names = {username: external_id for username, external_id, *_ in PEOPLE}
    export = [
        {"external_id": external_id, "name": name, "email": f"{username}@example.com", "department": unit,
         "manager_external_id": names[manager] if manager else "", "active": username != "jonas"}
        for username, external_id, name, unit, manager in PEOPLE
    ]
    first = sync(export)
    assert (first.joiners, first.movers, first.leavers, first.rejoiners) == ([], [], [], [])
    assert first.unmapped_departments == {} and first.errors == []
    # Kai's department was merged into Perception, which the merge recorded: no move. The demo loader links
    # managers in row order, so Dana (listed before her manager) had none; the sync resolves it after loading all rows.
    assert first.updated == ["HR-1000"]
    assert Person.objects.get(external_id="HR-1000").manager.external_id == "HR-1001"
    assert Person.objects.get(external_id="HR-1008").primary_unit.name == "Perception"
    assert sync(export).changed is False



def test_fields_the_export_does_not_carry_are_left_alone(org):
    boss = member("bea", org["perception"])
    person = member("abe", org["perception"], manager=boss)
    result = sync(read_records(f"external_id,active\n{person.external_id},true\n", "csv"))
    assert result.unchanged == [person.external_id]
    person.refresh_from_db()
    assert (person.manager, person.display_name, person.primary_unit) == (boss, "Abe", org["perception"])


def test_values_too_long_to_store_are_row_errors_and_the_rest_applies(org):
    olivia = member("olivia2", org["perception"])
    result = sync([
        record(olivia, name="N" * 201),
        {"external_id": "X" * 129, "name": "Long Id"},
        {"external_id": "HR-L", "name": "Long Mail", "email": f"{'m' * 64}@{'d' * 63}.{'e' * 63}.{'f' * 63}.com"},
        {"external_id": "HR-OK", "name": "Fine Person"},
    ])
    assert {(error.row, error.field) for error in result.errors} == {(1, "name"), (2, "external_id"), (3, "email")}
    assert result.joiners == ["HR-OK"]
    olivia.refresh_from_db()
    assert olivia.display_name == "Olivia2"


def test_an_hr_status_column_departs_people_and_unread_columns_are_named(org, tmp_path, capsys):
    """An HR export saying "Status: terminated" departs the person; a column Kura does not read (a misspelt
    'actve', a job title) is named in the summary instead of silently doing nothing."""
    leaving, staying = member("lukas", org["perception"]), member("mara", org["perception"])
    export = tmp_path / "people.csv"
    export.write_text(
        "external_id,name,Status,actve,Job title\n"
        f"{leaving.external_id},{leaving.display_name},terminated,no,Engineer\n"
        f"{staying.external_id},{staying.display_name},Active,yes,Engineer\n",
        encoding="utf-8",
    )

    call_command("sync_directory", str(export))
    out = capsys.readouterr().out

    leaving.refresh_from_db()
    staying.refresh_from_db()
    assert (leaving.status, staying.status) == (Person.Status.DEPARTED, Person.Status.ACTIVE)
    assert "ignored columns" in out and "actve, job_title" in out
    result = sync([{"external_id": staying.external_id, "Status": "active", "title": "Engineer"}], dry_run=True)
    assert result.ignored_fields == ["title"] and result.as_dict()["ignored_fields"] == ["title"]
