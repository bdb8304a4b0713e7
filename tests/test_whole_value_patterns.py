"""A value checked against a pattern is checked whole: "$" alone matched before a final newline, so "v1\\n"
passed as a version label and a manifest hash with a newline was stored as given."""

from collections.abc import Callable

import pytest
from django.core.exceptions import ValidationError

from access.services import TokenError, token_authenticate, token_create
from catalog.manifests import parse_manifest
from catalog.models import DatasetVersion
from catalog.services import dataset_version_create
from catalog.validators import (
    validate_dataset_slug,
    validate_git_commit,
    validate_git_repository_url,
    validate_version_label,
)
from storage.dvc.layout import is_md5, parse_object_key
from storage.models.repos import validate_repo_name
from tests.factories import bearer, make_dataset, manifest

pytestmark = pytest.mark.django_db

MD5 = "d41d8cd98f00b204e9800998ecf8427e"


@pytest.mark.parametrize(
    ("validate", "value"),
    [
        (validate_dataset_slug, "street-signs"),
        (validate_version_label, "v1"),
        (validate_git_commit, "a1b2c3d"),
        (validate_git_repository_url, "git@git.example.com:ml/signs.git"),
        (validate_git_repository_url, "https://git.example.com/ml/signs.git"),
        (validate_repo_name, "vision/detector"),
    ],
)
def test_a_final_newline_is_refused(validate: Callable[[str], None], value: str) -> None:
    validate(value)  # the value itself is fine
    with pytest.raises(ValidationError):
        validate(f"{value}\n")


def test_the_models_refuse_a_final_newline(owner):
    dataset = make_dataset(owner, slug="street-signs")
    dataset.slug = "street-signs\n"
    with pytest.raises(ValidationError) as refused:
        dataset.full_clean(exclude=["tags", "stewards"], validate_unique=False)
    assert "slug" in refused.value.message_dict
    version = DatasetVersion(dataset=dataset, label="v1\n", git_commit="a1b2c3d\n")
    with pytest.raises(ValidationError) as refused:
        version.full_clean(exclude=["dataset"], validate_unique=False)
    assert {"label", "git_commit"} <= set(refused.value.message_dict)


def test_a_version_with_a_newline_after_its_commit_is_refused(owner):
    dataset = make_dataset(owner, slug="street-signs")

    with pytest.raises(ValidationError) as refused:
        dataset_version_create(dataset=dataset, actor=owner, label="v1", files=manifest(2), git_commit="a1b2c3d4\n")

    assert "git_commit" in refused.value.message_dict
    assert not DatasetVersion.objects.exists()


def test_a_manifest_hash_with_a_newline_is_refused_through_the_api(api, owner):
    make_dataset(owner, slug="street-signs")
    api.credentials(HTTP_AUTHORIZATION=bearer(owner, scope="read_write"))
    files = [*manifest(1), {"path": "images/b.jpg", "size": 1, "hash": "a" * 64 + "\n"}]

    response = api.post("/api/v1/datasets/street-signs/versions/", {"label": "v1", "files": files}, format="json")

    assert response.status_code == 400
    assert "files[1]" in response.content.decode()
    assert not DatasetVersion.objects.exists()


def test_a_manifest_hash_with_a_newline_is_refused_by_the_parser():
    with pytest.raises(ValidationError):
        parse_manifest([{"path": "a.jpg", "size": 1, "hash": f"md5:{MD5}\n"}])


def test_a_token_with_a_final_newline_is_malformed(owner):
    issued = token_create(name="ci", scope="read", owner_person=owner, owner_unit=None)
    assert token_authenticate(plaintext=issued.plaintext).pk == issued.token.pk

    with pytest.raises(TokenError) as refused:
        token_authenticate(plaintext=f"{issued.plaintext}\n")

    assert refused.value.code == "token_malformed"


def test_dvc_object_names_are_matched_whole():
    assert is_md5(MD5) and not is_md5(f"{MD5}\n")
    assert parse_object_key(f"{MD5[:2]}/{MD5[2:]}") is not None
    assert parse_object_key(f"{MD5[:2]}/{MD5[2:]}\n") is None

