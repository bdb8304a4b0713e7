"""The scan engine: plan a run into shards, list each shard with checkpoints, then reconcile.

A shard's counts and its checkpoint (``last_key``) are written in one transaction every
KURA_SCAN_CHECKPOINT_EVERY objects. A worker killed between two checkpoints loses only what it had not
written yet, and the next worker restarts from the checkpoint: nothing is counted twice or lost.
Several workers share one bucket by taking different shards; a lease keeps two off the same shard.
"""

import logging
import secrets
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from typing import TypeVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection as db_connection
from django.db import models, transaction
from django.db.models import Count, Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from access.audit import audit_record
from access.models import Person
from kura.collection import collections_spaced
from kura.db import insert_rows
from kura.queue import enqueue
from storage.aggregation import LocationIndex, Totals, batch_figures, location_index
from storage.dvc.folder_reuse import FolderReuse
from storage.dvc.kept_totals import resolve_evidence
from storage.dvc.remote_reconcile import reconcile_dvc_run
from storage.dvc.remote_scan import (
    BATCH,
    DvcTotals,
    TotalsKey,
    Verdict,
    classifier_for_run,
    dvc_shard_specs,
    manifests_refresh,
    shard_head,
    totals_for,
    totals_key,
)
from storage.figures import GroupFigures, add_to_aggregate, as_datetime, is_later
from storage.listers import Lister, ListingError, ObjectBatch, ShardSpec, lister_for
from storage.listers.base import RetryHook, RetryNotice
from storage.listers.local import LocalLister
from storage.models import DvcDirManifest, DvcScanAggregate, ScanAggregate, ScanRun, ScanShard, StorageConnection
from storage.reconcile import reconcile_run

logger = logging.getLogger(__name__)
Progress = Callable[[int, int], None]
_Aggregate = TypeVar("_Aggregate", ScanAggregate, DvcScanAggregate)
UNFINISHED = (ScanRun.Status.QUEUED, ScanRun.Status.RUNNING)
LISTING_BATCH = 1000  # objects counted at a time: bounds memory and how far past `every` a checkpoint lands
AGGREGATE_FIELDS = [
    "object_count", "byte_count", "oldest", "newest", "newest_owner", "owners", "sample_keys", "dvc_like",
]
DVC_AGGREGATE_FIELDS = [
    "object_count", "byte_count", "oldest", "newest", "last_commit", "last_author", "last_authored_at", "sample_keys",
]


class ShardBusy(Exception):
    """Another worker holds the shard's lease."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"shard leased for another {seconds:.0f}s")
        self.seconds = seconds


class ShardRetry(Exception):
    """A transient listing failure; the shard goes back to pending and should be retried later."""


class LeaseLost(Exception):
    """Another worker took the shard over (our lease expired); this worker must stop writing."""


class SimulatedCrash(Exception):
    """Raised by tests to stop a worker between checkpoints, as kill -9 would."""


NO_RETRY: dict[str, object] = {"retry_message": "", "retry_attempt": 0, "retry_attempts": 0, "retry_at": None}


def _retry_recorder(run_id: int, *, planning: bool = False, leased: tuple[int, str] | None = None) -> RetryHook:
    """Writes a listing's retry on its run, and clears it once a page came through again. Whoever waits to retry
    is alive: a planner's heartbeat, or the lease of the shard ``leased`` names (its id and token), goes with it,
    so that backing off through an outage does not hand the shard to a second worker."""

    def record(notice: RetryNotice | None) -> None:
        fields = NO_RETRY if notice is None else {
            "retry_message": notice.message, "retry_attempt": notice.attempt, "retry_attempts": notice.attempts,
            "retry_at": notice.at}
        if planning:
            fields = {**fields, "planning_heartbeat_at": timezone.now()}
        ScanRun.objects.filter(pk=run_id).update(**fields)
        if leased is not None:
            shard_id, token = leased
            ScanShard.objects.filter(pk=shard_id, lease_token=token).update(lease_expires_at=_lease_deadline())

    return record


def _lease_deadline() -> datetime:
    return timezone.now() + timedelta(seconds=settings.KURA_SCAN_LEASE_SECONDS)


@transaction.atomic
def scan_request(*, connection: StorageConnection, trigger: str, requested_by: Person | None = None) -> ScanRun:
    """A new queued run, or the one already in flight for this connection (scans never overlap)."""
    connection = StorageConnection.objects.select_for_update().get(pk=connection.pk)
    if not connection.enabled:
        raise ValidationError(f"The connection '{connection.name}' is disabled.", code="connection_disabled")
    running = connection.runs.filter(status__in=UNFINISHED).first()
    if running is not None:
        return running
    previous = connection.runs.filter(status=ScanRun.Status.SUCCEEDED).order_by("-finished_at").first()
    expected = previous.shards.aggregate(total=Sum("objects_seen"))["total"] if previous else None
    run = ScanRun.objects.create(
        connection=connection, trigger=trigger, requested_by=requested_by, expected_objects=expected,
        source=ScanRun.Source.INVENTORY if connection.inventory_manifest else ScanRun.Source.LISTING,
    )
    audit_record(actor=requested_by, action="storage.scan_requested", target=connection, after={"run": run.pk,
                                                                                                "trigger": trigger})
    return run


@collections_spaced()
def scan_plan(*, run: ScanRun, progress: Progress | None = None) -> list[int]:
    """Split each root into shards; a root that cannot even be listed becomes a failed shard with the reason.

    ``progress`` is called as a DVC remote's ``.dir`` manifests are read (the run's ``manifests_*`` say how far).
    The planner beats (``planning_heartbeat_at``) all along, so scan_stalled_shards leaves a live one alone; if a
    run was planned again all the same, whichever planner finishes second changes nothing."""
    now = timezone.now()
    if not ScanRun.objects.filter(pk=run.pk, status=ScanRun.Status.QUEUED).update(
        status=ScanRun.Status.RUNNING, started_at=now, planning_heartbeat_at=now
    ):
        return []  # another worker planned it already
    connection = run.connection
    lister = lister_for(connection, on_retry=_retry_recorder(run.pk, planning=True))
    shards: list[ScanShard] = []
    unreadable: ListingError | None = None
    if connection.is_dvc_remote:
        # Before any shard: members are classified through their .dir object. The scan's page shows how far.
        def manifests_progress(done: int, wanted: int) -> None:
            ScanRun.objects.filter(pk=run.pk).update(manifests_done=done, manifests_wanted=wanted,
                                                     planning_heartbeat_at=timezone.now())
            if progress is not None:
                progress(0, 0)

        def alive() -> None:
            ScanRun.objects.filter(pk=run.pk).update(planning_heartbeat_at=timezone.now())

        try:
            manifests_refresh(connection, progress=manifests_progress, alive=alive)
        except ListingError as error:
            # No object can be classified without them: every root fails with the reason, and the run finishes
            # instead of staying "running" (which also turned away every later scan of the connection).
            unreadable = error
            ScanRun.objects.filter(pk=run.pk).update(manifests_error=error.message)
        else:
            ScanRun.objects.filter(pk=run.pk).update(**_manifests_outcome(connection, since=now))
    for root in connection.roots:
        if unreadable is not None:
            shards.append(_failed_shard(run, root, unreadable))
            continue
        try:
            specs = (dvc_shard_specs(connection, lister, root, run.expected_objects) if connection.is_dvc_remote
                     else lister.shards(root))
        except ListingError as error:
            shards.append(_failed_shard(run, root, error))
            continue
        shards.extend(ScanShard(run=run, root=root, prefix=spec.prefix, top_level_only=spec.top_level_only)
                      for spec in specs)
    if not _shards_save(run, shards):
        return []
    pending = list(run.shards.filter(status=ScanShard.Status.PENDING).values_list("pk", flat=True))
    if not pending:
        scan_complete_if_done(run_id=run.pk)
    return pending


def _manifests_outcome(connection: StorageConnection, *, since: datetime) -> dict[str, int]:
    """Of the manifests this plan looked for, how many it found usable and how many it found unusable (the rest
    are not pushed yet), for the scan's page."""
    read = DvcDirManifest.objects.filter(connection=connection, read_at__gte=since)
    return read.aggregate(manifests_found=Count("pk", filter=Q(error="")),
                          manifests_unusable=Count("pk", filter=~Q(error="")))


@transaction.atomic
def _shards_save(run: ScanRun, shards: list[ScanShard]) -> bool:
    """Store a plan, unless another planner of the same run stored one first (then False: nothing to hand out).

    A run taken for stalled goes back to the queue and may be planned by a second worker while the first still
    reads; the run's row lock makes the two finish one after the other, and only the first plan counts."""
    locked = ScanRun.objects.select_for_update().get(pk=run.pk)
    if locked.is_finished or locked.shards.exists():
        logger.info("Scan %s was planned by another worker meanwhile; this plan is dropped.", run.pk)
        return False
    # Still queued if it was taken for stalled and no second planner started yet: that one will find the plan.
    ScanRun.objects.filter(pk=run.pk).update(status=ScanRun.Status.RUNNING, **NO_RETRY)
    ScanShard.objects.bulk_create(shards)
    return True


def _failed_shard(run: ScanRun, root: str, error: ListingError) -> ScanShard:
    """A root that could not even be planned: one failed shard holding the reason, shown with the run."""
    return ScanShard(run=run, root=root, prefix="", status=ScanShard.Status.FAILED, attempts=1, error=error.message,
                     error_code=error.code, finished_at=timezone.now())


def _relax_commit_durability() -> None:
    """Skip the WAL flush wait for a checkpoint commit (PostgreSQL only).

    Counts and checkpoint commit together, so a database crash can at worst forget the last checkpoints
    as a whole, and the shard resumes from an earlier, still consistent one. A worker crash loses nothing.
    """
    if db_connection.vendor == "postgresql":
        with db_connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def _lease(shard_id: int) -> tuple[ScanShard, str | None]:
    """The shard with its run and connection, and a lease token unless the shard is finished."""
    with transaction.atomic():
        _relax_commit_durability()  # a lease lost to a database crash is simply taken again
        shard = ScanShard.objects.select_for_update(of=("self",)).select_related("run__connection").get(pk=shard_id)
        if shard.status in (ScanShard.Status.DONE, ScanShard.Status.FAILED):
            return shard, None
        now = timezone.now()
        if shard.status == ScanShard.Status.RUNNING and shard.lease_expires_at and shard.lease_expires_at > now:
            raise ShardBusy((shard.lease_expires_at - now).total_seconds())
        token = secrets.token_hex(8)
        shard.status, shard.lease_token, shard.lease_expires_at = ScanShard.Status.RUNNING, token, _lease_deadline()
        shard.attempts += 1
        shard.started_at = shard.started_at or now
        shard.save(update_fields=["status", "lease_token", "lease_expires_at", "attempts", "started_at"])
        return shard, token


class CheckpointWriter:
    """Adds objects to in-memory totals and writes them together with the shard's checkpoint."""

    def __init__(self, shard: ScanShard, token: str, index: LocationIndex, progress: Progress | None) -> None:
        self.shard, self.token, self.index, self.progress = shard, token, index, progress
        self.last_key, self.objects, self.bytes = shard.last_key, shard.objects_seen, shard.bytes_seen
        self.pending: dict[str, Totals] = {}
        # Aggregates are written with the counts, so a shard that counted nothing yet has none to read back.
        self._stored_aggregates = shard.objects_seen > 0
        self._directory: str | None = None
        self._targets: list[tuple[Totals, bool]] = []
        self.unflushed = 0
        self.every = max(1, settings.KURA_SCAN_CHECKPOINT_EVERY)
        self.batch_limit = min(LISTING_BATCH, self.every)  # a checkpoint lands at most one batch late
        self.max_depth = settings.KURA_SCAN_AGGREGATE_MAX_DEPTH

    def _totals(self, key: str, uri: str, location_id: int | None = None) -> Totals:
        totals = self.pending.get(key)
        if totals is None:
            totals = self.pending[key] = Totals(uri=uri, root_uri=self.index.root_uri, location_id=location_id)
        return totals

    def _targets_of(self, key: str) -> list[tuple[Totals, bool]]:
        location_ids = self.index.locations_of(key)
        if location_ids:
            return [(self._totals(f"loc:{location_id}", self.index.root_uri + self.index.location_paths[location_id],
                                  location_id), False) for location_id in location_ids]
        group = self.index.group_of(key, self.max_depth)
        return [(self._totals(f"dir:{group}", self.index.root_uri + group), True)]

    def _runs(self, batch: ObjectBatch) -> Iterator[tuple[ObjectBatch, str | None]]:
        """The batch in runs that count alike: (run, its exact key or None). A registered single object counts
        for its own location, so it is a run of its own; all other objects of a directory count alike."""
        directory = batch.directory
        if directory not in self.index.exact_directories:
            yield batch, None
            return
        exact_keys, names, start = self.index.exact_keys, batch.names, 0
        for index, name in enumerate(names):
            if directory + name in exact_keys:
                if index > start:
                    yield batch.part(start, index), None
                yield batch.part(index, index + 1), directory + name
                start = index + 1
        if start < len(names):
            yield batch.part(start, len(names)), None

    def consume(self, batches: Iterable[ObjectBatch], crash_after: int | None = None) -> None:
        """Count every batch of a listing, checkpointing as it goes: the loop of every scan."""
        every, seen = self.every, 0
        for batch in batches:
            crash = crash_after is not None and seen + len(batch.names) >= crash_after
            if crash:
                assert crash_after is not None
                batch = batch.part(0, crash_after - seen)
            seen += len(batch.names)
            if batch.names:
                for run, exact_key in self._runs(batch):
                    self._count(run, exact_key)
            self.last_key = batch.position
            if crash:
                raise SimulatedCrash(f"stopped after {seen} objects")  # before the checkpoint, as kill -9
            if self.unflushed >= every:
                self.flush()

    def _count(self, run: ObjectBatch, exact_key: str | None) -> None:
        # Objects of one directory arrive together and count alike: where they count is found once.
        directory = run.directory
        if exact_key is not None:
            targets = self._targets_of(exact_key)
            self._directory = None
        elif directory != self._directory:
            targets = self._targets = self._targets_of(directory + run.names[0])
            self._directory = directory
        else:
            targets = self._targets
        figures = batch_figures(run, details=any(details for _, details in targets))
        for totals, details in targets:
            totals.add(run, figures, track_details=details)
        self.objects += figures.objects
        self.bytes += figures.bytes
        self.unflushed += figures.objects

    def flush(self, *, status: str | None = None, error: ListingError | None = None) -> None:
        now = timezone.now()
        updates: dict[str, object] = {"last_key": self.last_key, "objects_seen": self.objects,
                                      "bytes_seen": self.bytes, "lease_expires_at": _lease_deadline()}
        if status is not None:
            updates.update(status=status, lease_token="", lease_expires_at=None)
            if status != ScanShard.Status.PENDING:
                updates["finished_at"] = now
        if error is not None:
            updates.update(error=error.message, error_code=error.code)
        with transaction.atomic():
            _relax_commit_durability()
            if not ScanShard.objects.filter(pk=self.shard.pk, lease_token=self.token).update(**updates):
                raise LeaseLost(f"shard {self.shard.pk} was taken over by another worker")
            rows = {row.key: row for row in ScanAggregate.objects.filter(shard=self.shard, key__in=list(self.pending))
                    } if self._stored_aggregates else {}
            merged: list[ScanAggregate] = []
            for key, totals in self.pending.items():
                row = rows.get(key) or ScanAggregate(shard=self.shard, key=key, uri=totals.uri,
                                                     location_id=totals.location_id)
                totals.merge_into(row)
                merged.append(row)
            _write_aggregates(ScanAggregate, merged, AGGREGATE_FIELDS, fresh=not self._stored_aggregates)
            self._stored_aggregates = self._stored_aggregates or bool(merged)
            self.save_extra(done=status == ScanShard.Status.DONE)
        for field, value in updates.items():  # the shard as written, without reading it back
            setattr(self.shard, field, value)
        self.pending.clear()
        self._directory, self._targets = None, []
        self.unflushed = 0
        if self.progress is not None:
            self.progress(self.objects, self.bytes)


    def listing(self, lister: Lister, spec: ShardSpec) -> Iterator[ObjectBatch]:
        """The shard's batches from its checkpoint on."""
        return lister.iter_batches(self.shard.root, spec, self.shard.last_key, self.batch_limit)

    def save_extra(self, *, done: bool) -> None:
        """Subclasses write their own totals here, inside the checkpoint's transaction (``done``: the last one)."""


class DvcCheckpointWriter(CheckpointWriter):
    """Classifies a DVC remote's objects in batches and keeps totals by class, repository and output."""

    def __init__(self, shard: ScanShard, token: str, root_uri: str, progress: Progress | None) -> None:
        super().__init__(shard, token, LocationIndex(root_uri), progress)
        self.classifier = classifier_for_run(shard.run_id, shard.run.connection)
        self.head = shard_head(shard.prefix)
        self.reuse = FolderReuse.for_shard(shard, self.classifier)  # before any verdict: see history_for_run
        self.dvc_pending: dict[TotalsKey, DvcTotals] = {}
        self._stored_dvc_aggregates = self._stored_aggregates  # written together, like ScanAggregate

    def listing(self, lister: Lister, spec: ShardSpec) -> Iterator[ObjectBatch]:
        if self.reuse is not None and isinstance(lister, LocalLister):
            return lister.iter_batches(self.shard.root, spec, self.shard.last_key, self.batch_limit, gate=self.reuse)
        return super().listing(lister, spec)

    def consume(self, batches: Iterable[ObjectBatch], crash_after: int | None = None) -> None:
        # The checkpoint only moves past a whole classified group, so a crash re-reads at most one group.
        group: list[ObjectBatch] = []
        seen = grouped = 0
        position, size = self.last_key, min(BATCH, self.every)
        for batch in batches:
            crash = crash_after is not None and seen + len(batch.names) >= crash_after
            if crash:
                assert crash_after is not None
                batch = batch.part(0, crash_after - seen)
            seen += len(batch.names)
            if batch.names:
                group.append(batch)
                grouped += len(batch.names)
            elif self.reuse is not None and batch.directory in self.reuse.skipped:
                group.append(batch)  # counted in its place, so the checkpoint never passes it uncounted
            position = batch.position
            if crash:
                raise SimulatedCrash(f"stopped after {seen} objects")
            if grouped >= size:
                self._take(group, position)
                group, grouped = [], 0
        if group or position != self.last_key:
            self._take(group, position)

    def _take(self, group: list[ObjectBatch], position: str) -> None:
        listed = [batch for batch in group if batch.names]
        # A scan reusing earlier verdicts lists few directories: looking them up beats reading the whole history.
        lazily = self.reuse is not None and bool(self.reuse.kept)
        verdicts = iter(self.classifier.classify_shard_batches(listed, self.head, lazily=lazily))
        recording = self.reuse.recording if self.reuse is not None else {}
        skipped: list[str] = []  # consecutive kept directories, counted together in their place
        for batch in group:
            if self.reuse is not None:
                self.reuse.counted(batch.directory)
            if not batch.names:
                skipped.append(batch.directory)
                continue
            self._count_skipped(skipped)
            counted = self._totals_of(batch, next(verdicts))
            folder = recording.get(batch.directory)
            if folder is not None:
                folder.add(counted)
            self._add(counted.values())
        self._count_skipped(skipped)
        self.last_key = position
        if self.unflushed >= self.every:
            self.flush()

    def _count_skipped(self, skipped: list[str]) -> None:
        if self.reuse is not None and skipped:
            # Not counted towards the next checkpoint: counting kept directories again after a crash is cheap.
            objects, size = self.reuse.count_skipped(skipped, self.dvc_pending, self.index.root_uri)
            self.objects += objects
            self.bytes += size
            skipped.clear()

    def _totals_of(self, batch: ObjectBatch, verdicts: list[Verdict]) -> dict[TotalsKey, DvcTotals]:
        """A batch's objects counted by totals key (the batch's own, so a directory being kept can take them too)."""
        root_uri, directory = self.index.root_uri, batch.directory
        counted: dict[TotalsKey, DvcTotals] = {}
        for name, size, modified, owner, verdict in zip(batch.names, batch.sizes, batch.modified, batch.owners,
                                                        verdicts, strict=True):
            totals_for(counted, totals_key(verdict, owner)).add(directory, name, size, modified, verdict.evidence,
                                                                root_uri)
        return counted

    def _add(self, counted: Iterable[DvcTotals]) -> None:
        for totals in counted:
            key = (totals.object_class, totals.repo_id, totals.path, totals.owner)
            totals_for(self.dvc_pending, key).merge(totals)
            self.objects += totals.objects
            self.bytes += totals.bytes
            self.unflushed += totals.objects

    def save_extra(self, *, done: bool) -> None:
        resolve_evidence(self.dvc_pending.values())
        keys = {"|".join(str(part or "") for part in key): totals for key, totals in self.dvc_pending.items()}
        rows = {row.key: row for row in DvcScanAggregate.objects.filter(shard=self.shard, key__in=list(keys))
                } if self._stored_dvc_aggregates else {}
        merged: list[DvcScanAggregate] = []
        for key, totals in keys.items():
            row = rows.get(key) or DvcScanAggregate(shard=self.shard, key=key, object_class=totals.object_class,
                                                    repo_id=totals.repo_id, path=totals.path[:1024],
                                                    owner=totals.owner[:200])
            _merge_dvc_totals(totals, row)
            merged.append(row)
        _write_aggregates(DvcScanAggregate, merged, DVC_AGGREGATE_FIELDS, fresh=not self._stored_dvc_aggregates)
        self._stored_dvc_aggregates = self._stored_dvc_aggregates or bool(merged)
        self.dvc_pending.clear()
        if done and self.reuse is not None:
            self.reuse.save(self.index.root_uri, self.classifier)


def _write_aggregates(model: type[_Aggregate], rows: list[_Aggregate], fields: list[str], *, fresh: bool) -> None:
    """New and grown aggregates in one INSERT … ON CONFLICT (shard, key) DO UPDATE: an UPDATE of many rows through
    bulk_update builds a CASE per row and field, which costs more than the checkpoint's listing. The ``fresh`` rows of
    a shard that has none stored yet (its first checkpoint, often its only one) go in by COPY."""
    for row in rows:
        row.pk = None  # matched on (shard, key), the unique constraint
    if fresh:
        insert_rows(model, rows)
        return
    model.objects.bulk_create(rows, update_conflicts=True, unique_fields=["shard", "key"], update_fields=fields)


def _merge_dvc_totals(totals: DvcTotals, row: DvcScanAggregate) -> None:
    add_to_aggregate(row, GroupFigures(objects=totals.objects, bytes=totals.bytes, oldest=as_datetime(totals.oldest),
                                       newest=as_datetime(totals.newest), samples=totals.samples))
    last = totals.last
    if last is not None and is_later(last.authored_at, row.last_authored_at):
        row.last_commit, row.last_author, row.last_authored_at = last.commit, last.author[:255], last.authored_at


_INDEX_CACHE: dict[tuple[int, str], LocationIndex] = {}


def _run_location_index(shard: ScanShard, lister: Lister) -> LocationIndex:
    """The registered locations under a root, read once per run and root by each process (not per shard)."""
    key = (shard.run_id, shard.root)
    index = _INDEX_CACHE.get(key)
    if index is None:
        _INDEX_CACHE.clear()  # only the current run's roots are worth keeping
        index = _INDEX_CACHE[key] = location_index(shard.run.connection, shard.root, lister.root_uri(shard.root))
    return index


@collections_spaced()
def shard_process(*, shard_id: int, progress: Progress | None = None, crash_after: int | None = None) -> ScanShard:
    """List one shard from its checkpoint to the end. Raises ShardBusy, ShardRetry or LeaseLost."""
    shard, token = _lease(shard_id)
    if token is None:
        return shard
    connection = shard.run.connection
    lister = lister_for(connection, on_retry=_retry_recorder(shard.run_id, leased=(shard.pk, token)))
    writer: CheckpointWriter | None = None
    try:
        if connection.is_dvc_remote:
            writer = DvcCheckpointWriter(shard, token, lister.root_uri(shard.root), progress)
        else:
            writer = CheckpointWriter(shard, token, _run_location_index(shard, lister), progress)
        writer.consume(writer.listing(lister, ShardSpec(shard.prefix, shard.top_level_only)), crash_after)
        writer.flush(status=ScanShard.Status.DONE)
    except ListingError as error:
        final = error.permanent or shard.attempts >= settings.KURA_SCAN_SHARD_MAX_ATTEMPTS
        status = ScanShard.Status.FAILED if final else ScanShard.Status.PENDING
        if writer is None:
            writer = CheckpointWriter(shard, token, LocationIndex(""), None)
        writer.flush(status=status, error=error)  # what was counted before the failure stays counted
        # The shard's row tells this failure now; a retry notice of its listing would only go stale.
        ScanRun.objects.filter(pk=shard.run_id).exclude(retry_message="").update(**NO_RETRY)
        if not final:
            raise ShardRetry(error.message) from error
    return shard  # as the last checkpoint wrote it


@transaction.atomic
def scan_complete_if_done(*, run_id: int) -> ScanRun:
    """Once every shard is done or failed, reconcile findings and close the run (exactly once)."""
    run = ScanRun.objects.select_for_update().select_related("connection").get(pk=run_id)
    if run.is_finished or run.status == ScanRun.Status.QUEUED:
        return run
    if run.shards.exclude(status__in=[ScanShard.Status.DONE, ScanShard.Status.FAILED]).exists():
        return run
    if run.connection.is_dvc_remote:
        reconcile_dvc_run(run)
    else:
        reconcile_run(run)
    failed = list(run.shards.filter(status=ScanShard.Status.FAILED))
    run.errors = [{"root": shard.root, "prefix": shard.prefix, "code": shard.error_code, "message": shard.error}
                  for shard in failed]
    if not failed:
        run.status = ScanRun.Status.SUCCEEDED
    elif run.shards.filter(status=ScanShard.Status.DONE).exists():
        run.status = ScanRun.Status.PARTIAL
    else:
        run.status = ScanRun.Status.FAILED
    run.finished_at = timezone.now()
    for field, value in NO_RETRY.items():  # a retry that ended in a failure is told by the errors now
        setattr(run, field, value)
    run.save(update_fields=["errors", "status", "finished_at", *NO_RETRY])
    return run


def scan_run_inline(*, run: ScanRun, progress: Progress | None = None) -> ScanRun:
    """Plan (or resume) and scan in this process (``manage.py scan``), retrying transient failures."""
    scan_plan(run=run, progress=progress)
    unfinished = run.shards.exclude(status__in=[ScanShard.Status.DONE, ScanShard.Status.FAILED])
    for shard_id in unfinished.values_list("pk", flat=True):
        delay = 1.0
        while True:
            try:
                shard_process(shard_id=shard_id, progress=progress)
                break
            except ShardBusy as busy:  # a killed worker's lease has to run out first
                time.sleep(min(busy.seconds, 5.0))
            except ShardRetry:
                time.sleep(delay)
                delay = min(delay * 2, 60.0)
    return scan_complete_if_done(run_id=run.pk)


def scan_stalled_shards(*, planning_grace: timedelta = timedelta(minutes=10)) -> tuple[list[int], list[int]]:
    """Work a crashed worker or a broker outage left behind: (runs to plan again, shards to hand out again).

    Shards whose lease ran out, or that wait with no lease, are safe to hand out twice: the lease lets
    only one worker list a shard, and a finished shard is skipped. A run whose planner died before it
    created any shard goes back to the queue. A run queued this long ago whose message never reached the
    broker (it was down) is sent again: only one planner can move a run out of "queued" (scan_plan).
    """
    now = timezone.now()
    # A planner beats while it reads (a DVC remote's manifests take minutes); a run from before the heartbeat has
    # only its start to go by.
    last_sign = Coalesce("planning_heartbeat_at", "started_at")
    replan = list(
        ScanRun.objects.filter(status=ScanRun.Status.RUNNING, shards__isnull=True)
        .alias(last_sign=last_sign).filter(last_sign__lt=now - planning_grace)
        .values_list("pk", flat=True)
    )
    ScanRun.objects.filter(pk__in=replan).update(status=ScanRun.Status.QUEUED)
    never_sent = ScanRun.objects.filter(status=ScanRun.Status.QUEUED).alias(
        last_sign=Coalesce("planning_heartbeat_at", "created_at")
    ).filter(last_sign__lt=now - planning_grace).exclude(pk__in=replan)
    replan += list(never_sent.values_list("pk", flat=True))
    progressing = ScanShard.objects.filter(run=models.OuterRef("run"), lease_expires_at__gte=now)
    stalled = ScanShard.objects.filter(run__status=ScanRun.Status.RUNNING).filter(
        models.Q(status=ScanShard.Status.RUNNING, lease_expires_at__lt=now)
        # Pending shards normally wait in the queue; only when nothing of their run moves were they lost.
        | models.Q(status=ScanShard.Status.PENDING, run__started_at__lt=now - planning_grace)
        & ~models.Exists(progressing)
    )
    return replan, list(stalled.values_list("pk", flat=True))


def scan_start(*, connection: StorageConnection, trigger: str, requested_by: Person | None = None) -> ScanRun:
    """Queue a scan for the workers (API, UI, scheduler)."""
    from storage.tasks import scan_connection  # tasks import this module

    run = scan_request(connection=connection, trigger=trigger, requested_by=requested_by)
    if run.status == ScanRun.Status.QUEUED:
        # The run is committed either way: if the broker is down, resume_stalled_scans sends it once it is back.
        transaction.on_commit(lambda: enqueue(scan_connection, run.pk))
    return run
