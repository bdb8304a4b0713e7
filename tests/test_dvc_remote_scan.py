"""Scanning DVC remotes (moto S3 and a local directory) shared by two real repositories: every object's class,
findings that stay put across re-scans, the unreferenced export and the shared-remote warnings."""

import csv
import gc
import html
import io
import json
import re
import shutil
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from kura.collection import SPACED_ALLOCATIONS
from storage.dvc import remote_scan
from storage.dvc.decode import ObjectClass
from storage.dvc.indexer import training_repo_index
from storage.dvc.layout import Layout, parse_object_key
from storage.dvc.remote_reconcile import reconcile_dvc_run
from storage.dvc.remote_report import remote_summary, unreferenced_objects
from storage.dvc.remote_scan import RemoteClassifier, dvc_shard_specs, manifests_refresh
from storage.dvc.repos import training_repo_create
from storage.listers import ListedObject, ListingError, ShardSpec, lister_for
from storage.listers.base import batched
from storage.models import (
    DvcDirManifest,
    DvcDirMember,
    DvcScanAggregate,
    Finding,
    ScanRun,
    ScanShard,
    StorageConnection,
    TrainingRepo,
)
from storage.scanning import (
    SimulatedCrash,
    scan_plan,
    scan_request,
    scan_run_inline,
    scan_stalled_shards,
    shard_process,
)
from storage.services import connection_set_dvc_repos
from tests.dvc_builders import (
    GitRepo,
    History,
    LocalRemote,
    build_history,
    dvc_config,
    dvc_file,
    history_classes,
    md5_of,
    object_key,
)
from tests.factories import bearer, make_person
from tests.storage_support import (
    dvc_classes_by_key,
    inventory_row,
    make_local_connection,
    make_s3_connection,
    publish_inventory,
    s3_client,
    scan,
    scanned_totals,
)

pytestmark = pytest.mark.django_db


SHARED_V1, SHARED_V2, TRAINER_DVC2 = b"shared-v1", b"shared-v2", b"trainer-dvc2-exp"
UNICODE_TMP = "files/md5/12/données-ü.tmp"


@dataclass
class Scenario:
    remote: LocalRemote
    detector: TrainingRepo
    trainer: TrainingRepo
    expected: dict[str, ObjectClass]
    trainer_commits: dict[str, str]
    history: History


def _build_trainer(root: Path, remote: LocalRemote) -> tuple[GitRepo, dict[str, str]]:
    """A second repository pushing to the same remote: a DVC 3 output that changed, a DVC 2 output on a branch."""
    repo = GitRepo(root / "trainer")
    commits = {}
    repo.write(".dvc/config", dvc_config({"shared": str(remote.path)}, "shared"))
    repo.write("data/shared.bin.dvc", dvc_file(md5_of(SHARED_V1), len(SHARED_V1), "shared.bin"))
    commits["t1"] = repo.commit("Shared v1", author="Greta Gray", date="2024-06-01T10:00:00+00:00")
    repo.write("data/shared.bin.dvc", dvc_file(md5_of(SHARED_V2), len(SHARED_V2), "shared.bin"))
    commits["t2"] = repo.commit("Shared v2", author="Hugo Hale", date="2024-06-02T10:00:00+00:00")
    repo.git("checkout", "-q", "-b", "exp")
    repo.write("old.bin.dvc", dvc_file(md5_of(TRAINER_DVC2), len(TRAINER_DVC2), "old.bin", dvc3=False))
    commits["t3"] = repo.commit("DVC 2 output on a branch", author="Ida Ink", date="2024-06-03T10:00:00+00:00")
    repo.git("checkout", "-q", "main")
    for data in (SHARED_V1, SHARED_V2):
        remote.push_file(data)
    remote.push_file(TRAINER_DVC2, dvc3=False)
    return repo, commits


@pytest.fixture
def scenario(storage_settings, tmp_path, owner) -> Scenario:
    storage_settings.KURA_REPO_MIRROR_ROOT = tmp_path / "mirrors"
    storage_settings.KURA_SCAN_CHECKPOINT_EVERY = 3  # many checkpoints per shard
    storage_settings.KURA_SCAN_DVC_SPLIT_ABOVE = 0  # split by hash directory, as a large remote is
    mnt = tmp_path / "mnt"
    h = build_history(mnt)
    h.remote.push_file(h.sample)  # the output under a unicode path (données/échantillon.csv)
    h.remote.put_raw(UNICODE_TMP, b"partial upload with a unicode name")
    h.remote.put_raw("README.txt", b"not DVC")
    trainer_git, trainer_commits = _build_trainer(mnt, h.remote)
    detector = training_repo_create(actor=owner, name="vision/detector", url=str(h.repo.path))
    trainer = training_repo_create(actor=owner, name="vision/trainer", url=str(trainer_git.path))
    training_repo_index(repo=detector)
    training_repo_index(repo=trainer)
    expected = {
        **history_classes(h),
        object_key(md5_of(h.sample)): ObjectClass.LIVE,
        UNICODE_TMP: ObjectClass.TEMPORARY,
        "README.txt": ObjectClass.OTHER,
        object_key(md5_of(SHARED_V1)): ObjectClass.HISTORICAL,
        object_key(md5_of(SHARED_V2)): ObjectClass.LIVE,
        object_key(md5_of(TRAINER_DVC2), dvc3=False): ObjectClass.LIVE,  # live at the head of branch exp
    }
    assert sorted(expected) == h.remote.object_keys()  # the scenario lists every object it put there
    return Scenario(h.remote, detector, trainer, expected, trainer_commits, h)


def _local_remote(scenario: Scenario, repos: list[TrainingRepo]) -> StorageConnection:
    return _local_remote_at(scenario.remote, repos)


def _local_remote_at(remote: LocalRemote, repos: list[TrainingRepo]) -> StorageConnection:
    connection = make_local_connection([str(remote.path)], is_dvc_remote=True)
    connection_set_dvc_repos(connection=connection, repos=repos, actor=None)
    return connection


def _s3_remote(scenario: Scenario, endpoint: str, bucket: str, repos: list[TrainingRepo]) -> StorageConnection:
    client = s3_client(endpoint)
    for key in scenario.remote.object_keys():
        client.put_object(Bucket=bucket, Key=f"dvc/{key}", Body=(scenario.remote.path / key).read_bytes())
    connection = make_s3_connection(endpoint, [f"{bucket}/dvc"], is_dvc_remote=True)
    connection_set_dvc_repos(connection=connection, repos=repos, actor=None)
    return connection


def _expected_totals(scenario: Scenario) -> dict[str, tuple[int, int]]:
    totals: dict[str, tuple[int, int]] = {}
    for key, cls in scenario.expected.items():
        count, size = totals.get(cls.value, (0, 0))
        totals[cls.value] = (count + 1, size + (scenario.remote.path / key).stat().st_size)
    return totals


def _assert_scan_matches(scenario: Scenario, connection: StorageConnection) -> ScanRun:
    assert dvc_classes_by_key(connection) == scenario.expected
    run = scan(connection)
    assert run.status == ScanRun.Status.SUCCEEDED
    assert scanned_totals(run) == _expected_totals(scenario)
    prefixes = {shard.prefix for shard in run.shards.filter(top_level_only=False)}
    # Both layouts are split by their two-hex directory, so workers list them in parallel.
    hashed = {key[: key.rfind("/") + 1] for key in scenario.expected if parse_object_key(key)}
    assert hashed <= prefixes
    assert any(not prefix.startswith("files/") for prefix in hashed) and any(
        prefix.startswith("files/md5/") for prefix in hashed)
    return run


def test_local_remote_shared_by_two_repositories_classifies_every_object(scenario):
    connection = _local_remote(scenario, [scenario.detector, scenario.trainer])
    run = _assert_scan_matches(scenario, connection)
    # The .dir objects were read once: two referenced directories present in the remote (DVC 2 and DVC 3).
    assert DvcDirManifest.objects.filter(connection=connection).count() == 2
    assert run.shards.filter(prefix="files/md5/", top_level_only=True).exists()

    findings = {finding.key: finding for finding in connection.findings.all()}
    trainer_hist = findings[f"dvc_historical:{scenario.trainer.pk}:data/shared.bin"]
    assert trainer_hist.kind == Finding.Kind.DVC_HISTORICAL
    assert trainer_hist.uri == "dvc://vision/trainer#data/shared.bin"
    assert (trainer_hist.object_count, trainer_hist.total_bytes) == (1, len(SHARED_V1))
    assert trainer_hist.storage_owner == "Greta Gray <greta@example.com>"
    assert trainer_hist.hints[0].startswith(f"Last referenced by commit {scenario.trainer_commits['t1'][:10]}")
    images_hist = findings[f"dvc_historical:{scenario.detector.pk}:data/images"]
    assert images_hist.object_count == 3  # the DVC 2 .dir and its two files
    assert images_hist.storage_owner == "Alice Able <alice@example.com>"
    unreferenced = [finding for finding in findings.values() if finding.kind == Finding.Kind.DVC_UNREFERENCED]
    assert len(unreferenced) == 1
    assert unreferenced[0].object_count == 2
    assert unreferenced[0].storage_owner  # the files' owner on disk
    assert unreferenced[0].oldest_modified is not None
    assert {finding.kind for finding in findings.values()} == {Finding.Kind.DVC_HISTORICAL,
                                                                Finding.Kind.DVC_UNREFERENCED}

    # Re-scanning changes nothing: the same findings, updated in place.
    before = {key: (finding.pk, finding.object_count, finding.total_bytes) for key, finding in findings.items()}
    again = scan(connection)
    assert again.pk != run.pk
    assert {finding.key: (finding.pk, finding.object_count, finding.total_bytes)
            for finding in connection.findings.all()} == before
    assert all(finding.is_open for finding in connection.findings.all())

    # Data that goes away closes its finding on the next complete scan.
    (scenario.remote.path / object_key(md5_of(SHARED_V1))).unlink()
    scan(connection)
    trainer_hist.refresh_from_db()
    assert trainer_hist.status == Finding.Status.RESOLVED


def test_s3_remote_classifies_every_object_like_the_local_one(scenario, moto_endpoint, bucket):
    connection = _s3_remote(scenario, moto_endpoint, bucket, [scenario.detector, scenario.trainer])
    _assert_scan_matches(scenario, connection)
    summary = remote_summary(connection)
    assert [(bar.label, bar.count) for bar in summary.by_class] == [
        ("live", 9), ("historical", 5), ("unreferenced", 2), ("run cache", 1), ("temporary", 2), ("other", 1)]
    repos = {bar.label: bar.count for bar in summary.by_repo}
    assert repos == {"vision/detector": 11, "vision/trainer": 3, "no repository": 6}
    assert summary.warnings == []
    exported = sorted(item.uri for item in unreferenced_objects(connection))
    assert exported == sorted(f"s3://{bucket}/dvc/{key}" for key, cls in scenario.expected.items()
                              if cls == ObjectClass.UNREFERENCED)


def test_a_shared_remote_with_an_unindexed_repository_warns_everywhere(scenario, client):
    connection = _local_remote(scenario, [scenario.detector, scenario.trainer])
    TrainingRepo.objects.filter(pk=scenario.trainer.pk).update(status=TrainingRepo.Status.NEW)
    connection.refresh_from_db()
    run = scan(connection)
    assert run.status == ScanRun.Status.SUCCEEDED
    # The trainer's objects still count as referenced (its earlier index is kept), but the warning says the
    # report cannot be trusted until every repository is indexed.
    warnings = remote_summary(connection).warnings
    assert len(warnings) == 1 and "shared by 2 repositories" in warnings[0] and "vision/trainer" in warnings[0]
    finding = connection.findings.get(kind=Finding.Kind.DVC_UNREFERENCED)
    assert warnings[0] in finding.hints

    staff = make_person(username="ops", staff=True)
    answer = client.get(f"/api/v1/storage/connections/{connection.name}/dvc/", HTTP_AUTHORIZATION=bearer(staff))
    assert answer.status_code == 200, answer.content
    assert answer.json()["warnings"] == warnings
    client.force_login(staff.user)
    page = client.get(f"/storage/dvc-remotes/{connection.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "shared by 2 repositories" in html
    assert 'action="/dvc/decode/"' in html and 'name="q"' in html  # the hash search uses the decode page
    assert f"/api/v1/storage/connections/{connection.name}/dvc/unreferenced.csv" in html
    assert "By classification" in html and "vision/detector" in html and "run cache" in html
    assert f'href="/storage/dvc-remotes/{connection.pk}/"' in client.get("/storage/scans/").content.decode()


def test_objects_referenced_only_by_a_repository_whose_indexing_failed_are_flagged(scenario):
    connection = _local_remote(scenario, [scenario.detector, scenario.trainer])
    TrainingRepo.objects.filter(pk=scenario.trainer.pk).update(status=TrainingRepo.Status.FAILED)
    run = scan(connection)
    warnings = remote_summary(connection).warnings
    assert any(warning.startswith("3 objects") and "vision/trainer" in warning for warning in warnings), warnings
    assert run.status == ScanRun.Status.SUCCEEDED


def test_a_slow_local_remote_has_its_manifests_read_by_threads(scenario, monkeypatch):
    # A first run of reads slower than LOCAL_RUN_SECONDS (an NFS mount, say) hands the rest to the thread pool.
    monkeypatch.setattr("storage.dvc.remote_scan.LOCAL_RUN_SECONDS", 0)
    monkeypatch.setattr("storage.dvc.remote_scan.LOCAL_READS_PER_TASK", 1)
    connection = _local_remote(scenario, [scenario.detector, scenario.trainer])
    _assert_scan_matches(scenario, connection)
    assert DvcDirManifest.objects.filter(connection=connection, error="").count() == 2


def test_a_repository_not_linked_explains_nothing(scenario):
    connection = _local_remote(scenario, [scenario.detector])
    classes = dvc_classes_by_key(connection)
    assert classes[object_key(md5_of(SHARED_V2))] == ObjectClass.UNREFERENCED
    assert classes[object_key(md5_of(TRAINER_DVC2), dvc3=False)] == ObjectClass.UNREFERENCED
    assert classes[object_key(md5_of(b"jpeg-c"))] == ObjectClass.LIVE


def test_export_lists_unreferenced_objects_as_csv_and_json(scenario, client):
    connection = _local_remote(scenario, [scenario.detector, scenario.trainer])
    scan(connection)
    staff = make_person(username="ops", staff=True)
    root = f"file://{scenario.remote.path}/"
    wanted = sorted(key for key, cls in scenario.expected.items() if cls == ObjectClass.UNREFERENCED)
    sizes = {key: (scenario.remote.path / key).stat().st_size for key in wanted}

    answer = client.get(f"/api/v1/storage/connections/{connection.name}/dvc/unreferenced.csv",
                        HTTP_AUTHORIZATION=bearer(staff))
    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(answer.streaming_content).decode())))
    assert rows[0] == ["uri", "key", "size", "last_modified", "storage_owner"]
    assert sorted((row[0], row[1], int(row[2])) for row in rows[1:]) == [
        (root + key, key, sizes[key]) for key in wanted]

    answer = client.get(f"/api/v1/storage/connections/{connection.name}/dvc/unreferenced.json",
                        HTTP_AUTHORIZATION=bearer(staff))
    body = json.loads(b"".join(answer.streaming_content))
    assert body["connection"] == connection.name
    assert body["warnings"] == []
    assert sorted(item["key"] for item in body["objects"]) == wanted
    assert all(item["last_modified"] and item["storage_owner"] for item in body["objects"])

    # People who cannot manage connections see nothing.
    answer = client.get(f"/api/v1/storage/connections/{connection.name}/dvc/unreferenced.csv",
                        HTTP_AUTHORIZATION=bearer(make_person(username="reader")))
    assert answer.status_code == 403


@pytest.mark.parametrize("extension", ["csv", "json"])
def test_an_export_of_a_remote_that_cannot_be_read_answers_why_instead_of_a_cut_off_file(scenario, client,
                                                                                        extension):
    connection = _local_remote(scenario, [scenario.detector, scenario.trainer])
    scan(connection)
    shutil.rmtree(scenario.remote.path)

    answer = client.get(f"/api/v1/storage/connections/{connection.name}/dvc/unreferenced.{extension}",
                        HTTP_AUTHORIZATION=bearer(make_person(username="ops", staff=True)))

    # A streamed 200 broke off after the CSV header: a file that looked like "nothing unreferenced".
    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "remote_unreadable"
    assert "is not a directory" in answer.json()["error"]["message"]


def test_regular_connections_ignore_dvc_classification(storage_settings, tmp_path):
    share = tmp_path / "mnt" / "share"
    (share / "ab").mkdir(parents=True)
    (share / "ab" / ("c" * 30)).write_bytes(b"x")
    connection = make_local_connection([str(share)])
    run = scan(connection)
    assert not DvcScanAggregate.objects.filter(shard__run=run).exists()
    assert [finding.kind for finding in connection.findings.all()] == [Finding.Kind.UNREGISTERED]


def test_linking_repositories_needs_a_dvc_remote(storage_settings, tmp_path, owner):
    (tmp_path / "mnt" / "plain").mkdir()
    connection = make_local_connection([str(tmp_path / "mnt" / "plain")])
    with pytest.raises(Exception, match="DVC remote"):
        connection_set_dvc_repos(connection=connection, repos=[], actor=None)


def test_a_worker_killed_mid_shard_resumes_without_double_counting(scenario, settings):
    settings.KURA_SCAN_CHECKPOINT_EVERY = 4
    for index in range(30):
        scenario.remote.put_raw(f"files/md5/aa/{index:030x}", b"u" * (index + 1))
    connection = _local_remote(scenario, [scenario.detector, scenario.trainer])
    run = scan_request(connection=connection, trigger="cli")
    scan_plan(run=run)
    shard = run.shards.get(prefix="files/md5/aa/")
    thresholds, while_counting = gc.get_threshold(), []
    with pytest.raises(SimulatedCrash):
        shard_process(shard_id=shard.pk, crash_after=19,
                      progress=lambda objects, size: while_counting.append(gc.get_threshold()[0]))
    assert while_counting and set(while_counting) == {SPACED_ALLOCATIONS}  # see kura.collection
    assert gc.get_threshold() == thresholds  # as they were, crash or not
    shard.refresh_from_db()
    assert 0 < shard.objects_seen < 19
    ScanShard.objects.filter(pk=shard.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    run = scan_run_inline(run=run)
    rows = DvcScanAggregate.objects.filter(shard=shard)
    assert [(row.object_class, row.object_count, row.byte_count) for row in rows] == [
        ("unreferenced", 30, sum(range(1, 31)))]
    expected = _expected_totals(scenario)
    count, size = expected["unreferenced"]
    expected["unreferenced"] = (count + 30, size + sum(range(1, 31)))
    assert scanned_totals(run) == expected


def test_a_never_indexed_repository_leaves_its_objects_unreferenced_and_says_so(scenario, owner):
    unindexed = training_repo_create(actor=owner, name="vision/trainer-fork", url=f"{scenario.trainer.url}-fork")
    connection = _local_remote(scenario, [scenario.detector, unindexed])
    scan(connection)
    classes = dvc_classes_by_key(connection)
    assert classes[object_key(md5_of(SHARED_V2))] == ObjectClass.UNREFERENCED
    finding = connection.findings.get(kind=Finding.Kind.DVC_UNREFERENCED)
    assert finding.object_count == 2 + 3  # the two true orphans and the fork's three objects
    warning = next(hint for hint in finding.hints if "not indexed" in hint)
    assert "vision/trainer-fork (not indexed yet)" in warning and "shared by 2 repositories" in warning


def test_a_small_remote_is_one_shard_from_its_first_scan_and_splits_once_it_grows(scenario, settings):
    settings.KURA_SCAN_DVC_SPLIT_ABOVE = 250_000
    connection = _local_remote(scenario, [scenario.detector, scenario.trainer])
    first = scan(connection)
    assert first.expected_objects is None  # never counted: the plan went by an estimate
    assert [(shard.prefix, shard.top_level_only) for shard in first.shards.all()] == [("", False)]
    findings = {finding.key: (finding.pk, finding.object_count, finding.total_bytes)
                for finding in connection.findings.all()}

    again = scan(connection)

    assert again.expected_objects == len(scenario.expected)
    assert [(shard.prefix, shard.top_level_only) for shard in again.shards.all()] == [("", False)]
    assert scanned_totals(again) == scanned_totals(first) == _expected_totals(scenario)
    assert {finding.key: (finding.pk, finding.object_count, finding.total_bytes)
            for finding in connection.findings.all()} == findings
    assert set(connection.findings.values_list("last_run", flat=True)) == {again.pk}

    settings.KURA_SCAN_DVC_SPLIT_ABOVE = len(scenario.expected) - 1  # it grew past the limit: split again
    split = scan(connection)
    assert split.shards.count() > 2
    assert scanned_totals(split) == _expected_totals(scenario)
    assert {finding.key: (finding.pk, finding.object_count) for finding in connection.findings.all()} == {
        key: (pk, count) for key, (pk, count, _) in findings.items()}


def _even_remote(remote: LocalRemote, dvc3_heads: int, dvc3_each: int, dvc2_heads: int, dvc2_each: int) -> int:
    """Unreferenced objects spread evenly over hash directories (as md5s are), plus a run-cache entry; returns
    how many objects the hash directories hold."""
    for head in range(dvc3_heads):
        for index in range(dvc3_each):
            remote.put_raw(f"files/md5/{head * 7:02x}/{index:030x}", b"3")
    for head in range(dvc2_heads):
        for index in range(dvc2_each):
            remote.put_raw(f"{head * 5 + 1:02x}/{index:030x}", b"2")
    remote.put_raw("runs/ab/cd/0/0", b"r")
    return dvc3_heads * dvc3_each + dvc2_heads * dvc2_each


@pytest.mark.parametrize(("limit_offset", "split"), [(-1, True), (0, False)])
def test_a_first_scan_splits_when_a_sample_of_hash_directories_says_the_remote_is_large(
        storage_settings, tmp_path, limit_offset, split):
    remote = LocalRemote(tmp_path / "mnt" / "remote")
    hashed = _even_remote(remote, dvc3_heads=8, dvc3_each=5, dvc2_heads=4, dvc2_each=2)
    storage_settings.KURA_SCAN_DVC_SPLIT_ABOVE = hashed + limit_offset  # the estimate is exact for an even spread
    connection = _local_remote_at(remote, [])

    run = scan(connection)

    assert run.status == ScanRun.Status.SUCCEEDED and run.expected_objects is None
    prefixes = {shard.prefix for shard in run.shards.all()}
    assert (prefixes > {"files/md5/00/", "01/", "runs/"}) == split
    assert split or prefixes == {""}
    assert sum(shard.objects_seen for shard in run.shards.all()) == hashed + 1


def test_a_first_scan_of_an_s3_remote_counts_only_enough_of_its_sample(storage_settings, moto_endpoint, bucket,
                                                                        tmp_path):
    remote = LocalRemote(tmp_path / "mnt" / "remote")
    _even_remote(remote, dvc3_heads=2, dvc3_each=30, dvc2_heads=1, dvc2_each=3)
    client = s3_client(moto_endpoint)
    for key in remote.object_keys():
        client.put_object(Bucket=bucket, Key=f"dvc/{key}", Body=b"x")
    storage_settings.KURA_SCAN_DVC_SPLIT_ABOVE = 10
    connection = make_s3_connection(moto_endpoint, [f"{bucket}/dvc"], is_dvc_remote=True)
    lister = lister_for(connection)
    pages: list[str] = []
    original = lister.iter_batches

    def counted(root, spec, start_after, limit):
        for batch in original(root, spec, start_after, limit):
            pages.append(spec.prefix)
            yield batch

    lister.iter_batches = counted  # type: ignore[method-assign]
    specs = dvc_shard_specs(connection, lister, f"{bucket}/dvc")

    assert {"files/md5/00/", "files/md5/07/", "01/"} <= {spec.prefix for spec in specs}
    assert pages == ["01/", "files/md5/00/"]  # one batch of the first DVC 3 directory already said "large"

    storage_settings.KURA_SCAN_DVC_SPLIT_ABOVE = 2 * 30 + 3
    assert dvc_shard_specs(connection, lister_for(connection), f"{bucket}/dvc") == [ShardSpec("")]


def test_a_sample_that_cannot_be_listed_splits_the_first_scan(storage_settings, tmp_path, monkeypatch):
    remote = LocalRemote(tmp_path / "mnt" / "remote")
    _even_remote(remote, dvc3_heads=2, dvc3_each=2, dvc2_heads=0, dvc2_each=0)
    connection = _local_remote_at(remote, [])
    lister = lister_for(connection)

    def failing(root, spec, start_after, limit):
        raise ListingError("Permission denied reading files/md5/00/.", code="access_denied", permanent=True)
        yield

    monkeypatch.setattr(lister, "iter_batches", failing)
    specs = dvc_shard_specs(connection, lister, str(remote.path))
    assert [spec.prefix for spec in specs if not spec.top_level_only] == ["files/md5/00/", "files/md5/07/", "runs/"]


@pytest.mark.parametrize("preload_rows", [1, 10**9])
def test_preloads_by_chunks_of_hash_heads_classify_like_lookups(scenario, monkeypatch, preload_rows):
    monkeypatch.setattr("storage.dvc.remote_scan.PRELOAD_ROWS", preload_rows)
    connection = _local_remote(scenario, [scenario.detector, scenario.trainer])
    manifests_refresh(connection)
    classifier = RemoteClassifier(connection)
    assert (classifier.heads_per_chunk() < 256) == (preload_rows == 1)  # chunks of a few heads, or all of them
    keys = scenario.remote.object_keys()
    items = [ListedObject(key, 1, None) for key in keys]
    looked_up = classifier.classify(items)
    for key, verdict in zip(keys, looked_up, strict=True):
        parsed = parse_object_key(key)
        if parsed is not None:
            preloaded = classifier.preload(parsed.md5[:2])
            assert preloaded.covers(parsed.md5)
            assert classifier.classify([ListedObject(key, 1, None)], preloaded) == [verdict]
    assert dict(zip(keys, (verdict.object_class for verdict in looked_up), strict=True)) == scenario.expected
    assert _assert_scan_matches(scenario, connection).status == ScanRun.Status.SUCCEEDED


def test_batches_are_classified_like_single_keys(scenario):
    connection = _local_remote(scenario, [scenario.detector, scenario.trainer])
    manifests_refresh(connection)
    classifier = RemoteClassifier(connection)
    hex30 = "0123456789abcdef0123456789abcd"
    keys = [*scenario.remote.object_keys(), f"ab/{hex30}\n", f"ab/{hex30.upper()}", f"files/md5/ab/{hex30}.dir",
            f"xfiles/md5/ab/{hex30}", f"files/ab/{hex30}", f"abc/{hex30}", f"ab/{hex30}0", "runs/ab/x.tmp",
            f"ab/{hex30}.tmp", "top"]
    batches = list(batched([ListedObject(key, 1, None) for key in sorted(keys)], limit=3))
    by_batch = [verdict for verdicts in classifier.classify_batches(batches) for verdict in verdicts]
    assert by_batch == classifier.classify([ListedObject(key, 1, None) for key in sorted(keys)])


def test_reconciling_a_dvc_remote_reads_no_registered_locations(scenario):
    # Registered locations only matter to a regular connection's findings; reading them here would be wasted work.
    connection = _local_remote(scenario, [scenario.detector, scenario.trainer])
    run = scan(connection)
    before = sorted(connection.findings.values_list("key", "object_count", "status"))

    with CaptureQueriesContext(db_connection) as queries:
        reconcile_dvc_run(run)

    assert not [query["sql"] for query in queries.captured_queries if "catalog_storagelocation" in query["sql"]]
    assert sorted(connection.findings.values_list("key", "object_count", "status")) == before
    assert any(key.startswith("dvc_unreferenced:") for key, _, _ in before)


@pytest.mark.parametrize("store", ["local", "s3"])
def test_a_malformed_dir_is_recorded_once_and_a_missing_one_is_read_once_pushed(scenario, request, store):
    images_v2, images_v3 = scenario.history.images_v2, scenario.history.images_v3
    scenario.remote.put_raw(object_key(images_v2.md5, is_dir=True), b"[not json")  # pushed half-written, say
    member_v3 = scenario.remote.push_file(b"jpeg-a3")  # the file of a directory whose .dir is not pushed yet
    if store == "s3":
        bucket = request.getfixturevalue("bucket")
        connection = _s3_remote(scenario, request.getfixturevalue("moto_endpoint"), bucket,
                                [scenario.detector, scenario.trainer])
    else:
        connection = _local_remote(scenario, [scenario.detector, scenario.trainer])

    assert scan(connection).status == ScanRun.Status.SUCCEEDED
    manifests = {row.md5: row.error for row in DvcDirManifest.objects.filter(connection=connection)}
    assert manifests[images_v2.md5].startswith("not a .dir manifest: not JSON")
    assert images_v3.md5 not in manifests  # missing: nothing recorded, tried again by the next scan
    classes = dvc_classes_by_key(connection)
    assert classes[object_key(md5_of(b"jpeg-c"))] == ObjectClass.UNREFERENCED  # only its unreadable .dir says
    assert classes[member_v3] == ObjectClass.UNREFERENCED
    assert any(warning.startswith("1 directory outputs") for warning in remote_summary(connection).warnings)

    pushed = scenario.remote.push_dir(images_v3)[-1]
    if store == "s3":
        s3_client(request.getfixturevalue("moto_endpoint")).put_object(
            Bucket=bucket, Key=f"dvc/{pushed}", Body=(scenario.remote.path / pushed).read_bytes())
    assert scan(connection).status == ScanRun.Status.SUCCEEDED
    manifests = {row.md5: row.error for row in DvcDirManifest.objects.filter(connection=connection)}
    assert manifests[images_v3.md5] == ""
    assert manifests[images_v2.md5].startswith("not a .dir manifest")  # content-addressed: never read again
    assert dvc_classes_by_key(connection)[member_v3] == ObjectClass.LIVE  # through images_v3, head of a branch



@pytest.mark.parametrize("chunk", [remote_scan.MANIFEST_CHUNK, 1])
def test_manifests_another_scan_saved_meanwhile_stay_as_they_are(scenario, monkeypatch, chunk):
    # Two scans of one remote read the same .dir objects at once: the one that saves second keeps the first's rows
    # and adds members only to the rows it created, so no directory's members are counted twice. A chunk at a time,
    # the next one read while the last is saved.
    monkeypatch.setattr(remote_scan, "MANIFEST_CHUNK", chunk)
    connection = _local_remote(scenario, [scenario.detector, scenario.trainer])
    wanted = remote_scan._unread_dirs(connection, [scenario.detector.pk, scenario.trainer.pk])
    path_of = {md5: scenario.remote.path / object_key(md5, dvc3=layout == Layout.DVC3, is_dir=True)
               for md5, layout in wanted}
    pushed = [(md5, layout) for md5, layout in wanted if path_of[md5].exists()]
    assert len(pushed) >= 2
    theirs = DvcDirManifest.objects.create(connection=connection, md5=pushed[0][0], layout=pushed[0][1].value,
                                           root="theirs", error="")
    DvcDirMember.objects.create(manifest=theirs, md5="f" * 32, relpath="theirs.bin")
    monkeypatch.setattr(remote_scan, "_unread_dirs", lambda *args: wanted)  # read before theirs were saved

    assert manifests_refresh(connection) == len(pushed)

    rows = DvcDirManifest.objects.filter(connection=connection)
    assert sorted(rows.values_list("md5", flat=True)) == sorted(md5 for md5, _ in pushed)
    assert rows.get(md5=theirs.md5).root == "theirs"
    assert list(theirs.members.values_list("md5", "relpath")) == [("f" * 32, "theirs.bin")]
    for row in rows.exclude(pk=theirs.pk):
        listed = json.loads(path_of[row.md5].read_bytes())
        assert listed and sorted(row.members.values_list("md5", "relpath")) == sorted(
            (entry["md5"], entry["relpath"]) for entry in listed)


def test_a_dvc_remote_read_from_an_s3_inventory_classifies_like_a_listing(scenario, moto_endpoint, bucket):
    listed = _s3_remote(scenario, moto_endpoint, bucket, [scenario.detector, scenario.trainer])
    keys = sorted(scenario.remote.object_keys())
    rows = [inventory_row(bucket, f"dvc/{key}", (scenario.remote.path / key).stat().st_size) for key in keys]
    halves = [rows[: len(rows) // 2], rows[len(rows) // 2 :]]
    manifest = publish_inventory(moto_endpoint, bucket, f"{bucket}-inv", halves)
    from_inventory = make_s3_connection(moto_endpoint, [f"{bucket}/dvc"], is_dvc_remote=True,
                                        inventory_manifest=manifest)
    connection_set_dvc_repos(connection=from_inventory, repos=[scenario.detector, scenario.trainer], actor=None)

    run = scan(from_inventory)

    assert (run.status, run.source, run.shards.count()) == (ScanRun.Status.SUCCEEDED, ScanRun.Source.INVENTORY, 2)
    assert dvc_classes_by_key(from_inventory) == dvc_classes_by_key(listed) == scenario.expected
    assert scanned_totals(run) == scanned_totals(scan(listed))


def test_reading_manifests_reports_its_progress_chunk_by_chunk(scenario, monkeypatch):
    connection = _local_remote(scenario, [scenario.detector, scenario.trainer])
    monkeypatch.setattr("storage.dvc.remote_scan.MANIFEST_CHUNK", 1)
    heard: list[tuple[int, int]] = []
    manifests_refresh(connection, progress=lambda done, wanted: heard.append((done, wanted)))
    wanted = heard[0][1]
    assert wanted >= 2  # the two pushed directories and those referenced but never pushed
    assert heard == [(done, wanted) for done in range(wanted + 1)]

    # A scan asks again only for the directories never pushed, and its run says how many it asked for.
    never_pushed = wanted - DvcDirManifest.objects.filter(connection=connection).count()
    run = scan(connection)
    assert never_pushed > 0 and (run.manifests_wanted, run.manifests_done) == (never_pushed, never_pushed)


def test_manage_py_scan_shows_the_manifest_reading_before_the_shards(scenario, monkeypatch):
    connection = _local_remote(scenario, [scenario.detector, scenario.trainer])
    monkeypatch.setattr("storage.dvc.remote_scan.MANIFEST_CHUNK", 1)
    out, err = io.StringIO(), io.StringIO()
    call_command("scan", connection.name, stdout=out, stderr=err)
    lines = err.getvalue().splitlines()
    wanted = ScanRun.objects.get(connection=connection).manifests_wanted
    assert wanted and lines[0].endswith(f".dir manifests 0/{wanted}")
    assert any(line.endswith(f".dir manifests {wanted}/{wanted}") for line in lines)
    assert "objects" in lines[-1]  # then the shards' own progress


def test_a_remote_whose_manifests_cannot_be_read_fails_with_the_reason_and_blocks_no_later_scan(scenario):
    connection = _local_remote(scenario, [scenario.detector, scenario.trainer])
    shutil.rmtree(scenario.remote.path)  # unmounted since the connection was added

    run = scan(connection)  # the worker reads the .dir manifests first: this raised, leaving the run "running"

    assert run.status == ScanRun.Status.FAILED and run.finished_at is not None
    assert [(error["root"], error["code"]) for error in run.errors] == [(str(scenario.remote.path), "not_found")]
    assert "is not a directory" in run.errors[0]["message"]
    assert scan_request(connection=connection, trigger="cli").pk != run.pk  # a new scan, not the stuck one


def test_an_s3_remote_without_its_credentials_fails_with_the_reason_before_reading_manifests(
        scenario, moto_endpoint, bucket, monkeypatch):
    connection = _s3_remote(scenario, moto_endpoint, bucket, [scenario.detector, scenario.trainer])
    monkeypatch.delenv("KURA_TEST_S3_SECRET")

    run = scan(connection)

    assert run.status == ScanRun.Status.FAILED
    assert [error["code"] for error in run.errors] == ["credentials_unavailable"]
    assert "KURA_TEST_S3_SECRET" in run.errors[0]["message"]


def test_an_s3_remote_without_default_credentials_fails_at_once_instead_of_marking_every_manifest_unreadable(
        scenario, moto_endpoint, bucket, no_default_credentials):
    connection = _s3_remote(scenario, moto_endpoint, bucket, [scenario.detector, scenario.trainer])
    StorageConnection.objects.filter(pk=connection.pk).update(access_key_env="", secret_key_env="")
    connection.refresh_from_db()  # signs in through the workers' own AWS variables, which are not set

    run = scan(connection)

    assert run.status == ScanRun.Status.FAILED
    assert [error["code"] for error in run.errors] == ["credentials_unavailable"]
    assert "AWS_ACCESS_KEY_ID" in run.errors[0]["message"]
    assert not DvcDirManifest.objects.filter(connection=connection).exists()


def _while_reading_manifests(run: ScanRun, action) -> list:
    """scan_plan's progress hook that calls ``action`` once, after the first chunk of manifests is saved."""
    results: list = []

    def hook(objects: int, size: int) -> None:
        if not results and ScanRun.objects.get(pk=run.pk).manifests_done == 1:
            results.append(action())

    return [hook, results]


def test_a_planner_still_reading_manifests_is_not_planned_again(scenario, monkeypatch):
    connection = _local_remote(scenario, [scenario.detector, scenario.trainer])
    monkeypatch.setattr("storage.dvc.remote_scan.MANIFEST_CHUNK", 1)
    run = scan_request(connection=connection, trigger="cli")

    def long_after_the_start() -> tuple[list[int], list[int]]:
        # Reading began longer ago than the stall threshold, but the reader has said it is alive since.
        ScanRun.objects.filter(pk=run.pk).update(started_at=timezone.now() - timedelta(hours=1))
        return scan_stalled_shards(planning_grace=timedelta(minutes=10))

    hook, stalled = _while_reading_manifests(run, long_after_the_start)
    pending = scan_plan(run=run, progress=hook)

    assert stalled == [([], [])]
    assert pending and set(pending) == set(run.shards.values_list("pk", flat=True))
    assert scan_run_inline(run=run).status == ScanRun.Status.SUCCEEDED


def test_a_planner_taken_for_stalled_and_planned_again_finishes_without_a_duplicate(scenario, monkeypatch):
    connection = _local_remote(scenario, [scenario.detector, scenario.trainer])
    monkeypatch.setattr("storage.dvc.remote_scan.MANIFEST_CHUNK", 1)
    run = scan_request(connection=connection, trigger="cli")

    def silent_too_long_then_planned_by_another_worker() -> tuple[tuple[list[int], list[int]], list[int]]:
        # The first reader's last heartbeat is older than the stall threshold: its run goes back to the queue and a
        # second worker plans it in full while the first one still reads.
        ScanRun.objects.filter(pk=run.pk).update(started_at=timezone.now() - timedelta(hours=1),
                                                 planning_heartbeat_at=timezone.now() - timedelta(minutes=11))
        stalled = scan_stalled_shards(planning_grace=timedelta(minutes=10))
        return stalled, scan_plan(run=ScanRun.objects.get(pk=run.pk))

    hook, seen = _while_reading_manifests(run, silent_too_long_then_planned_by_another_worker)
    first = scan_plan(run=run, progress=hook)  # raised IntegrityError on shard_unique_prefix

    [((replan, shards), second)] = seen
    assert (replan, shards) == ([run.pk], [])
    assert first == [] and second  # the first plan stored is the one handed out; the other changes nothing
    assert set(second) == set(run.shards.values_list("pk", flat=True))
    assert scan_plan(run=run) == []  # a third attempt, e.g. the queued task of the re-plan: nothing either
    done = scan_run_inline(run=run)
    assert done.status == ScanRun.Status.SUCCEEDED
    assert scanned_totals(done) == _expected_totals(scenario)


def test_a_slow_chunk_of_manifests_says_the_reader_is_alive_before_it_is_saved(scenario, monkeypatch):
    connection = _local_remote(scenario, [scenario.detector, scenario.trainer])
    monkeypatch.setattr("storage.dvc.remote_scan.ALIVE_EVERY_SECONDS", 0.05)
    original = remote_scan.ObjectReader.read

    def slow_read(self, root, key):
        time.sleep(0.1)  # an NFS mount or a store that answers slowly
        return original(self, root, key)

    monkeypatch.setattr(remote_scan.ObjectReader, "read", slow_read)
    heard: list[str] = []

    manifests_refresh(connection, progress=lambda done, wanted: heard.append("progress"),
                      alive=lambda: heard.append("alive"))

    assert heard[0] == "progress" and heard[-1] == "progress"
    assert "alive" in heard[1:-1]  # one chunk (all of them), read for longer than ALIVE_EVERY_SECONDS


def _scan_page(client, run: ScanRun) -> str:
    client.force_login(make_person("ada", staff=True).user)
    page = client.get(reverse("frontend:scan", args=[run.pk])).content.decode()
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", page)).split())  # the text a person reads


def test_the_scan_page_says_the_manifests_could_not_be_read_and_nothing_was_listed(scenario, client):
    connection = _local_remote(scenario, [scenario.detector, scenario.trainer])
    shutil.rmtree(scenario.remote.path)  # unmounted since the connection was added

    run = scan(connection)

    page = _scan_page(client, run)
    assert run.manifests_wanted and "then listed" not in page
    assert "The .dir manifests could not be read" in page and "nothing was listed" in page
    assert f"0 of {run.manifests_wanted} manifests had been read when it failed: {run.errors[0]['message']}" in page


def test_the_scan_page_tells_manifests_found_unusable_and_not_pushed(scenario, client):
    images_v2, images_v3 = scenario.history.images_v2, scenario.history.images_v3
    scenario.remote.put_raw(object_key(images_v2.md5, is_dir=True), b"[not json")  # pushed half-written, say
    assert images_v3.md5  # referenced by the history, its .dir never pushed
    connection = _local_remote(scenario, [scenario.detector, scenario.trainer])

    run = scan(connection)

    unusable = DvcDirManifest.objects.filter(connection=connection).exclude(error="").count()
    found = DvcDirManifest.objects.filter(connection=connection, error="").count()
    assert (run.status, run.manifests_found, run.manifests_unusable) == (ScanRun.Status.SUCCEEDED, found, unusable)
    assert unusable == 1 and found and run.manifests_missing > 0
    page = _scan_page(client, run)
    assert (f"Looked for {run.manifests_wanted} .dir manifests not read before: {found} found, 1 unusable "
            f"(unreadable or not a manifest: their files count as unreferenced), {run.manifests_missing} not pushed "
            "yet; then listed.") in page
