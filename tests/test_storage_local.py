"""Scanning real directories: aggregation, symlinks, vanishing data and resuming after a crash."""

import errno
import os
import shutil
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from catalog.services import LocationSpec
from storage.models import Finding, ScanRun, ScanShard
from storage.scanning import SimulatedCrash, scan_plan, scan_request, scan_run_inline, shard_process
from tests.factories import make_dataset
from tests.storage_support import make_local_connection, make_s3_connection, put_objects, scan, write_parts

pytestmark = pytest.mark.django_db


@pytest.fixture
def share(storage_settings, tmp_path):
    root = tmp_path / "mnt" / "share"
    write_parts(root / "signs", 4)
    write_parts(root / "tmp-amara-export", 7)
    write_parts(root / "old-experiments" / "kws-augmented", 9)
    (root / "notes.txt").write_text("hello")
    outside = tmp_path / "outside"
    write_parts(outside, 50)
    os.symlink(outside, root / "escape")  # must never be followed
    os.symlink(root / "signs", root / "signs-link")
    return root


def test_local_scan_aggregates_unregistered_folders_and_ignores_symlinks(share, owner):
    make_dataset(owner, locations=[LocationSpec(f"file://{share}/signs/")])
    connection = make_local_connection([str(share)])

    run = scan(connection)

    assert run.status == ScanRun.Status.SUCCEEDED
    found = {f.uri: (f.object_count, f.total_bytes) for f in Finding.objects.filter(connection=connection)}
    assert found == {
        f"file://{share}/tmp-amara-export/": (7, 700),
        f"file://{share}/old-experiments/": (9, 900),
        f"file://{share}/": (1, 5),
    }
    assert sum(run.shards.values_list("objects_seen", flat=True)) == 4 + 7 + 9 + 1
    finding = Finding.objects.get(uri=f"file://{share}/tmp-amara-export/")
    assert finding.storage_owner  # the file owner's user name
    assert any(hint.startswith("Last written by") for hint in finding.hints)


def test_a_vanishing_location_becomes_a_missing_finding(share, owner):
    dataset = make_dataset(owner, locations=[LocationSpec(f"file://{share}/signs/")])
    connection = make_local_connection([str(share)])
    scan(connection)
    assert not Finding.objects.filter(connection=connection, kind=Finding.Kind.MISSING).exists()

    shutil.rmtree(share / "signs")
    scan(connection)

    missing = Finding.objects.get(connection=connection, kind=Finding.Kind.MISSING)
    assert (missing.dataset, missing.status) == (dataset, Finding.Status.OPEN)
    assert missing.message == "No data found: the location is empty or was removed."

    write_parts(share / "signs", 1)
    scan(connection)
    missing.refresh_from_db()
    assert (missing.status, missing.resolution) == (Finding.Status.RESOLVED, "Data is present again.")


def _crash_then_resume(connection, shard_prefix: str, crash_after: int) -> ScanRun:
    run = scan_request(connection=connection, trigger="cli")
    scan_plan(run=run)
    shard = run.shards.get(prefix=shard_prefix)
    with pytest.raises(SimulatedCrash):
        shard_process(shard_id=shard.pk, crash_after=crash_after)
    shard.refresh_from_db()
    assert shard.status == ScanShard.Status.RUNNING and shard.last_key
    checkpointed = shard.objects_seen
    assert 0 < checkpointed < crash_after  # objects after the last checkpoint were lost with the worker
    # The dead worker's lease runs out; the next worker resumes from the checkpoint.
    ScanShard.objects.filter(pk=shard.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    run = scan_run_inline(run=run)
    shard.refresh_from_db()
    assert shard.attempts == 2
    return run


def test_a_worker_killed_mid_scan_resumes_without_double_counting(share, settings):
    settings.KURA_SCAN_CHECKPOINT_EVERY = 10
    write_parts(share / "big" / "nested", 45, size=3)
    write_parts(share / "big", 50, size=2)
    connection = make_local_connection([str(share)])

    run = _crash_then_resume(connection, "big/", crash_after=37)

    assert run.status == ScanRun.Status.SUCCEEDED
    assert run.shards.get(prefix="big/").objects_seen == 95
    big = Finding.objects.get(connection=connection, uri=f"file://{share}/big/")
    assert (big.object_count, big.total_bytes) == (95, 45 * 3 + 50 * 2)


def test_an_s3_worker_killed_mid_scan_resumes_from_start_after(storage_settings, moto_endpoint, bucket, settings):
    settings.KURA_SCAN_CHECKPOINT_EVERY = 25
    put_objects(moto_endpoint, bucket, [f"exports/part {index:03d} %.bin" for index in range(130)])
    connection = make_s3_connection(moto_endpoint, [bucket])

    run = _crash_then_resume(connection, "exports/", crash_after=60)

    assert run.status == ScanRun.Status.SUCCEEDED
    finding = Finding.objects.get(connection=connection)
    assert (finding.object_count, finding.total_bytes) == (130, 1300)


def test_roots_escaping_the_allow_list_are_refused(storage_settings, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    mnt = tmp_path / "mnt"
    os.symlink(outside, mnt / "sneaky")
    for root in (str(outside), f"{mnt}/../outside", str(mnt / "sneaky"), "relative/path"):
        with pytest.raises(ValidationError) as refused:
            make_local_connection([root])
        assert "roots" in refused.value.message_dict


@pytest.mark.parametrize("second", ["share/raw", "share", "share/raw/../"])
def test_roots_overlapping_one_another_are_refused_so_nothing_is_counted_twice(storage_settings, tmp_path, second):
    share = tmp_path / "mnt" / "share"
    write_parts(share / "raw", 3)
    with pytest.raises(ValidationError) as refused:
        make_local_connection([str(share), str(tmp_path / "mnt" / second)])
    assert refused.value.message_dict["roots"] == [
        f"'{tmp_path / 'mnt' / second}' overlaps '{share}', another root of this connection: the data under both "
        "would be counted twice."]


@pytest.mark.parametrize(("roots", "overlapping"), [
    (["bucket", "bucket/raw/"], "bucket/raw/"),
    (["s3://bucket/raw/2026", "bucket/raw"], "bucket/raw"),
])
def test_s3_roots_overlapping_one_another_are_refused(settings, roots, overlapping):
    settings.KURA_STORAGE_ALLOW_PRIVATE_ENDPOINTS = ["127.0.0.1"]
    with pytest.raises(ValidationError, match=f"'{overlapping}' overlaps"):
        make_s3_connection("http://127.0.0.1:9000", roots)
    assert make_s3_connection("http://127.0.0.1:9000", ["bucket/raw", "bucket/raw-2026", "other"]).roots == [
        "bucket/raw/", "bucket/raw-2026/", "other"]


def test_sibling_roots_with_a_common_name_start_are_both_scanned(storage_settings, tmp_path):
    write_parts(tmp_path / "mnt" / "raw", 2)
    write_parts(tmp_path / "mnt" / "raw-2026", 3)
    connection = make_local_connection([str(tmp_path / "mnt" / "raw"), str(tmp_path / "mnt" / "raw-2026")])
    run = scan(connection)
    assert run.status == ScanRun.Status.SUCCEEDED
    assert sum(shard.objects_seen for shard in run.shards.all()) == 5


def test_a_root_swapped_for_a_symlink_after_creation_is_refused_at_scan_time(storage_settings, tmp_path):
    root = tmp_path / "mnt" / "share"
    write_parts(root, 2)
    connection = make_local_connection([str(root)])
    shutil.rmtree(root)
    os.symlink(tmp_path, root)

    run = scan(connection)

    assert run.status == ScanRun.Status.FAILED
    assert run.errors[0]["code"] == "root_not_allowed"
    assert not Finding.objects.filter(connection=connection, kind=Finding.Kind.UNREGISTERED).exists()


def test_a_folder_replaced_by_a_file_after_planning_counts_as_gone(share):
    connection = make_local_connection([str(share)])
    run = scan_request(connection=connection, trigger="cli")
    scan_plan(run=run)
    shutil.rmtree(share / "tmp-amara-export")
    (share / "tmp-amara-export").write_text("now a file")  # its shard was planned as a directory

    run = scan_run_inline(run=run)  # NotADirectoryError escaped the worker: the shard stayed "running"

    assert run.status == ScanRun.Status.SUCCEEDED
    assert run.shards.get(prefix="tmp-amara-export/").objects_seen == 0


def test_a_folder_the_share_cannot_read_fails_its_shard_with_the_reason(share, settings, monkeypatch):
    # What NFS answers for a stale handle or a failing disk; only the filesystem can make it, so it is injected.
    real_scandir = os.scandir

    def failing_scandir(path):
        if str(path).endswith("/kws-augmented"):
            raise OSError(errno.ESTALE, os.strerror(errno.ESTALE), str(path))
        return real_scandir(path)

    monkeypatch.setattr("storage.listers.local.os.scandir", failing_scandir)
    monkeypatch.setattr("storage.scanning.time.sleep", lambda seconds: None)
    settings.KURA_SCAN_SHARD_MAX_ATTEMPTS = 2
    connection = make_local_connection([str(share)])

    run = scan(connection)

    assert run.status == ScanRun.Status.PARTIAL
    failed = run.shards.get(prefix="old-experiments/")
    assert (failed.status, failed.attempts, failed.error_code) == (ScanShard.Status.FAILED, 2, "unreadable")
    assert failed.error == f"Cannot read old-experiments/kws-augmented/: {os.strerror(errno.ESTALE)}."
    assert Finding.objects.filter(connection=connection, uri=f"file://{share}/signs/").exists()

    monkeypatch.setattr("storage.listers.local.os.scandir", lambda path: failing_scandir(f"{path}/kws-augmented"))
    run = scan(connection)  # the root itself: the run used to stay "running", its planner gone

    assert run.status == ScanRun.Status.FAILED
    assert run.errors == [{"root": str(share), "prefix": "", "code": "unreadable",
                           "message": f"Cannot read {share}: {os.strerror(errno.ESTALE)}."}]


def test_stalled_work_is_found_for_the_scheduler(share):
    from storage.scanning import scan_stalled_shards

    connection = make_local_connection([str(share)])
    run = scan_request(connection=connection, trigger="cli")
    scan_plan(run=run)
    assert scan_stalled_shards() == ([], [])  # freshly planned shards wait in the queue
    crashed = run.shards.get(prefix="signs/")
    with pytest.raises(SimulatedCrash):
        shard_process(shard_id=crashed.pk, crash_after=1)
    ScanShard.objects.filter(pk=crashed.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    ScanRun.objects.filter(pk=run.pk).update(started_at=timezone.now() - timedelta(hours=1))

    replan, shards = scan_stalled_shards()

    assert replan == []
    assert set(shards) == set(run.shards.exclude(status=ScanShard.Status.DONE).values_list("pk", flat=True))
    assert crashed.pk in shards
