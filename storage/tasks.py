"""Celery entry points: they take IDs, call the scan services and own the retries."""

from functools import partial

from celery import Task, shared_task
from django.db import transaction
from django.utils import timezone

from storage.models import ScanRun, StorageConnection
from storage.scanning import (
    ShardBusy,
    ShardRetry,
    scan_complete_if_done,
    scan_plan,
    scan_stalled_shards,
    scan_start,
    shard_process,
)


@shared_task(name="storage.tasks.scan_connection")
def scan_connection(run_id: int) -> int:
    """Plan a run into shards and hand them to the workers."""
    run = ScanRun.objects.select_related("connection").filter(pk=run_id).first()
    if run is None:
        return 0
    shard_ids = scan_plan(run=run)
    transaction.on_commit(partial(_enqueue_shards, shard_ids))
    return len(shard_ids)


def _enqueue_shards(shard_ids: list[int]) -> None:
    for shard_id in shard_ids:
        scan_shard.delay(shard_id)


@shared_task(bind=True, name="storage.tasks.scan_shard", max_retries=20)
def scan_shard(self: Task, shard_id: int) -> int:
    try:
        shard = shard_process(shard_id=shard_id)
    except ShardBusy as busy:  # a redelivered task while the first worker still holds the lease
        raise self.retry(countdown=max(5, int(busy.seconds) + 1)) from busy
    except ShardRetry as retry:
        raise self.retry(countdown=min(300, 5 * 2 ** self.request.retries)) from retry
    scan_complete_if_done(run_id=shard.run_id)
    return shard.objects_seen


@shared_task(name="storage.tasks.resume_stalled_scans")
def resume_stalled_scans() -> int:
    runs, shards = scan_stalled_shards()
    for run_id in runs:
        scan_connection.delay(run_id)
    _enqueue_shards(shards)
    return len(runs) + len(shards)


@shared_task(name="storage.tasks.scan_due_connections")
def scan_due_connections() -> int:
    """Start scans for scheduled connections whose interval has passed since their last run."""
    started = 0
    now = timezone.now()
    for connection in StorageConnection.objects.filter(enabled=True, schedule_minutes__isnull=False):
        last = connection.runs.order_by("-created_at").first()
        minutes = connection.schedule_minutes or 0
        if last is None or (now - last.created_at).total_seconds() >= minutes * 60:
            with transaction.atomic():
                scan_start(connection=connection, trigger="schedule")
            started += 1
    return started
