import pytest

from access.models import AccessRequest, AuditEvent, OrgUnit, Person
from annotations.models import CorrectionExample, GuidelineRevision
from catalog.datasheet import FIELD_NAMES, unanswered_count
from catalog.models import Dataset, StorageLocation
from catalog.selectors import left_behind_datasets
from frontend.demo import load_demo
from storage.dvc.decode import ObjectClass, classify_keys
from storage.dvc.remote_report import remote_summary
from storage.models import StorageConnection
from tests.storage_support import scan

pytestmark = pytest.mark.django_db


def test_demo_loads_the_whole_story_and_is_idempotent(tmp_path, settings):
    settings.KURA_LOCAL_ROOTS = [str(tmp_path / "demo-storage")]
    settings.KURA_REPO_MIRROR_ROOT = tmp_path / "mirrors"
    demo = load_demo(tmp_path)
    datasets = Dataset.objects.count()
    events = AuditEvent.objects.count()
    assert datasets >= 12
    assert Dataset.objects.filter(versions__isnull=False).distinct().count() == datasets
    assert OrgUnit.objects.filter(status=OrgUnit.Status.MERGED).exists()
    assert Person.objects.filter(status=Person.Status.DEPARTED).exists()
    # Kai's department merged into Perception: new datasets of Kai's default to Perception, not the merged unit.
    assert Person.objects.get(external_id="HR-1008").primary_unit.name == "Perception"
    assert not Person.objects.filter(primary_unit__isnull=False).exclude(primary_unit__status="active").exists()
    assert AccessRequest.objects.filter(status=AccessRequest.Status.PENDING).count() == 1
    assert left_behind_datasets(user=demo.user).count() == 2
    assert Dataset.objects.filter(status=Dataset.Status.DEPRECATED).count() == 1
    bucket = tmp_path / "demo-storage" / "bucket"
    assert (bucket / "tmp-amara-export").is_dir()  # unregistered data for the scanner to find
    assert StorageLocation.objects.filter(uri__startswith=f"file://{bucket}").exists()
    signs = Dataset.objects.get(slug="street-signs-eu")
    assert list(GuidelineRevision.objects.filter(guideline__dataset=signs).values_list("number", flat=True)) == [2, 1]
    assert dict(signs.versions.values_list("label", "guideline_revision")) == {"v1": 1, "v2": 1, "v3": 2}
    assert unanswered_count(signs) == 0  # the demo shows a complete datasheet, and a partial one elsewhere
    assert 0 < unanswered_count(Dataset.objects.get(slug="wake-word-en")) < len(FIELD_NAMES)
    examples = CorrectionExample.objects.filter(guideline__dataset=signs)
    assert sorted(examples.values_list("rule_anchor", flat=True)) == ["rule-boxes", "rule-occlusion", "rule-truncation"]
    assert examples.exclude(before_image="").count() == 2

    crops = Dataset.objects.get(slug="sign-crops-dvc")
    assert list(crops.versions.order_by("published_at").values_list("label", "file_count")) == [
        (crops.versions.order_by("published_at").first().label, 4), ("v2", 6), ("v3", 8)
    ]
    remote = tmp_path / "demo-storage" / "dvc-remote"
    keys = [str(path.relative_to(remote)) for path in remote.rglob("*") if path.is_file()]
    assert set(classify_keys(keys).values()) == {ObjectClass.LIVE, ObjectClass.HISTORICAL, ObjectClass.UNREFERENCED}
    dvc_remote = StorageConnection.objects.get(name="demo-dvc-remote")
    classes = {bar.filter_value for bar in remote_summary(dvc_remote).by_class}
    assert {"live", "historical", "unreferenced"} <= classes  # scanned at load: the remote's page has data
    assert {f.kind for f in dvc_remote.findings.all()} == {"dvc_historical", "dvc_unreferenced"}

    load_demo(tmp_path)

    assert Dataset.objects.count() == datasets
    assert crops.versions.count() == 3
    assert AuditEvent.objects.count() == events

    run = scan(StorageConnection.objects.get(name="demo-bucket"))
    scanned = run.connection.findings.filter(last_run=run)
    findings = {f.uri.removeprefix(f"file://{bucket}/"): f for f in scanned}
    assert {uri for uri, f in findings.items() if f.kind == "unregistered"} == {"tmp-amara-export/", "old-experiments/"}
    assert "The path names 'amara' (Amara Okafor)." in findings["tmp-amara-export/"].hints
    assert findings["night-drive-clips/"].kind == "ownerless"  # Jonas left and nobody took it over
    assert CorrectionExample.objects.count() == 3
