"""Checks every request passes before any view: a NUL character never reaches the database."""

import pytest
from rest_framework.test import APIClient

from tests.factories import bearer, make_dataset, make_person, make_version

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/datasets/a%00b/versions/latest/",
        "/api/v1/datasets/street-signs/versions/v%001/",
        "/api/v1/datasets/a%00b/versions/latest/?allow_archived=0",
        "/api/v1/datasets/a%00b/",
        "/api/v1/datasets/?owner=a%00b",
        "/api/v1/datasets/street-signs/versions/v1/manifest/?x=%00",
    ],
)
def test_nul_in_an_api_path_or_query_is_a_400_with_a_code(owner, path):
    make_version(make_dataset(owner, slug="street-signs"), "v1")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=bearer(owner))

    response = api.get(path)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_characters"


def test_nul_in_a_page_path_is_a_400(owner, client):
    client.force_login(owner.user)

    response = client.get("/datasets/a%00b/")

    assert response.status_code == 400
    assert "NUL" in response.content.decode()


def test_ordinary_requests_pass(owner, client):
    make_dataset(owner, slug="street-signs")
    client.force_login(owner.user)

    assert client.get("/datasets/street-signs/").status_code == 200
    assert client.get("/?search=street%20signs").status_code == 200


@pytest.mark.parametrize(
    "path", ["/api/v1/storage/connections/%0AH/", "/api/v1/no-such-thing%0A/x", "/api/%0A", "/api/v1/datasets/a%0Ab/"]
)
def test_an_api_address_with_a_newline_answers_json(owner, path):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=bearer(owner))

    response = api.get(path)

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    "body",
    [
        '{"purpose": "Lone surrogate \\udb3c here."}',
        '{"purpose": "A NUL \\u0000 here."}',
        '{"locations": [{"uri": "s3://bucket/\\udf20/", "role": "raw"}]}',
        '{"tags": ["ok", "bad\\u0000"]}',
        '{"\\ud800": "a key"}',
    ],
)
def test_json_text_postgresql_cannot_store_is_a_400(owner, body):
    make_dataset(owner, slug="street-signs")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=bearer(owner, scope="read_write"))

    response = api.generic("PATCH", "/api/v1/datasets/street-signs/", body, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"
    assert "NUL character or an unpaired surrogate" in response.json()["error"]["message"]


def _event_with_facet(facet: str) -> str:
    return (
        '{"eventType": "START", "eventTime": "2026-11-01T10:00:00Z", "producer": "https://example.com/ci", '
        '"run": {"runId": "0f6f1c5e-8f1e-4c1e-9a53-6f4b3f1f2a10", "facets": {"deep": ' + facet + '}}, '
        '"job": {"namespace": "ci", "name": "train"}}'
    )


@pytest.mark.parametrize("depth", [101, 5000, 100_000])
def test_json_nested_too_deep_is_a_400_not_a_500_the_client_retries(owner, depth):
    """The OpenLineage client retries a 5xx: a body that exhausts the parser's (or a later walker's) recursion must
    be refused as the sender's error. Events have facets of free shape, so the lineage intake is the exposed door."""
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=bearer(owner, scope="read_write"))
    event = _event_with_facet("[" * depth + "]" * depth)

    response = api.post("/api/v1/lineage", event, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"
    assert "nested more than 100 levels" in response.json()["error"]["message"]


def test_json_nested_as_deep_as_allowed_is_accepted(owner):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=bearer(owner, scope="read_write"))
    nested = "[" * 97 + "]" * 97  # 100 levels with the event, run and facets objects around it
    event = _event_with_facet(nested)

    assert api.post("/api/v1/lineage", event, content_type="application/json").status_code == 201


def test_escaped_but_storable_text_is_accepted(owner):
    make_dataset(owner, slug="street-signs")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=bearer(owner, scope="read_write"))
    body = '{"purpose": "Caf\\u00e9 signs \\ud83d\\ude97 for the detector."}'  # an escaped pair is one character

    response = api.generic("PATCH", "/api/v1/datasets/street-signs/", body, content_type="application/json")

    assert response.status_code == 200, response.json()
    assert response.json()["purpose"] == "Café signs \U0001f697 for the detector."


def test_directory_sync_refuses_unstorable_text(owner):
    staff = make_person("root", staff=True)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=bearer(staff, scope="read_write"))
    body = '[{"external_id": "x\\udb6d", "department": "a\\u0000n", "email": "a@b.example", "name": "n"}]'

    response = api.generic("POST", "/api/v1/directory/sync", body, content_type="application/json")

    assert response.status_code == 400


@pytest.mark.parametrize(
    "body",
    [
        b"external_id,name,email,department\nx\x00,n,a@b.example,d\n",
        b"external_id,name,email,department\nx,n\x00,a@b.example,d\n",
    ],
)
def test_directory_sync_refuses_a_csv_with_a_nul(body):
    staff = make_person("root", staff=True)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=bearer(staff, scope="read_write"))

    response = api.generic("POST", "/api/v1/directory/sync", body, content_type="text/csv")

    assert response.status_code == 400
    assert "NUL character" in response.content.decode()


@pytest.mark.parametrize(
    ("locations", "expected"),
    [
        ([{"uri": "s3://kura-test/signs/"}], 200),  # the role's default applies on PATCH too
        ([{"role": "raw"}], 400),  # no uri
        ([{"uri": "s3://kura-test/signs/", "role": "attic"}], 400),
    ],
)
def test_patched_locations_are_checked_in_full(owner, locations, expected):
    make_dataset(owner, slug="street-signs")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=bearer(owner, scope="read_write"))

    response = api.patch("/api/v1/datasets/street-signs/", {"locations": locations}, format="json")

    assert response.status_code == expected, response.json()
    if expected == 200:
        assert response.json()["locations"][0]["role"] == "primary"
    else:
        assert "locations" in response.json()["error"]["details"]
