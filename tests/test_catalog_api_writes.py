import json

import pytest

from catalog.models import Dataset, DatasetVersion
from tests.factories import bearer, make_dataset, manifest

pytestmark = pytest.mark.django_db


def test_ci_registers_a_dataset_and_publishes_a_version(api, owner, unit):
    api.credentials(HTTP_AUTHORIZATION=bearer(owner, scope="read_write"))
    created = api.post(
        "/api/v1/datasets/",
        {"slug": "new-set", "name": "New set", "purpose": "Evaluate the sign detector at night.",
         "owning_unit": str(unit.pk), "tags": ["vision"], "locations": [{"uri": "s3://kura-data/new/"}]},
        format="json",
    )
    assert created.status_code == 201, created.content
    assert created.json()["owner"]["username"] == "olivia"

    version = api.post("/api/v1/datasets/new-set/versions/", {"label": "v1", "files": manifest(4)}, format="json")
    assert version.status_code == 201, version.content
    assert version.json()["file_count"] == 4

    latest = api.get("/api/v1/datasets/new-set/versions/latest/")
    assert latest.json()["digest"] == version.json()["digest"]


def test_invalid_writes_answer_400_with_field_details(api, owner, unit):
    api.credentials(HTTP_AUTHORIZATION=bearer(owner, scope="read_write"))
    response = api.post(
        "/api/v1/datasets/",
        {"slug": "Bad Slug", "name": "x", "purpose": "Evaluate the sign detector at night.",
         "owning_unit": str(unit.pk), "locations": [{"uri": "ftp://nope"}]},
        format="json",
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert "slug" in error["details"]
    assert not Dataset.objects.exists()


def _register_with_repository(api, owner, unit, url):
    api.credentials(HTTP_AUTHORIZATION=bearer(owner, scope="read_write"))
    body = {"slug": "signs", "name": "Signs", "purpose": "Evaluate the sign detector at night.",
            "owning_unit": str(unit.pk), "training_repo_url": url}
    return api.post("/api/v1/datasets/", body, format="json")


@pytest.mark.parametrize("url", ["javascript:alert(1)", "data:text/html,hi", "not a url", "https:// spaced"])
def test_a_training_repository_is_a_git_url_or_nothing_is_written(api, owner, unit, url):
    response = _register_with_repository(api, owner, unit, url)
    assert response.status_code == 400
    assert "training_repo_url" in response.json()["error"]["details"]
    assert not Dataset.objects.exists()


@pytest.mark.parametrize(
    "url",
    ["https://git.example.com/ml/signs.git", "git@git.example.com:ml/signs.git", "ssh://git@host:2222/signs.git",
     "git.example.com:ml/signs.git", "/srv/git/signs.git", "file:///srv/git/signs.git"],
)
def test_every_url_git_clones_from_is_accepted(api, owner, unit, url):
    response = _register_with_repository(api, owner, unit, url)
    assert response.status_code == 201, response.json()
    assert Dataset.objects.get().training_repo_url == url


def test_bad_manifest_over_api_is_400_and_writes_nothing(api, owner):
    make_dataset(owner, slug="street-signs")
    api.credentials(HTTP_AUTHORIZATION=bearer(owner, scope="read_write"))
    files = [*manifest(2), {"path": "../escape", "size": 1, "hash": "a" * 64}]
    response = api.post("/api/v1/datasets/street-signs/versions/", {"label": "v1", "files": files}, format="json")
    assert response.status_code == 400
    assert "files[2]" in json.dumps(response.json())
    assert not DatasetVersion.objects.exists()


def test_malformed_json_is_a_parse_error(api, owner):
    make_dataset(owner, slug="street-signs")
    api.credentials(HTTP_AUTHORIZATION=bearer(owner, scope="read_write"))
    response = api.generic("POST", "/api/v1/datasets/street-signs/versions/", "{not json", "application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"


def test_oversized_body_is_413(api, owner, settings):
    settings.KURA_API_MAX_BODY_BYTES = 1000
    make_dataset(owner, slug="street-signs")
    api.credentials(HTTP_AUTHORIZATION=bearer(owner, scope="read_write"))
    payload = {"label": "v1", "files": manifest(50)}
    response = api.post("/api/v1/datasets/street-signs/versions/", payload, format="json")
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_only_owner_or_staff_can_change_a_dataset(api, owner, colleague):
    make_dataset(owner, slug="street-signs")
    api.credentials(HTTP_AUTHORIZATION=bearer(colleague, scope="read_write"))
    response = api.patch("/api/v1/datasets/street-signs/", {"name": "Mine now"}, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    api.credentials(HTTP_AUTHORIZATION=bearer(owner, scope="read_write"))
    renamed = api.patch("/api/v1/datasets/street-signs/", {"slug": "signs"}, format="json")
    assert renamed.status_code == 200
    assert renamed.json()["aliases"] == ["street-signs"]


def test_unknown_api_path_is_json_404(api, owner):
    api.credentials(HTTP_AUTHORIZATION=bearer(owner))
    response = api.get("/api/v1/nothing-here/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
