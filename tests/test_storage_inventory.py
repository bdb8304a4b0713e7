"""S3 Inventory reports (manifest.json + gzip CSV, generated here in the real format) instead of listing."""


import pytest

from catalog.services import LocationSpec
from storage.models import Finding, ScanRun
from tests.factories import make_dataset
from tests.storage_support import inventory_row as _row
from tests.storage_support import make_s3_connection, scan
from tests.storage_support import publish_inventory as _publish

pytestmark = pytest.mark.django_db

def test_inventory_report_replaces_listing(storage_settings, moto_endpoint, bucket, owner):
    manifest = _publish(moto_endpoint, bucket, f"{bucket}-inv", [
        [_row(bucket, "signs/eu/a.jpg", 100), _row(bucket, "exports/part 1 %.bin", 10),
         _row(bucket, "exports/ünï+code.bin", 20)],
        [_row(bucket, "exports/old.bin", 5, latest="false"), _row(bucket, "exports/gone.bin", 0, deleted="true"),
         _row("another-bucket", "exports/x.bin", 99), _row(bucket, "raw/2026/x.bin", 7)],
    ])
    make_dataset(owner, locations=[LocationSpec(f"s3://{bucket}/signs/eu/")])
    connection = make_s3_connection(moto_endpoint, [bucket], inventory_manifest=manifest)

    run = scan(connection)

    assert (run.status, run.source, run.shards.count()) == (ScanRun.Status.SUCCEEDED, ScanRun.Source.INVENTORY, 2)
    found = {f.uri: (f.object_count, f.total_bytes) for f in Finding.objects.filter(connection=connection)}
    assert found == {f"s3://{bucket}/exports/": (2, 30), f"s3://{bucket}/raw/": (1, 7)}
    exports = Finding.objects.get(uri=f"s3://{bucket}/exports/")
    assert sorted(exports.sample_keys) == [f"s3://{bucket}/exports/part 1 %.bin", f"s3://{bucket}/exports/ünï+code.bin"]
    assert exports.newest_modified.isoformat() == "2026-03-01T10:00:00+00:00"


def test_parquet_inventory_is_refused_with_a_clear_message(storage_settings, moto_endpoint, bucket):
    manifest = _publish(moto_endpoint, bucket, f"{bucket}-inv", [], fmt="Parquet")
    connection = make_s3_connection(moto_endpoint, [bucket], inventory_manifest=manifest)

    run = scan(connection)

    assert run.status == ScanRun.Status.FAILED
    assert run.errors[0]["code"] == "inventory_format"
    assert "pyarrow" in run.errors[0]["message"]
