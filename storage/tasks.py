"""Celery entry points: they take IDs, call the scan and indexing services and own the retries."""

from functools import partial

from celery import Task, shared_task
from django.db import OperationalError, transaction
from django.utils import timezone

from storage.dvc.git_history import GitError
from storage.dvc.indexer import IndexingInProgress, training_repo_index
from storage.dvc.versions import versions_refresh_for_repo
from storage.models import ScanRun, StorageConnection, TrainingRepo
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
    except OperationalError as error:  # the database went away or was locked: the checkpoint keeps the work
        raise self.retry(countdown=min(120, 2 ** self.request.retries)) from error
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


@shared_task(name="storage.tasks.index_training_repo", autoretry_for=(GitError,), retry_backoff=True, max_retries=3)
def index_training_repo(repo_id: int) -> int | None:
    """Index one training repository, then version its datasets; returns how many commits this run read."""
    repo = TrainingRepo.objects.filter(pk=repo_id).first()
    if repo is None:
        return None
    try:
        result = training_repo_index(repo=repo)
    except IndexingInProgress:
        return None  # the run holding the repository will pick up what is new
    # Also when nothing new was committed: a dataset may have been located in the repository since, or data a
    # commit names may have been pushed to the remote since.
    versions_refresh_for_repo(repo=repo)
    return result.commits_read


@shared_task(name="storage.tasks.index_all_training_repos")
def index_all_training_repos() -> int:
    repo_ids = list(TrainingRepo.objects.values_list("pk", flat=True))
    for repo_id in repo_ids:
        index_training_repo.delay(repo_id)
    return len(repo_ids)
