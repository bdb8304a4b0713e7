"""The CI lookup's plain path (``catalog.api.plain_lookup``) answers exactly as the full DRF path does.

A query string sends a request down the full path, so ``?allow_archived=0`` (which changes nothing for a
dataset that is not archived) gives the reference answer for the same caller.
"""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from access.models import ApiToken, Level
from access.org import membership_start
from catalog.models import StorageLocation
from catalog.services import LocationSpec, dataset_update
from catalog.validators import SLUG_PATTERN, VERSION_LABEL_PATTERN
from tests.factories import bearer, grant, make_dataset, make_person, make_unit, make_version

pytestmark = pytest.mark.django_db

FULL_PATH = "?allow_archived=0"


def _client(authorization: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=authorization)
    return client


def _plain_and_full(client: APIClient, url: str) -> tuple[object, object, int]:
    client.get(url)  # the token's first use also stamps last_used_at
    with CaptureQueriesContext(connection) as captured:
        plain = client.get(url)
    statements = len(captured)  # read now: the next request clears the connection's query log
    full = client.get(url + FULL_PATH)
    return plain, full, statements


@pytest.fixture
def catalog(owner):
    readable = make_dataset(
        owner,
        slug="street-signs",
        locations=[
            LocationSpec(uri="s3://kura-test/signs/raw/", role="raw", note="as captured"),
            LocationSpec(uri="s3://kura-test/signs/", role="primary"),
            LocationSpec(uri="gs://kura-mirror/signs/", role="mirror"),
        ],
    )
    make_version(readable, "v1", notes="first cut")
    make_version(readable, "v2", files=5, git_commit="a" * 40, guideline_revision=None)
    make_version(readable, "v3-draft", publish=False)
    StorageLocation.objects.filter(dataset=readable, role="primary").update(
        last_verified_at=timezone.now(), last_verification_ok=True
    )
    bare = make_dataset(owner, slug="no-locations", locations=[])
    make_version(bare, "v1")
    hidden = make_dataset(owner, slug="restricted-faces", visibility="restricted")
    make_version(hidden, "v1")
    return {"readable": readable, "bare": bare, "hidden": hidden}


@pytest.mark.parametrize(
    ("slug", "label"),
    [("street-signs", "latest"), ("street-signs", "v1"), ("street-signs", "v2"), ("no-locations", "latest")],
)
def test_plain_answer_equals_the_full_answer_for_a_reader(catalog, owner, colleague, slug, label):
    grant(catalog["readable"], colleague, Level.READ)
    grant(catalog["bare"], colleague, Level.READ)
    url = f"/api/v1/datasets/{slug}/versions/{label}/"

    plain, full, statements = _plain_and_full(_client(bearer(colleague)), url)

    assert plain.status_code == full.status_code == 200
    assert plain.content == full.content
    assert plain["Content-Type"] == full["Content-Type"] == "application/json"
    assert dict(plain.headers) == dict(full.headers)
    assert statements == 2  # the token, then dataset + permissions + version + locations in one statement


def test_locations_come_in_role_then_uri_order_with_their_verification(catalog, colleague):
    grant(catalog["readable"], colleague, Level.READ)

    body = _client(bearer(colleague)).get("/api/v1/datasets/street-signs/versions/latest/").json()

    assert [(item["role"], item["uri"]) for item in body["locations"]] == [
        ("mirror", "gs://kura-mirror/signs/"),
        ("primary", "s3://kura-test/signs/"),
        ("raw", "s3://kura-test/signs/raw/"),
    ]
    assert body["locations"][1]["last_verification_ok"] is True
    assert body["locations"][1]["last_verified_at"].endswith("Z")
    assert body["locations"][2]["note"] == "as captured"
    assert body["label"] == "v2" and body["git_commit"] == "a" * 40
    assert body["manifest_url"] == "/api/v1/datasets/street-signs/versions/v2/manifest/"


def test_metadata_only_caller_gets_null_locations_on_both_paths(catalog, colleague):
    plain, full, statements = _plain_and_full(
        _client(bearer(colleague)), "/api/v1/datasets/street-signs/versions/latest/"
    )

    assert plain.content == full.content
    assert plain.json()["locations"] is None
    assert statements == 2


def test_empty_location_list_is_an_empty_list_for_a_reader(catalog, owner):
    body = _client(bearer(owner)).get("/api/v1/datasets/no-locations/versions/latest/").json()

    assert body["locations"] == []


def test_unit_token_and_unit_grant(catalog):
    partner = make_unit("Speech")
    grant(catalog["hidden"], partner, Level.READ)
    member = make_person("una", unit=partner)
    membership_start(person=member, unit=partner)

    for authorization in (bearer(unit=partner), bearer(member)):
        plain, full, statements = _plain_and_full(
            _client(authorization), "/api/v1/datasets/restricted-faces/versions/v1/"
        )
        assert plain.status_code == 200 and plain.content == full.content
        assert plain.json()["locations"] is not None
        assert statements == 2


def test_expired_grant_hides_a_restricted_dataset_like_a_missing_one(catalog, colleague):
    expiring = grant(catalog["hidden"], colleague, Level.READ, expires_at=timezone.now() + timedelta(hours=1))
    client = _client(bearer(colleague))
    assert client.get("/api/v1/datasets/restricted-faces/versions/latest/").status_code == 200
    type(expiring).objects.filter(pk=expiring.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    hidden = client.get("/api/v1/datasets/restricted-faces/versions/latest/")
    missing = client.get("/api/v1/datasets/never-existed/versions/latest/")

    assert hidden.status_code == missing.status_code == 404
    assert hidden.json() == missing.json()


@pytest.mark.parametrize(
    ("url", "status", "code"),
    [
        ("/api/v1/datasets/street-signs/versions/v9/", 404, "version_not_found"),
        ("/api/v1/datasets/street-signs/versions/v3-draft/", 404, "version_not_found"),
        ("/api/v1/datasets/never-existed/versions/latest/", 404, "not_found"),
    ],
)
def test_misses_are_answered_by_the_full_path(catalog, colleague, url, status, code):
    response = _client(bearer(colleague)).get(url)

    assert response.status_code == status
    assert response.json()["error"]["code"] == code


def test_owner_sees_a_draft_version_through_the_full_path(catalog, owner):
    response = _client(bearer(owner)).get("/api/v1/datasets/street-signs/versions/v3-draft/")

    assert response.status_code == 200
    assert response.json()["status"] == "draft" and response.json()["published_at"] is None


def test_former_slug_still_resolves(catalog, owner, colleague):
    dataset_update(dataset=catalog["readable"], actor=owner, slug="traffic-signs")

    response = _client(bearer(colleague)).get("/api/v1/datasets/street-signs/versions/latest/")

    assert response.status_code == 200
    assert response.json()["dataset"] == "traffic-signs"


def test_deprecated_dataset_answers_alike_with_headers_and_warnings(catalog, owner, colleague):
    successor = make_dataset(owner, slug="street-signs-v2")
    dataset_update(
        dataset=catalog["readable"],
        actor=owner,
        status="deprecated",
        deprecation_note="Relabelled.",
        superseded_by=successor,
        sunset_at=timezone.now() + timedelta(days=30),
    )

    plain, full, statements = _plain_and_full(
        _client(bearer(colleague)), "/api/v1/datasets/street-signs/versions/latest/"
    )

    assert plain.status_code == full.status_code == 200
    assert plain.content == full.content
    for header in ("Deprecation", "Sunset", "Link"):
        assert plain[header] == full[header], header
    warnings = " ".join(plain.json()["warnings"])
    assert "Relabelled." in warnings and "street-signs-v2" in warnings
    assert statements <= 3  # the token, the lookup, and the lineage question behind the retirement warning


def test_archived_dataset_is_still_gone(catalog, owner, colleague):
    dataset_update(dataset=catalog["readable"], actor=owner, status="archived")

    response = _client(bearer(colleague)).get("/api/v1/datasets/street-signs/versions/latest/")

    assert response.status_code == 410
    assert response.json()["error"]["code"] == "dataset_archived"


@pytest.mark.parametrize(
    ("authorization", "code"),
    [
        ("Bearer kura_0123456789ab_" + "x" * 40, "token_invalid"),
        ("Bearer not-a-kura-token", "token_malformed"),
        ("Bearer two parts", "token_malformed"),
    ],
)
def test_bad_tokens_get_the_full_paths_401(catalog, authorization, code):
    response = _client(authorization).get("/api/v1/datasets/street-signs/versions/latest/")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == code


def test_expired_token_is_refused(catalog, colleague):
    authorization = bearer(colleague)
    client = _client(authorization)
    prefix = authorization.split("_")[1]
    ApiToken.objects.filter(prefix=prefix).update(expires_at=timezone.now() - timedelta(seconds=1))

    response = client.get("/api/v1/datasets/street-signs/versions/latest/")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_expired"


def test_other_media_types_and_methods_go_to_drf(catalog, colleague):
    client = _client(bearer(colleague, scope="read_write"))

    html = client.get("/api/v1/datasets/street-signs/versions/latest/", HTTP_ACCEPT="text/html")
    head = client.head("/api/v1/datasets/street-signs/versions/latest/")
    post = client.post("/api/v1/datasets/street-signs/versions/latest/", {}, format="json")

    assert html.status_code == 406
    assert head.status_code == 200
    assert post.status_code == 405


def test_session_users_are_answered_too(catalog, colleague, client):
    client.force_login(colleague.user)

    response = client.get("/api/v1/datasets/street-signs/versions/latest/")

    assert response.status_code == 200
    assert response.json()["label"] == "v2"


def test_the_openapi_schema_declares_exactly_the_fields_the_answer_has(catalog, owner, client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()["components"]["schemas"]
    body = _client(bearer(owner)).get("/api/v1/datasets/street-signs/versions/latest/").json()

    assert set(schema["Version"]["properties"]) == set(body)
    assert set(schema["Location"]["properties"]) == set(body["locations"][0])


def test_the_openapi_schema_gives_slug_and_label_their_formats(client):
    paths = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()["paths"]
    lookup = paths["/api/v1/datasets/{slug}/versions/{label}/"]["get"]["parameters"]
    by_name = {parameter["name"]: parameter for parameter in lookup if parameter["in"] == "path"}

    assert by_name["slug"]["schema"]["pattern"] == SLUG_PATTERN.pattern
    assert by_name["label"]["schema"]["pattern"] == VERSION_LABEL_PATTERN.pattern
    assert re.fullmatch(by_name["label"]["schema"]["pattern"].strip("^$"), "latest")
    assert "former" in by_name["slug"]["description"]
