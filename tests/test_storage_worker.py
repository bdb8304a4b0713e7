"""Scans through a real Celery worker over Redis, the scheduler task and `manage.py scan`."""

import io
import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.core.exceptions import ValidationError
from django.core.management import call_command

from kura.celery import app
from storage.models import Finding, ScanRun, StorageConnection
from storage.scanning import scan_request
from storage.tasks import scan_due_connections
from tests.factories import bearer, make_person
from tests.storage_support import make_local_connection


def _share(tmp_path):
    root = tmp_path / "mnt" / "share"
    for folder in ("tmp-amara-export", "team/kws", "team/asr"):
        (root / folder).mkdir(parents=True)
        (root / folder / "part.bin").write_bytes(b"q" * 7)
    return root


@pytest.mark.django_db(transaction=True)
def test_api_scan_runs_on_a_celery_worker(api, storage_settings, tmp_path):
    share = _share(tmp_path)
    connection = make_local_connection([str(share)], name="nas")
    staff = make_person("root", staff=True)
    api.credentials(HTTP_AUTHORIZATION=bearer(staff, scope="read_write"))
    assert app.conf.broker_url.startswith("redis://")

    with start_worker(app, perform_ping_check=False, pool="solo", shutdown_timeout=10):
        started = api.post("/api/v1/storage/connections/nas/scans/")
        assert started.status_code == 202, started.content
        run_id = started.json()["id"]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not ScanRun.objects.get(pk=run_id).is_finished:
            time.sleep(0.2)

    run = api.get(f"/api/v1/storage/scans/{run_id}/").json()
    assert run["status"] == "succeeded"
    assert run["progress"]["objects"] == 3 and run["progress"]["shards_done"] == run["progress"]["shards"]
    assert sorted(Finding.objects.filter(connection=connection).values_list("uri", flat=True)) == [
        f"file://{share}/team/", f"file://{share}/tmp-amara-export/"]


@pytest.mark.django_db
def test_manage_py_scan_prints_progress_and_a_summary(storage_settings, tmp_path):
    share = _share(tmp_path)
    connection = make_local_connection([str(share)], name="nas")
    out, err = io.StringIO(), io.StringIO()

    call_command("scan", "nas", stdout=out, stderr=err)

    assert "Scan succeeded: 2 unregistered." in out.getvalue()
    assert "3 objects" in err.getvalue()  # the progress line
    assert Finding.objects.filter(connection=connection).count() == 2


@pytest.mark.django_db
def test_scheduler_starts_due_connections_only(storage_settings, tmp_path, django_capture_on_commit_callbacks):
    share = _share(tmp_path)
    due = make_local_connection([str(share)], name="due", schedule_minutes=60)
    make_local_connection([str(share)], name="manual")

    with django_capture_on_commit_callbacks() as callbacks:
        assert scan_due_connections() == 1
    assert len(callbacks) == 1
    assert list(ScanRun.objects.values_list("connection__name", "trigger")) == [("due", "schedule")]
    assert due.runs.get().status == ScanRun.Status.QUEUED
    assert scan_due_connections() == 0  # not due again within the hour
    StorageConnection.objects.filter(name="manual").update(enabled=False)
    with pytest.raises(ValidationError, match="disabled"):
        scan_request(connection=StorageConnection.objects.get(name="manual"), trigger="cli")
