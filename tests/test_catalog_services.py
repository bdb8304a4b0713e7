import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from annotations.services import guideline_revise
from catalog.manifests import ManifestEntry, manifest_digest
from catalog.models import Dataset, DatasetVersion, ManifestFile, SlugAlias, StorageLocation
from catalog.search import search_datasets
from catalog.services import (
    LocationSpec,
    dataset_update,
    dataset_version_create,
    dataset_version_delete_draft,
    dataset_version_publish,
)
from catalog.uris import parse_storage_uri
from tests.factories import make_dataset, make_version, manifest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "uri",
    [
        "s3://kura-data/signs/eu/",
        "gs://bucket.with.dots/a b/ünïcode/",
        "az://lidar/sweeps/",
        "file:///mnt/nas/datasets/signs",
        "dvc://perception/signs#data/signs",
        "dvc://git.example.com/ml/repo.git#data/raw",
    ],
)
def test_valid_storage_uris(uri):
    assert str(parse_storage_uri(uri)) == uri


def test_bucket_root_is_normalised_with_a_slash():
    assert str(parse_storage_uri("S3://kura-data")) == "s3://kura-data/"


@pytest.mark.parametrize(
    ("uri", "fragment"),
    [
        ("http://example.com/data", "not a supported storage URI"),
        ("s3://UPPER/prefix", "not a valid s3 bucket"),
        ("s3://a/prefix", "not a valid s3 bucket"),
        ("file://relative/path", "absolute path"),
        ("file:///mnt/nas/../etc", "'..'"),
        ("dvc://repo", "dvc://<repository>#<path>"),
        ("dvc://repo#/abs", "relative to the repository root"),
        ("s3://bucket/pre\nfix", "control characters"),
        ("", "required"),
        ("s3://bucket/" + "x" * 1100, "at most 1024"),
    ],
)
def test_invalid_storage_uris_explain_themselves(uri, fragment):
    with pytest.raises(ValidationError) as error:
        parse_storage_uri(uri)
    assert fragment in " ".join(error.value.messages)


def test_digest_is_order_independent_and_content_sensitive():
    first = [ManifestEntry("b.jpg", 2, "ab" * 16), ManifestEntry("a.jpg", 1, "cd" * 16)]
    assert manifest_digest(first) == manifest_digest(list(reversed(first)))
    changed = [ManifestEntry("b.jpg", 3, "ab" * 16), ManifestEntry("a.jpg", 1, "cd" * 16)]
    assert manifest_digest(first) != manifest_digest(changed)


@pytest.mark.parametrize(
    ("files", "fragment"),
    [
        ([{"path": "../x", "size": 1, "hash": "a" * 64}], "relative path"),
        ([{"path": "/abs", "size": 1, "hash": "a" * 64}], "relative path"),
        ([{"path": "a", "size": -1, "hash": "a" * 64}], "non-negative"),
        ([{"path": "a", "size": True, "hash": "a" * 64}], "non-negative"),
        ([{"path": "a", "size": 1, "hash": "xyz"}], "hex digest"),
        ([{"path": "a", "size": 1, "hash": "a" * 64}, {"path": "a", "size": 1, "hash": "a" * 64}], "twice"),
        (["not-an-object"], "must be an object"),
    ],
)
def test_bad_manifests_are_refused_and_nothing_is_written(owner, files, fragment):
    dataset = make_dataset(owner)
    with pytest.raises(ValidationError) as error:
        dataset_version_create(dataset=dataset, actor=owner, label="v1", files=files)
    assert fragment in " ".join(error.value.messages)
    assert not DatasetVersion.objects.exists()
    assert not ManifestFile.objects.exists()


def test_oversized_manifest_is_refused(owner, settings):
    settings.KURA_MANIFEST_MAX_FILES = 10
    dataset = make_dataset(owner)
    with pytest.raises(ValidationError) as error:
        dataset_version_create(dataset=dataset, actor=owner, label="v1", files=manifest(11))
    assert error.value.code == "manifest_too_large"
    assert not DatasetVersion.objects.exists()


def test_version_labels_are_validated_and_unique(owner):
    dataset = make_dataset(owner)
    make_version(dataset, "v1")
    for label, fragment in [("latest", "reserved"), ("bad label", "version label"), ("v1", "already has")]:
        with pytest.raises(ValidationError) as error:
            make_version(dataset, label)
        assert fragment in " ".join(error.value.messages)


def test_published_versions_are_immutable_drafts_can_go(owner):
    dataset = make_dataset(owner)
    published = make_version(dataset, "v1")
    with pytest.raises(ValidationError):
        dataset_version_publish(version=published)
    with pytest.raises(ValidationError):
        dataset_version_delete_draft(version=published)
    draft = make_version(dataset, "v2", publish=False)
    assert draft.published_at is None
    dataset_version_delete_draft(version=draft)
    assert list(dataset.versions.values_list("label", flat=True)) == ["v1"]


def test_rename_keeps_alias_and_renaming_back_reclaims_it(owner):
    dataset = make_dataset(owner, slug="first-name")
    dataset_update(dataset=dataset, actor=owner, slug="second-name")
    assert SlugAlias.objects.get(slug="first-name").dataset_id == dataset.pk
    dataset_update(dataset=dataset, actor=owner, slug="first-name")
    assert set(SlugAlias.objects.values_list("slug", flat=True)) == {"second-name"}
    assert Dataset.objects.get(pk=dataset.pk).slug == "first-name"


def test_a_slug_held_as_alias_cannot_be_taken_by_another_dataset(owner):
    dataset = make_dataset(owner, slug="taken-name")
    dataset_update(dataset=dataset, actor=owner, slug="new-name")
    with pytest.raises(ValidationError) as error:
        make_dataset(owner, slug="taken-name")
    assert "already used" in " ".join(error.value.messages)


def test_invalid_dataset_input_writes_nothing(owner):
    cases = [
        {"slug": "Bad Slug"},
        {"purpose": "short"},
        {"description": "hello <script>alert(1)</script>"},
        {"locations": [LocationSpec(uri="ftp://x/y")]},
        {"locations": [LocationSpec(uri="s3://ok-bucket/a/"), LocationSpec(uri="s3://ok-bucket/a/")]},
    ]
    for overrides in cases:
        with pytest.raises(ValidationError):
            make_dataset(owner, **overrides)
    assert not Dataset.objects.exists()
    assert not StorageLocation.objects.exists()


def test_status_dates_follow_deprecation_and_reactivation(owner):
    dataset = make_dataset(owner)
    dataset = dataset_update(dataset=dataset, actor=owner, status="deprecated")
    assert dataset.deprecated_at is not None
    dataset = dataset_update(dataset=dataset, actor=owner, status="archived")
    assert dataset.archived_at is not None
    dataset = dataset_update(dataset=dataset, actor=owner, status="active")
    assert dataset.deprecated_at is None and dataset.archived_at is None


def test_locations_are_replaced_not_duplicated(owner):
    dataset = make_dataset(owner, locations=[LocationSpec(uri="s3://bucket-one/a/")])
    dataset_update(
        dataset=dataset, actor=owner,
        locations=[LocationSpec(uri="s3://bucket-one/a/", role="mirror"), LocationSpec(uri="gs://bucket-two/b/")],
    )
    assert sorted(dataset.locations.values_list("uri", "role")) == [
        ("gs://bucket-two/b/", "primary"), ("s3://bucket-one/a/", "mirror"),
    ]


def test_guideline_revisions_append_only_when_changed(owner):
    dataset = make_dataset(owner)
    schema = {"classes": [{"name": "car", "definition": "A passenger vehicle."}]}
    first = guideline_revise(dataset=dataset, body="Box the car.", label_schema=schema, actor=owner)
    same = guideline_revise(dataset=dataset, body="Box the car.", label_schema=schema, actor=owner)
    second = guideline_revise(dataset=dataset, body="Box the whole car.", label_schema=schema, actor=owner)
    assert (first.number, same, second.number) == (1, None, 2)


@pytest.mark.parametrize(
    ("schema", "fragment"),
    [
        ([], "must be a JSON object"),
        ({"classes": "car"}, "must be a list"),
        ({"classes": [{"name": "car"}]}, "needs a definition"),
        ({"classes": [{"name": "car", "definition": "x"}, {"name": "car", "definition": "y"}]}, "defined twice"),
        ({"classes": [{"name": "car", "definition": "x", "attributes": [{"name": "o", "type": "colour"}]}]},
         "must be one of"),
        ({"classes": [{"name": "car", "definition": "x", "attributes": [{"name": "t", "type": "enum"}]}]},
         "enum needs"),
        ({"labels": []}, "unknown keys"),
        ({"classes": [{"name": "car", "definition": "x", "color": float("nan")}]}, "numbers must be finite"),
        ({"classes": [{"name": "car", "definition": "x",
                       "attributes": [{"name": "area", "type": "number", "min": float("-inf")}]}]},
         "numbers must be finite"),
        ({"classes": [{"name": "car", "definition": "x",
                       "attributes": [{"name": "area", "type": "number", "min": "small"}]}]}, "a bound is a number"),
        ({"classes": [{"name": "car", "definition": "x", "attributes": [{"name": "o", "type": "boolean", "max": 1}]}]},
         "only a number attribute has bounds"),
        ({"classes": [{"name": "car", "definition": "x",
                       "attributes": [{"name": "area", "type": "number", "min": 5, "max": 1}]}]}, "greater than max"),
        ({"classes": [{"name": "car", "definition": "x",
                       "attributes": [{"name": "o", "type": "boolean", "values": ["yes"]}]}]},
         "only an enum attribute has values"),
        ({"classes": [{"name": "car", "definition": "x",
                       "attributes": [{"name": "o", "type": "boolean", "required": "maybe"}]}]}, "true or false"),
    ],
)
def test_label_schema_errors_name_the_problem(owner, schema, fragment):
    dataset = make_dataset(owner)
    with pytest.raises(ValidationError) as error:
        guideline_revise(dataset=dataset, body="rules", label_schema=schema, actor=owner)
    assert fragment in " ".join(error.value.messages)


def test_search_uses_the_gin_index_on_postgresql(owner):
    make_dataset(owner, slug="street-signs")
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        queryset = search_datasets(Dataset.objects.all(), "street")
        with CaptureQueriesContext(connection):
            plan = queryset.explain()
        cursor.execute("SET enable_seqscan = on")
    assert "dataset_search_gin" in plan
    assert list(queryset.values_list("slug", flat=True)) == ["street-signs"]
