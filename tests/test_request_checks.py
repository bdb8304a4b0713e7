"""Checks every request passes before any view: a NUL character never reaches the database."""

import pytest
from rest_framework.test import APIClient

from tests.factories import bearer, make_dataset, make_version

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
