import re

import pytest
from django.core.exceptions import ImproperlyConfigured

from access.models import ApiToken, AuditEvent, Membership, OrgUnit
from access.org import membership_start
from catalog.models import Dataset
from kura.env import database_from_url, env_bool
from tests.factories import make_dataset, make_person

pytestmark = pytest.mark.django_db


def test_admin_issues_a_token_and_shows_it_once(client, api, owner, unit):
    staff = make_person("root", unit=unit, staff=True)
    staff.user.is_superuser = True
    staff.user.save()
    client.force_login(staff.user)

    response = client.post(
        "/admin/access/apitoken/add/",
        {"name": "nightly eval", "scope": "read", "owner_unit": str(unit.pk), "expires_in_days": "30"},
        follow=True,
    )

    assert response.status_code == 200
    shown = [str(message) for message in response.context["messages"]]
    plaintext = re.search(r"(kura_[0-9a-f]{12}_\S+)", " ".join(shown)).group(1)
    token = ApiToken.objects.get(name="nightly eval")
    assert token.owner_unit == unit and token.created_by == staff
    assert plaintext not in client.get(f"/admin/access/apitoken/{token.pk}/change/").content.decode()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    assert api.get("/api/v1/whoami/").json()["kind"] == "unit"


def test_admin_token_form_requires_exactly_one_owner(client, owner, unit):
    staff = make_person("root", unit=unit, staff=True)
    staff.user.is_superuser = True
    staff.user.save()
    client.force_login(staff.user)
    response = client.post(
        "/admin/access/apitoken/add/",
        {"name": "x", "scope": "read", "owner_unit": str(unit.pk), "owner_person": str(owner.pk),
         "expires_in_days": "30"},
    )
    assert "Choose exactly one owner" in response.content.decode()
    assert not ApiToken.objects.exists()


def test_admin_dataset_change_goes_through_services(client, owner, unit):
    staff = make_person("root", unit=unit, staff=True)
    staff.user.is_superuser = True
    staff.user.save()
    dataset = make_dataset(owner, slug="admin-edited")
    client.force_login(staff.user)
    page = client.get(f"/admin/catalog/dataset/{dataset.pk}/change/")
    assert page.status_code == 200
    form = page.context["adminform"].form
    data = {key: value for key, value in form.initial.items() if value is not None}
    data.update({"slug": "admin-renamed", "tags": [], "stewards": []})
    for prefix in ("locations", "aliases", "versions"):
        data.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"})
    response = client.post(f"/admin/catalog/dataset/{dataset.pk}/change/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    dataset.refresh_from_db()
    assert dataset.slug == "admin-renamed"
    assert dataset.aliases.filter(slug="admin-edited").exists()


def test_admin_dataset_registration_goes_through_services_with_its_datasheet(client, owner, unit):
    staff = make_person("root", unit=unit, staff=True)
    staff.user.is_superuser = True
    staff.user.save()
    client.force_login(staff.user)
    data = {
        "slug": "admin-made", "name": "Admin made", "purpose": "Registered by an administrator for a team.",
        "owner": owner.pk, "owning_unit": unit.pk, "status": "active", "visibility": "internal",
        "classification": "internal", "known_biases": "Daylight only.", "licence": "CC0-1.0",
    }
    for prefix in ("locations", "aliases", "versions"):
        data.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"})

    response = client.post("/admin/catalog/dataset/add/", data)

    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    dataset = Dataset.objects.get(slug="admin-made")
    assert (dataset.known_biases, dataset.licence, dataset.created_by) == ("Daylight only.", "CC0-1.0", staff)


def test_health_endpoints(client):
    assert client.get("/livez").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ok"}


def test_environment_parsing(tmp_path, monkeypatch):
    monkeypatch.setenv("KURA_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured):
        env_bool("KURA_FLAG", False)
    postgres = database_from_url("postgres://u:p%40ss@db.example:6543/kura?sslmode=require", tmp_path)
    prepared = {"server_side_binding": True, "prepare_threshold": 5}
    assert (postgres["HOST"], postgres["PORT"], postgres["PASSWORD"], postgres["OPTIONS"]) == (
        "db.example", "6543", "p@ss", {"sslmode": "require", "options": "-c jit=off", **prepared},
    )
    tuned = database_from_url("postgres://u@db.example/kura?options=-c%20work_mem%3D64MB&prepare_threshold=2", tmp_path)
    assert tuned["OPTIONS"] == {"options": "-c work_mem=64MB", "server_side_binding": True, "prepare_threshold": 2}
    monkeypatch.setenv("KURA_DB_PREPARED_STATEMENTS", "false")  # behind a transaction-mode pooler
    pooled = database_from_url("postgres://u@db.example/kura", tmp_path)
    assert pooled["OPTIONS"] == {"options": "-c jit=off"}
    sqlite = database_from_url("sqlite:///var/x.sqlite3", tmp_path)
    assert sqlite["NAME"] == str(tmp_path / "var" / "x.sqlite3")
    with pytest.raises(ImproperlyConfigured):
        database_from_url("mysql://x/y", tmp_path)


@pytest.mark.parametrize("case", ["too many days", "departed person", "merged unit"])
def test_admin_token_form_refuses_what_the_service_refuses_as_a_form_error(client, owner, unit, settings, case):
    from access.leavers import person_depart
    from access.org import org_event_apply, plan_merge
    from tests.factories import make_unit

    staff = make_person("root", staff=True)
    staff.user.is_superuser = True
    staff.user.save()
    client.force_login(staff.user)
    form = {"name": "x", "scope": "read", "owner_unit": str(unit.pk), "expires_in_days": "30"}
    if case == "too many days":
        form["expires_in_days"] = str(settings.KURA_TOKEN_MAX_DAYS + 1)
    elif case == "departed person":
        person_depart(person=owner, actor=None)
        form = {**form, "owner_unit": "", "owner_person": str(owner.pk)}
    else:
        org_event_apply(plan=plan_merge(sources=[unit], successor=make_unit("Autonomy"), actor=None), actor=None)

    response = client.post("/admin/access/apitoken/add/", form)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    assert not ApiToken.objects.exists()


def _superuser(client):
    root = make_person("root", staff=True)
    root.user.is_superuser = True
    root.user.save()
    client.force_login(root.user)
    return root


def test_admin_cannot_rename_retire_or_regroup_a_unit_behind_the_org_events(client, unit):
    from django.contrib.auth.models import Group

    _superuser(client)
    other_group = Group.objects.create(name="admins")
    client.post(f"/admin/access/orgunit/{unit.pk}/change/", {
        "name": "Renamed", "status": "retired", "group": str(other_group.pk), "created_at_0": "2026-01-01",
        "created_at_1": "00:00:00",
    })
    unit.refresh_from_db()
    assert (unit.name, unit.status, unit.group_id) == ("Perception", "active", None)
    assert client.get(f"/admin/access/orgunit/{unit.pk}/delete/").status_code == 403
    client.post("/admin/access/orgunit/add/", {"name": "Autonomy", "status": "retired"})
    assert OrgUnit.objects.get(name="Autonomy").status == "active"


def test_admin_person_edit_keeps_identity_and_moves_through_the_mover_workflow(client, owner, unit):
    from django.contrib.auth import get_user_model

    from tests.factories import make_unit

    root = _superuser(client)
    spare = get_user_model().objects.create_user("spare")
    membership_start(person=owner, unit=unit, actor=None)
    radar = make_unit("Radar")
    response = client.post(f"/admin/access/person/{owner.pk}/change/", {
        "display_name": "Olivia Owner", "email": owner.email, "external_id": "SOMEONE-ELSE",
        "user": str(spare.pk), "primary_unit": str(radar.pk), "manager": "",
    })
    assert response.status_code == 302
    owner.refresh_from_db()
    assert owner.external_id != "SOMEONE-ELSE" and owner.user.username == "olivia"
    assert owner.primary_unit == radar
    assert Membership.objects.filter(person=owner, unit=radar, valid_to__isnull=True).exists()
    assert Membership.objects.get(person=owner, unit=unit).valid_to is not None  # ends after the grace period
    assert AuditEvent.objects.filter(action="person.moved", actor=root).exists()
    assert client.get(f"/admin/access/person/{owner.pk}/delete/").status_code == 403
