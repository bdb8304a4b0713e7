"""Scan runs listed with their progress: the same figures as one run's page, in a fixed number of queries."""

from datetime import timedelta

import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from storage.models import ScanRun, ScanShard, StorageConnection
from storage.selectors import RunProgress, run_progress, run_progress_by_run
from tests.factories import bearer, make_person
from tests.storage_support import make_local_connection

pytestmark = pytest.mark.django_db


@pytest.fixture
def connection(storage_settings, tmp_path) -> StorageConnection:
    root = tmp_path / "mnt" / "share"
    root.mkdir(parents=True)
    return make_local_connection([str(root)], name="nas")


def _add_runs(connection: StorageConnection, count: int) -> list[ScanRun]:
    """Finished runs with done and failed shards, and one still running with an ETA; none without shards."""
    start = timezone.now() - timedelta(hours=1)
    runs = []
    for number in range(count):
        running = number == 0
        run = ScanRun.objects.create(
            connection=connection, status=ScanRun.Status.RUNNING if running else ScanRun.Status.PARTIAL,
            started_at=start, finished_at=None if running else start + timedelta(seconds=10 + number),
            expected_objects=10_000 if running else None, created_at=start + timedelta(minutes=number),
        )
        ScanShard.objects.bulk_create(
            ScanShard(run=run, root="r", prefix=f"p{shard}/", objects_seen=100 * (number + 1) + shard,
                      bytes_seen=1000 * shard, status=ScanShard.Status.FAILED if shard == 2 else ScanShard.Status.DONE)
            for shard in range(3)
        )
        runs.append(run)
    runs.append(ScanRun.objects.create(connection=connection, created_at=start - timedelta(minutes=1)))  # queued
    return runs


def test_the_page_progress_matches_each_runs_own_progress(connection):
    runs = _add_runs(connection, 3)

    together = run_progress_by_run(runs)

    for run in runs:
        alone = run_progress(run)
        assert _counts(together[run.pk]) == _counts(alone)
        assert (together[run.pk].eta_seconds is None) == (alone.eta_seconds is None)
        if run.is_finished:  # the rate no longer depends on the clock
            assert together[run.pk].rate_per_second == alone.rate_per_second
    assert together[runs[0].pk].eta_seconds is not None and together[runs[0].pk].rate_per_second
    assert _counts(together[runs[1].pk]) == (603, 3000, 3, 2, 1)
    assert _counts(together[runs[-1].pk]) == (0, 0, 0, 0, 0) and together[runs[-1].pk].rate_per_second is None


def _counts(progress: RunProgress) -> tuple[int, int, int, int, int]:
    return progress.objects, progress.bytes, progress.shards_total, progress.shards_done, progress.shards_failed


def _queries(call) -> int:
    call()  # once before counting: per-process caches (content types, say) fill on the first request
    with CaptureQueriesContext(db_connection) as queries:
        response = call()
    assert response.status_code == 200
    return len(queries.captured_queries)


def test_the_scans_api_reads_progress_in_the_same_queries_for_two_runs_or_seven(api, connection):
    staff = make_person("ada", staff=True)
    api.credentials(HTTP_AUTHORIZATION=bearer(staff))
    _add_runs(connection, 1)
    few = _queries(lambda: api.get("/api/v1/storage/scans/"))

    _add_runs(connection, 5)
    many = _queries(lambda: api.get("/api/v1/storage/scans/"))

    results = api.get("/api/v1/storage/scans/").json()["results"]
    assert many == few and len(results) == 8
    by_id = {item["id"]: item["progress"] for item in results}
    for run in ScanRun.objects.all():
        progress = run_progress(run)
        assert (by_id[run.pk]["objects"], by_id[run.pk]["shards"], by_id[run.pk]["shards_failed"]) == (
            progress.objects, progress.shards_total, progress.shards_failed)


def test_the_scans_page_reads_progress_in_the_same_queries_for_two_runs_or_seven(client, connection):
    staff = make_person("ada", staff=True)
    client.force_login(staff.user)
    _add_runs(connection, 1)
    few = _queries(lambda: client.get(reverse("frontend:scans")))

    runs = _add_runs(connection, 5)
    many = _queries(lambda: client.get(reverse("frontend:scans")))

    assert many == few
    page = client.get(reverse("frontend:scans")).content.decode()
    assert f"nas #{runs[0].pk}" in page and f">{run_progress(runs[0]).objects}<" in page


def test_a_dvc_scan_reading_its_manifests_shows_how_far_it_is(client, api, connection):
    """Before any shard exists, a DVC remote's scan reads the .dir manifests; the page and the API say how many."""
    run = ScanRun.objects.create(connection=connection, status=ScanRun.Status.RUNNING, started_at=timezone.now(),
                                 manifests_wanted=8_600, manifests_done=2_000)
    staff = make_person("ada", staff=True)
    client.force_login(staff.user)
    page = client.get(reverse("frontend:scan", kwargs={"pk": run.pk}), HTTP_HX_REQUEST="true").content.decode()
    assert "2000 of 8600 done" in page and 'aria-valuenow="2000"' in page and "the manifests come first" in page
    api.credentials(HTTP_AUTHORIZATION=bearer(staff))
    progress = api.get(f"/api/v1/storage/scans/{run.pk}/").json()["progress"]
    assert (progress["manifests_wanted"], progress["manifests_done"]) == (8_600, 2_000)

    ScanShard.objects.create(run=run, root="r", prefix="", status=ScanShard.Status.RUNNING)
    ScanRun.objects.filter(pk=run.pk).update(manifests_done=8_600)
    page = client.get(reverse("frontend:scan", kwargs={"pk": run.pk}), HTTP_HX_REQUEST="true").content.decode()
    assert "Looked for 8600 <code>.dir</code> manifests not read before" in page and "of 8600 done" not in page
