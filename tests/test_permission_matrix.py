"""Who sees what: every dataset-showing endpoint and page, for every kind of caller."""

import csv
import io
from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser, Group
from django.db import connection
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from access.grants import grant_revoke
from access.leavers import person_depart, person_move
from access.models import Grant, Level, Membership
from access.org import membership_start
from access.principals import UnitPrincipal
from access.services import token_create
from catalog.models import Dataset
from tests.factories import bearer, grant, make_dataset, make_person, make_unit, make_version

pytestmark = pytest.mark.django_db

ROLES = ["no_grant", "expired_grant", "revoked_grant", "unit_grant", "mover", "departed", "owner", "steward", "staff"]
# role -> (sees restricted metadata, reads restricted data, may change it)
EXPECTED = {
    "no_grant": (False, False, False),
    "expired_grant": (False, False, False),
    "revoked_grant": (False, False, False),
    "unit_grant": (True, True, False),
    "mover": (False, False, False),
    "departed": None,  # cannot authenticate at all
    "owner": (True, True, True),
    "steward": (True, True, True),
    "staff": (True, True, True),
}


@pytest.fixture
def world():
    home = make_unit("Perception")
    partner = make_unit("Speech")
    owner = make_person("owner", unit=home)
    restricted = make_dataset(owner, slug="restricted-set", name="Restricted set", visibility="restricted",
                              purpose="Faces for the privacy-filter model, restricted.")
    internal = make_dataset(owner, slug="internal-set", name="Internal set",
                            purpose="Street signs for the detector, open to all.")
    for dataset in (restricted, internal):
        make_version(dataset, "v1")
    people = {"owner": owner}
    people["no_grant"] = make_person("nogrant", unit=partner)
    people["expired_grant"] = make_person("expired", unit=partner)
    g = grant(restricted, people["expired_grant"], Level.READ, expires_at=timezone.now() + timedelta(hours=1))
    Grant.objects.filter(pk=g.pk).update(expires_at=timezone.now() - timedelta(minutes=5))
    people["revoked_grant"] = make_person("revoked", unit=partner)
    grant_revoke(grant=grant(restricted, people["revoked_grant"], Level.READ), actor=owner, reason="done")
    people["unit_grant"] = make_person("unitmember", unit=partner)
    membership_start(person=people["unit_grant"], unit=partner)
    grant(restricted, partner, Level.READ)
    people["mover"] = make_person("mover", unit=partner)
    membership_start(person=people["mover"], unit=partner)
    person_move(person=people["mover"], new_unit=make_unit("Sales"), actor=None, grace_days=0)
    people["departed"] = make_person("departed", unit=home)
    grant(restricted, people["departed"], Level.READ)
    people["steward"] = make_person("steward", unit=home)
    membership_start(person=people["steward"], unit=home, role=Membership.Role.STEWARD)
    people["staff"] = make_person("staffer", unit=home, staff=True)
    tokens = {role: bearer(person, scope="read_write") for role, person in people.items()}
    person_depart(person=people["departed"], actor=None)
    return {"people": people, "tokens": tokens, "restricted": restricted, "internal": internal}


def _api(world, role):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=world["tokens"][role])
    return client


@pytest.mark.parametrize("role", ROLES)
def test_api_matrix(world, role):
    api = _api(world, role)
    expected = EXPECTED[role]
    r = "/api/v1/datasets/restricted-set"
    if expected is None:
        for url in ["/api/v1/datasets/", f"{r}/", "/api/v1/datasets/internal-set/",
                    "/api/v1/datasets/internal-set/versions/latest/"]:
            response = api.get(url)
            assert response.status_code == 401, url
            assert response.json()["error"]["code"] == "token_owner_inactive"
        return
    sees, reads, changes = expected
    listing = api.get("/api/v1/datasets/").json()
    slugs = {item["slug"] for item in listing["results"]}
    assert ("restricted-set" in slugs) is sees
    assert "internal-set" in slugs
    assert listing["count"] == (2 if sees else 1)
    searched = api.get("/api/v1/datasets/?search=restricted").json()
    assert searched["count"] == (1 if sees else 0)
    not_found = api.get("/api/v1/datasets/never-existed/")
    for url in [f"{r}/", f"{r}/versions/", f"{r}/versions/v1/", f"{r}/versions/latest/manifest/"]:
        response = api.get(url)
        if not sees:
            assert response.status_code == 404, url
            assert response.json() == not_found.json()
        elif url.endswith("manifest/"):
            assert response.status_code == (200 if reads else 403), url
        else:
            assert response.status_code == 200, url
    if sees:
        locations = api.get(f"{r}/versions/v1/").json()["locations"]
        assert (locations is not None) is reads
    # The lookup's plain path (no query string) and its full path (any query string) answer alike.
    for url in [f"{r}/versions/v1/", f"{r}/versions/latest/", "/api/v1/datasets/internal-set/versions/latest/"]:
        plain, full = api.get(url), api.get(url + "?allow_archived=0")
        assert (plain.status_code, plain.content) == (full.status_code, full.content), url
    internal = api.get("/api/v1/datasets/internal-set/versions/v1/").json()
    assert internal["dataset"] == "internal-set"
    patch = api.patch(f"{r}/", {"name": "Renamed"}, format="json")
    assert patch.status_code == (200 if changes else 403 if sees else 404)
    grants = api.get(f"{r}/grants/")
    assert grants.status_code == (200 if changes else 403 if sees else 404)
    audit = api.get("/api/v1/audit/?target=" + str(world["restricted"].pk))
    if role in {"steward", "staff"}:
        assert audit.status_code == 200 and audit.json()["count"] > 0
    else:
        assert audit.status_code == 403


def test_a_suspended_or_future_grant_gives_nothing(world):
    # restrict()'s SQL restates Grant.objects.active(); these are the two tests the matrix roles do not reach.
    restricted = world["restricted"]
    person = make_person("suspended", unit=make_unit("Legal"))
    suspended = grant(restricted, person, Level.READ)
    Grant.objects.filter(pk=suspended.pk).update(suspended_at=timezone.now())
    later = make_person("later", unit=make_unit("Finance"))
    future = grant(restricted, later, Level.READ)
    Grant.objects.filter(pk=future.pk).update(starts_at=timezone.now() + timedelta(days=1))
    for user in (person.user, later.user):
        for action in ("view", "read"):
            assert not Dataset.objects.restrict(user, action).filter(pk=restricted.pk).exists()
    Grant.objects.filter(pk=suspended.pk).update(suspended_at=None)
    assert Dataset.objects.restrict(person.user, "read").filter(pk=restricted.pk).exists()


def test_who_may_reassign_a_departed_owners_dataset(world, settings):
    # Left behind's reassignment is stewardship work: governance any dataset, a steward or head what they may
    # change; someone who may change a dataset without stewarding a unit (its owner, a manage grantee) may not.
    people, restricted = world["people"], world["restricted"]
    governor = make_person("governor", unit=make_unit("Board"))
    governor.user.groups.add(Group.objects.get_or_create(name=settings.KURA_GOVERNANCE_GROUP)[0])
    manager = make_person("manager", unit=make_unit("Legal"))
    grant(restricted, manager, Level.MANAGE)
    elsewhere = make_person("elsewhere", unit=make_unit("Finance"))
    membership_start(person=elsewhere, unit=elsewhere.primary_unit, role=Membership.Role.HEAD)
    grant(restricted, elsewhere, Level.MANAGE)
    unit = Grant.objects.get(grantee_unit__isnull=False).grantee_unit
    unit_token = UnitPrincipal(unit, token_create(name="unit", owner_unit=unit).token)

    def reassignable(user):
        return set(Dataset.objects.restrict(user, "reassign").values_list("slug", flat=True))

    everything = {"restricted-set", "internal-set"}
    for user in (people["steward"].user, people["staff"].user, governor.user):
        assert reassignable(user) == everything, user
    assert reassignable(elsewhere.user) == {"restricted-set"}
    for user in (people["owner"].user, manager.user, people["unit_grant"].user, unit_token, AnonymousUser()):
        assert reassignable(user) == set(), user


@pytest.mark.parametrize("role", [role for role in ROLES if EXPECTED[role] is not None])
def test_counts_agree_with_the_rows(world, role):
    # A view restriction is counted in two halves (internal, the rest); the sum must be the rows listed.
    user = world["people"][role].user
    make_dataset(world["people"]["owner"], slug="draft-restricted", visibility="restricted", status="draft")
    for queryset in (
        Dataset.objects.restrict(user),
        Dataset.objects.restrict(user).filter(status="active"),
        Dataset.objects.restrict(user).values_list("pk", flat=True),
        Dataset.objects.restrict(user, "read"),
        Dataset.objects.filter(name__startswith="Restricted").restrict(user),
    ):
        assert queryset.count() == len(list(queryset))


@pytest.mark.parametrize("role", ROLES)
def test_page_matrix(world, role):
    client = Client()
    person = world["people"][role]
    client.force_login(person.user)
    expected = EXPECTED[role]
    listing = client.get("/")
    if expected is None:
        assert listing.status_code == 302 and "/accounts/login/" in listing["Location"]
        return
    sees, reads, changes = expected
    assert ("Restricted set" in listing.content.decode()) is sees
    assert ("Restricted set" in client.get("/?search=restricted").content.decode()) is sees
    detail = client.get("/datasets/restricted-set/")
    assert detail.status_code == (200 if sees else 404)
    if sees:
        assert ("s3://kura-test/" in detail.content.decode()) is reads
    version = client.get("/datasets/restricted-set/versions/v1/")
    assert version.status_code == (200 if sees else 404)
    edit = client.get("/datasets/restricted-set/edit/")
    assert edit.status_code == (200 if changes else 403 if sees else 404)
    grants = client.get("/datasets/restricted-set/grants/")
    assert grants.status_code == (200 if changes else 403 if sees else 404)
    asking = client.post("/datasets/restricted-set/request-access/", {"level": "2", "purpose": "x" * 30,
                                                                      "duration_days": "3"})
    assert asking.status_code != 404 if sees else asking.status_code == 404
    audit = client.get(f"/access/audit/?target={world['restricted'].pk}")
    assert audit.status_code == (200 if role in {"steward", "staff"} else 403)

    export = client.get("/datasets.csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode())))
    by_slug = {row["slug"]: row for row in rows}
    assert ("restricted-set" in by_slug) is sees
    # Internal means visible metadata, not readable data: locations still need a read grant or a role.
    assert bool(by_slug["internal-set"]["storage_locations"]) is changes
    if sees:
        assert bool(by_slug["restricted-set"]["storage_locations"]) is reads


def test_anonymous_gets_nothing(world):
    api = APIClient()
    for url in ["/api/v1/datasets/", "/api/v1/datasets/internal-set/", "/api/v1/audit/"]:
        assert api.get(url).status_code == 401
    assert Client().get("/datasets/internal-set/").status_code == 302


def test_read_only_token_cannot_write_anywhere(world):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=bearer(world["people"]["owner"], scope="read"))
    for method, url, body in [
        ("patch", "/api/v1/datasets/restricted-set/", {"name": "x"}),
        ("post", "/api/v1/datasets/restricted-set/versions/", {"label": "v2", "files": []}),
        ("post", "/api/v1/datasets/restricted-set/grants/", {"level": "read", "justification": "x"}),
        ("post", "/api/v1/access-requests/", {"dataset": "internal-set", "level": "read", "purpose": "x" * 20,
                                              "duration_days": 3}),
    ]:
        response = getattr(api, method)(url, body, format="json")
        assert response.status_code == 403, url
        assert response.json()["error"]["code"] == "token_read_only"


@pytest.mark.parametrize("action", ["view", "read", "change", "reassign"])
def test_restrict_as_sql_selects_what_restrict_selects(world, action):
    """Hot statements written out by hand embed restrict's condition as SQL: same datasets for every caller."""
    unit = Grant.objects.get(grantee_unit__isnull=False).grantee_unit
    unit_token = token_create(name="unit", owner_unit=unit).token
    callers = [person.user for person in world["people"].values()]
    callers += [AnonymousUser(), UnitPrincipal(unit, unit_token), make_person("bystander", unit=unit).user]
    for user in callers:
        condition, params = Dataset.objects.restrict_sql(user, action, table="d")
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT d.slug FROM {Dataset._meta.db_table} d WHERE {condition}", params)  # noqa: S608
            by_sql = {slug for (slug,) in cursor.fetchall()}
        assert by_sql == set(Dataset.objects.restrict(user, action).values_list("slug", flat=True)), user
