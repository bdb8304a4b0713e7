import pytest

from access.models import AccessRequest, AuditEvent, OrgUnit, Person
from catalog.models import Dataset, StorageLocation
from catalog.selectors import left_behind_datasets
from frontend.demo import load_demo
from storage.dvc.decode import ObjectClass, classify_keys

pytestmark = pytest.mark.django_db


def test_demo_loads_the_whole_story_and_is_idempotent(tmp_path, settings):
    settings.KURA_REPO_MIRROR_ROOT = tmp_path / "mirrors"
    demo = load_demo(tmp_path)
    datasets = Dataset.objects.count()
    events = AuditEvent.objects.count()
    assert datasets >= 12
    assert Dataset.objects.filter(versions__isnull=False).distinct().count() == datasets
    assert OrgUnit.objects.filter(status=OrgUnit.Status.MERGED).exists()
    assert Person.objects.filter(status=Person.Status.DEPARTED).exists()
    assert AccessRequest.objects.filter(status=AccessRequest.Status.PENDING).count() == 1
    assert left_behind_datasets(user=demo.user).count() == 2
    assert Dataset.objects.filter(status=Dataset.Status.DEPRECATED).count() == 1
    bucket = tmp_path / "demo-storage" / "bucket"
    assert (bucket / "tmp-amara-export").is_dir()  # unregistered data for the scanner to find
    assert StorageLocation.objects.filter(uri__startswith=f"file://{bucket}").exists()

    crops = Dataset.objects.get(slug="sign-crops-dvc")
    assert list(crops.versions.order_by("published_at").values_list("label", "file_count")) == [
        (crops.versions.order_by("published_at").first().label, 4), ("v2", 6), ("v3", 8)
    ]
    remote = tmp_path / "demo-storage" / "dvc-remote"
    keys = [str(path.relative_to(remote)) for path in remote.rglob("*") if path.is_file()]
    assert set(classify_keys(keys).values()) == {ObjectClass.LIVE, ObjectClass.HISTORICAL, ObjectClass.UNREFERENCED}

    load_demo(tmp_path)

    assert Dataset.objects.count() == datasets
    assert crops.versions.count() == 3
    assert AuditEvent.objects.count() == events
