"""Re-scanning a local DVC remote: hash directories that did not change are counted from their last listing, and
every change to the remote or to the history that classifies it still shows (storage.dvc.folder_reuse).

Each re-scan is compared with a full listing of the same remote (reuse switched off): the totals, dates, owner
evidence and sample keys of every aggregate must be the same. Which directories a scan listed is read from the
kept rows: a listed directory is kept by the run that listed it, a reused one stays with the run before.
"""

import os
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from storage.dvc.folder_reuse import FolderReuse
from storage.dvc.indexer import training_repo_index
from storage.dvc.repos import training_repo_create
from storage.models import (
    DvcDirManifest,
    DvcDirMember,
    DvcKeptRun,
    DvcKeptTotals,
    DvcRemoteFolder,
    DvcScanAggregate,
    ScanRun,
    ScanShard,
    StorageConnection,
    TrainingRepo,
)
from storage.scanning import SimulatedCrash, scan_plan, scan_request, scan_run_inline, shard_process
from storage.services import connection_set_dvc_repos
from tests.dvc_builders import History, build_history, dir_object, dvc_file, md5_of, object_key
from tests.storage_support import make_local_connection, scan

pytestmark = pytest.mark.django_db


@dataclass
class Remote:
    history: History
    repo: TrainingRepo
    connection: StorageConnection

    @property
    def path(self) -> Path:
        return self.history.remote.path


@pytest.fixture(params=["one_shard", "shard_per_directory"])
def remote(request, storage_settings, tmp_path, owner, monkeypatch) -> Remote:
    # One shard adds up runs of kept directories (and keeps the sums) even in this small remote; a shard per
    # directory adds up one directory at a time.
    monkeypatch.setattr("storage.dvc.kept_totals.RUNS_KEPT_FROM", 2)
    storage_settings.KURA_REPO_MIRROR_ROOT = tmp_path / "mirrors"
    storage_settings.KURA_SCAN_CHECKPOINT_EVERY = 3  # many checkpoints, some in the middle of a directory
    storage_settings.KURA_SCAN_DVC_REUSE_MARGIN_SECONDS = 0  # the tests change the remote right after a scan
    storage_settings.KURA_SCAN_DVC_SPLIT_ABOVE = 250_000 if request.param == "one_shard" else 0
    history = build_history(tmp_path / "mnt")
    repo = training_repo_create(actor=owner, name="vision/detector", url=str(history.repo.path))
    training_repo_index(repo=repo)
    connection = make_local_connection([str(history.remote.path)], is_dvc_remote=True)
    connection_set_dvc_repos(connection=connection, repos=[repo], actor=None)
    return Remote(history, repo, connection)


def _aggregates(run: ScanRun) -> dict[tuple[str, str], tuple]:
    rows = DvcScanAggregate.objects.filter(shard__run=run).select_related("shard")
    return {(row.shard.prefix, row.key): (row.object_count, row.byte_count, row.oldest, row.newest, row.last_commit,
                                          row.last_author, row.last_authored_at, row.sample_keys) for row in rows}


def _classes(run: ScanRun) -> dict[str, int]:
    totals: dict[str, int] = {}
    for row in DvcScanAggregate.objects.filter(shard__run=run):
        totals[row.object_class] = totals.get(row.object_class, 0) + row.object_count
    return totals


def _full_listing(remote: Remote, settings) -> dict[tuple[str, str], tuple]:
    """What a scan that lists every directory finds (it keeps nothing and reuses nothing)."""
    settings.KURA_SCAN_DVC_REUSE_FOLDERS = False
    try:
        return _aggregates(scan(remote.connection))
    finally:
        settings.KURA_SCAN_DVC_REUSE_FOLDERS = True


def _listed_by(remote: Remote) -> dict[str, int]:
    """Hash directory → the run whose listing is kept for it."""
    return dict(DvcRemoteFolder.objects.filter(connection=remote.connection).values_list("directory", "run_id"))


def _rescan(remote: Remote, settings) -> ScanRun:
    run = scan(remote.connection)
    assert run.status == ScanRun.Status.SUCCEEDED, run.errors
    assert _aggregates(run) == _full_listing(remote, settings)
    return run


def _directory(key: str) -> str:
    return key[: key.rfind("/") + 1]


def _commit_output(remote: Remote, path: str, text: str) -> None:
    remote.history.repo.write(path, text)
    remote.history.repo.commit(f"Add {path}", author="Gina Green", date="2024-06-01T10:00:00+00:00")
    training_repo_index(repo=remote.repo)


def test_an_unchanged_remote_is_counted_from_its_last_listing(remote, settings):
    first = _rescan(remote, settings)
    listed = _listed_by(remote)
    hashed = {_directory(key) for key in remote.history.remote.object_keys() if "/" in key
              and not key.startswith("runs/")}
    assert set(listed) == hashed and set(listed.values()) == {first.pk}

    runs_kept = list(DvcKeptRun.objects.filter(connection=remote.connection).values_list("pk", "folders"))
    assert bool(runs_kept) == (remote.connection.runs.get(pk=first.pk).shards.count() == 1)

    again = _rescan(remote, settings)

    assert _listed_by(remote) == listed  # nothing listed again
    assert list(DvcKeptRun.objects.filter(connection=remote.connection).values_list("pk", "folders")) == runs_kept
    assert _classes(again) == _classes(first)
    assert sum(again.shards.values_list("objects_seen", flat=True)) == len(remote.history.remote.object_keys())


def test_a_re_scan_finds_an_object_added_to_one_directory_and_one_deleted_from_another(remote, settings):
    first = _rescan(remote, settings)
    orphan = "files/md5/ff/" + "0" * 30
    added = remote.history.remote.put_raw("files/md5/ff/" + "1" * 30, b"pushed after the first scan")
    deleted = object_key(md5_of(remote.history.model))

    second = _rescan(remote, settings)
    assert _classes(second)["unreferenced"] == _classes(first)["unreferenced"] + 1
    listed = _listed_by(remote)
    assert listed[_directory(added)] == second.pk and _directory(orphan) == _directory(added)
    assert {run for directory, run in listed.items() if directory != _directory(added)} == {first.pk}

    (remote.path / deleted).unlink()
    third = _rescan(remote, settings)
    assert _classes(third)["live"] == _classes(second)["live"] - 1
    listed = _listed_by(remote)
    assert listed[_directory(deleted)] == third.pk and listed[_directory(added)] == second.pk


def test_a_new_commit_reclassifies_the_objects_it_references_and_only_their_directories_are_listed(remote, settings):
    scratch = object_key(md5_of(remote.history.scratch))  # pushed from a branch deleted before indexing
    zeta = dir_object({"z.bin": b"zeta"})  # a directory pushed but never committed: its file is unreferenced too
    pushed = remote.history.remote.push_dir(zeta)
    first = _rescan(remote, settings)
    unreferenced = _classes(first)["unreferenced"]

    scratch_size = len(remote.history.scratch)
    _commit_output(remote, "scratch.dvc", dvc_file(md5_of(remote.history.scratch), scratch_size, "scratch.bin"))
    second = _rescan(remote, settings)
    assert _classes(second)["unreferenced"] == unreferenced - 1
    listed = _listed_by(remote)
    assert listed[_directory(scratch)] == second.pk
    assert {run for directory, run in listed.items() if directory != _directory(scratch)} == {first.pk}

    # The .dir is read once a commit references it; its file, in another directory, inherits its class.
    _commit_output(remote, "data/zeta.dvc", dvc_file(zeta.md5, zeta.size, "zeta", nfiles=1))
    third = _rescan(remote, settings)
    assert _classes(third)["unreferenced"] == unreferenced - 3
    member, manifest = pushed
    assert _directory(member) != _directory(manifest)
    listed = _listed_by(remote)
    assert listed[_directory(member)] == listed[_directory(manifest)] == third.pk
    assert listed[_directory(scratch)] == second.pk

    # Replaced by a later commit, the directory is historical, and so is its file: nothing changed in the file's
    # own head but the class of the directory that lists it.
    _commit_output(remote, "data/zeta.dvc", dvc_file(md5_of(b"zeta, second version"), 5, "zeta", nfiles=1))
    fourth = _rescan(remote, settings)
    assert _classes(fourth)["historical"] == _classes(third)["historical"] + 2
    assert _listed_by(remote)[_directory(member)] == fourth.pk


def test_a_commit_that_only_removes_an_output_makes_its_objects_historical(remote, settings):
    first = _rescan(remote, settings)
    labels = object_key(md5_of(remote.history.labels_merged))
    remote.history.repo.git("rm", "-q", "data/labels.dvc")
    remote.history.repo.commit("Drop the labels", author="Gina Green", date="2024-06-01T10:00:00+00:00")
    training_repo_index(repo=remote.repo)  # no reference added: only liveness moved

    second = _rescan(remote, settings)
    assert _classes(second)["historical"] == _classes(first)["historical"] + 1
    assert _listed_by(remote)[_directory(labels)] == second.pk


def test_a_commit_indexed_while_a_scan_runs_keeps_nothing_that_scan_listed(remote, settings, monkeypatch):
    scratch = md5_of(remote.history.scratch)
    keep = FolderReuse.save

    def index_then_keep(self, root_uri, classifier):
        if not remote.history.repo.path.joinpath("scratch.dvc").exists():  # once, after the verdicts were made
            _commit_output(remote, "scratch.dvc", dvc_file(scratch, len(remote.history.scratch), "scratch.bin"))
        keep(self, root_uri, classifier)

    monkeypatch.setattr(FolderReuse, "save", index_then_keep)
    first = scan(remote.connection)
    assert first.status == ScanRun.Status.SUCCEEDED
    assert first.pk not in _listed_by(remote).values()  # its verdicts may predate the commit

    second = _rescan(remote, settings)
    assert _classes(second)["unreferenced"] == _classes(first)["unreferenced"] - 1


def test_a_new_directory_at_the_top_lists_the_whole_remote_again(remote, settings):
    first = _rescan(remote, settings)
    added = remote.history.remote.put_raw("77/" + "7" * 30, b"a DVC 2 object in a new directory")
    second = _rescan(remote, settings)
    assert set(_listed_by(remote).values()) == {second.pk} and _listed_by(remote)[_directory(added)] == second.pk
    assert _classes(second)["unreferenced"] == _classes(first)["unreferenced"] + 1


@pytest.mark.parametrize("outcome", ["a failed run", "a run too long ago", "reuse switched off"])
def test_nothing_is_reused_after_a_failed_or_old_scan(remote, settings, outcome):
    first = _rescan(remote, settings)
    if outcome == "a failed run":
        ScanRun.objects.filter(pk=first.pk).update(status=ScanRun.Status.PARTIAL)
    elif outcome == "a run too long ago":
        DvcRemoteFolder.objects.update(listed_at=timezone.now() - timedelta(hours=25))
    else:
        settings.KURA_SCAN_DVC_REUSE_FOLDERS = False
    again = scan(remote.connection)
    settings.KURA_SCAN_DVC_REUSE_FOLDERS = True
    kept_by = set(_listed_by(remote).values())
    assert kept_by == ({first.pk} if outcome == "reuse switched off" else {again.pk})


def test_a_directory_with_a_subdirectory_is_always_listed(remote, settings):
    remote.history.remote.put_raw("files/md5/ff/nested/" + "2" * 30, b"not where DVC puts objects")
    first = _rescan(remote, settings)
    assert "files/md5/ff/" not in _listed_by(remote)
    remote.history.remote.put_raw("files/md5/ff/nested/" + "3" * 30, b"invisible in files/md5/ff/'s mtime")
    second = _rescan(remote, settings)
    assert _classes(second)["other"] == _classes(first)["other"] + 1


def test_a_shard_resumed_part_way_through_a_directory_counts_everything_once(remote, settings):
    first = _rescan(remote, settings)
    for index in range(10):
        remote.history.remote.put_raw(f"files/md5/ff/1{index:029x}", b"u" * (index + 1))
    run = scan_request(connection=remote.connection, trigger="cli")
    scan_plan(run=run)
    shard = run.shards.get(prefix__in=["", "files/md5/ff/"], top_level_only=False)
    with pytest.raises(SimulatedCrash):
        shard_process(shard_id=shard.pk, crash_after=7)  # every other directory is reused: all 7 are in ff/
    shard.refresh_from_db()
    assert shard.last_key.startswith("files/md5/ff/")  # checkpointed inside the directory
    ScanShard.objects.filter(pk=shard.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))

    resumed = scan_run_inline(run=run)

    assert resumed.status == ScanRun.Status.SUCCEEDED
    assert _aggregates(resumed) == _full_listing(remote, settings)
    assert _classes(resumed)["unreferenced"] == _classes(first)["unreferenced"] + 10
    assert _listed_by(remote)["files/md5/ff/"] == first.pk  # listed in two parts: not kept, so listed next time
    next_scan = _rescan(remote, settings)
    assert _listed_by(remote)["files/md5/ff/"] == next_scan.pk


def _coarse_stamp(path: str) -> tuple[str, int]:
    """A filesystem that keeps whole seconds and no ctime: a change within the second leaves no trace."""
    mtime = os.stat(path, follow_symlinks=False).st_mtime_ns // 1_000_000_000 * 1_000_000_000
    return f"{mtime}", mtime


def test_a_directory_changed_within_the_clock_margin_has_its_names_read_again(remote, settings, monkeypatch):
    settings.KURA_SCAN_DVC_REUSE_MARGIN_SECONDS = 30  # wide, so a slow test run still looks within it
    monkeypatch.setattr("storage.dvc.folder_reuse.directory_stamp", _coarse_stamp)
    long_ago = time.time_ns() - 100 * 1_000_000_000
    for directory in [remote.path, *(path for path in remote.path.rglob("*") if path.is_dir())]:
        os.utime(directory, ns=(long_ago, long_ago))
    first = _rescan(remote, settings)
    assert DvcRemoteFolder.objects.filter(settled=False).count() == 0

    changed = remote.path / "files/md5/ff"
    second_now = time.time_ns() // 1_000_000_000 * 1_000_000_000
    os.utime(changed, ns=(second_now, second_now))  # written to just now
    second = _rescan(remote, settings)
    kept = DvcRemoteFolder.objects.get(directory="files/md5/ff/")
    assert (kept.run_id, kept.settled) == (second.pk, False)

    # Pushed within the same second: the directory's time does not move, only its names give it away.
    added = remote.history.remote.put_raw("files/md5/ff/" + "1" * 30, b"pushed in the same second")
    os.utime(changed, ns=(second_now, second_now))
    third = _rescan(remote, settings)
    assert _classes(third)["unreferenced"] == _classes(first)["unreferenced"] + 1
    assert _listed_by(remote)[_directory(added)] == third.pk

    # Once its time is older than the margin, one more reading of its names settles it for good.
    settings.KURA_SCAN_DVC_REUSE_MARGIN_SECONDS = 0
    _rescan(remote, settings)
    kept = DvcRemoteFolder.objects.get(directory="files/md5/ff/")
    assert (kept.run_id, kept.settled) == (third.pk, True)


def test_no_kept_totals_or_members_outlive_their_directory_or_remote(remote, settings):
    # The database does not check these rows' parents (see DvcDirMember.manifest): the ORM deletes them with them.
    _rescan(remote, settings)
    remote.history.remote.put_raw("files/md5/ff/" + "1" * 30, b"pushed after the first scan")
    _rescan(remote, settings)  # lists files/md5/ff/ again: what was kept for it goes
    assert DvcKeptTotals.objects.exists() and DvcDirMember.objects.exists()
    assert not DvcKeptTotals.objects.exclude(folder__in=DvcRemoteFolder.objects.all()).exists()

    remote.connection.delete()

    assert not DvcKeptTotals.objects.exists() and not DvcRemoteFolder.objects.exists()
    assert not DvcDirMember.objects.exists() and not DvcDirManifest.objects.exists()
