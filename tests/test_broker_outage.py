"""A broker outage while the web app queues work: the request answers, and nothing queued is lost.

The recovery half runs a real Celery worker over the machine's Redis.
"""

import logging
import time
from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.urls import reverse
from django.utils import timezone

from kura.celery import app
from storage.dvc.repos import training_repo_create
from storage.models import ScanRun
from storage.tasks import resume_stalled_scans
from tests.broker_support import point_celery_at
from tests.factories import bearer, make_person
from tests.storage_support import make_local_connection, write_parts


@pytest.mark.django_db(transaction=True)
def test_a_scan_started_while_the_broker_is_down_answers_and_runs_once_it_is_back(
    client, storage_settings, tmp_path, broker_down, caplog
):
    share = tmp_path / "mnt" / "share"
    write_parts(share / "signs", 3)
    connection = make_local_connection([str(share)], name="nas")
    client.force_login(make_person("ada", staff=True).user)

    with caplog.at_level(logging.ERROR, logger="kura.queue"):
        started = client.post(reverse("frontend:scan-start", args=[connection.pk]))

    run = ScanRun.objects.get()
    assert started.status_code == 302 and started["Location"] == reverse("frontend:scan", args=[run.pk])
    assert run.status == ScanRun.Status.QUEUED
    assert "storage.tasks.scan_connection" in caplog.text and "unreachable" in caplog.text

    point_celery_at(storage_settings.CELERY_BROKER_URL)
    ScanRun.objects.filter(pk=run.pk).update(created_at=timezone.now() - timedelta(minutes=11))
    with start_worker(app, perform_ping_check=False, pool="solo", shutdown_timeout=10):
        assert resume_stalled_scans() == 1
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not ScanRun.objects.get(pk=run.pk).is_finished:
            time.sleep(0.2)

    run.refresh_from_db()
    assert run.status == ScanRun.Status.SUCCEEDED
    assert sum(run.shards.values_list("objects_seen", flat=True)) == 3


@pytest.mark.django_db
def test_a_run_queued_long_ago_is_sent_again_but_not_one_queued_just_now(storage_settings, tmp_path, broker_down):
    from storage.scanning import scan_request, scan_stalled_shards

    connection = make_local_connection([str(tmp_path / "mnt")], name="nas")
    fresh = scan_request(connection=connection, trigger="cli")

    assert scan_stalled_shards() == ([], [])
    ScanRun.objects.filter(pk=fresh.pk).update(created_at=timezone.now() - timedelta(minutes=11))
    assert scan_stalled_shards() == ([fresh.pk], [])


@pytest.mark.django_db(transaction=True)  # the message is sent when the request's transaction commits
def test_the_api_answers_a_scan_request_while_the_broker_is_down(api, storage_settings, tmp_path, broker_down):
    make_local_connection([str(tmp_path / "mnt")], name="nas")
    api.credentials(HTTP_AUTHORIZATION=bearer(make_person("root", staff=True), scope="read_write"))

    started = api.post("/api/v1/storage/connections/nas/scans/")

    assert started.status_code == 202, started.content
    assert ScanRun.objects.get().status == ScanRun.Status.QUEUED


@pytest.mark.django_db
def test_admin_index_now_says_the_queue_is_down_instead_of_failing(client, broker_down):
    repo = training_repo_create(actor=None, name="signs", url="https://git.example.com/signs.git")
    admin = make_person("root", staff=True)
    admin.user.is_superuser = True
    admin.user.save(update_fields=["is_superuser"])
    client.force_login(admin.user)

    response = client.post("/admin/storage/trainingrepo/", {"action": "index_now", "_selected_action": [repo.pk]},
                           follow=True)

    assert response.status_code == 200
    assert "task queue is unreachable" in response.content.decode()
