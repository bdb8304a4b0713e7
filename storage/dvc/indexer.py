"""Index a training repository's whole history: every DVC output ever committed, on every ref.

A run mirrors the repository, walks only commits not reachable from the heads of the previous run, and
records each output that a commit introduced (new relative to all its parents, so a plain merge adds nothing
but a merge that resolves to a new hash does). Liveness (which outputs are current at a branch or tag head) and
reachability (whether any ref still reaches a commit) are recomputed every run because refs move.
Files that do not parse become ``IndexingWarning`` rows; they never stop the run.
"""

import json
import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from storage.dvc.git_history import (
    LIVE_REF_PREFIXES,
    NULL_SHA,
    BlobReader,
    CommitChanges,
    RefHead,
    default_branch,
    existing_objects,
    iter_commit_changes,
    mirror_sync,
    reachable_commits,
    ref_heads,
)
from storage.dvc.parsing import (
    CONFIG_PATH,
    DvcConfig,
    DvcFileContent,
    DvcFileError,
    parse_dvc_config,
    parse_tracked_file,
)
from storage.models import DvcImport, DvcReference, DvcRemoteConfig, IndexingWarning, TrainingRepo

logger = logging.getLogger(__name__)

COMMIT_BATCH = 500
WRITE_BATCH = 2000
MAX_WARNING_LENGTH = 1000
_CACHE_LIMIT = 50_000

T = TypeVar("T")
LiveKey = tuple[str, str, str, str, bool, str]  # source_path + DvcOutput.identity


@dataclass
class IndexRunResult:
    commits_read: int = 0
    references_added: int = 0
    warnings_added: int = 0
    blobs_read: int = 0
    live_references: int = 0
    unreachable_references: int = 0


class _ParsedBlobs:
    """Parse each (blob, path) once: ``-m`` shows a merge's files once per parent and parents share blobs."""

    def __init__(self, reader: BlobReader) -> None:
        self.reader = reader
        self._cache: dict[tuple[str, str], DvcFileContent | DvcFileError] = {}

    def _parse(self, blob: str, path: str, content: bytes | None) -> DvcFileContent | DvcFileError:
        if content is None:
            return DvcFileError(f"{path}: blob {blob} is missing from the mirror")
        try:
            return parse_tracked_file(content, path)
        except DvcFileError as error:
            return error

    def prefetch(self, wanted: Iterable[tuple[str, str]]) -> None:
        """Read and parse every (blob, path) not cached yet, in one pipelined exchange with cat-file."""
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        missing = sorted({pair for pair in wanted if pair not in self._cache and pair[1] != CONFIG_PATH})
        contents = self.reader.read_many(sorted({blob for blob, _path in missing}))
        for blob, path in missing:
            self._cache[(blob, path)] = self._parse(blob, path, contents.get(blob))

    def get(self, blob: str, path: str) -> DvcFileContent | DvcFileError:
        key = (blob, path)
        cached = self._cache.get(key)
        if cached is None:
            cached = self._cache[key] = self._parse(blob, path, self.reader.read(blob))
        return cached

    def config(self, blob: str) -> DvcConfig | DvcFileError:
        content = self.reader.read(blob)
        if content is None:
            return DvcFileError(f"{CONFIG_PATH}: blob {blob} is missing from the mirror")
        try:
            return parse_dvc_config(content)
        except DvcFileError as error:
            return error


@dataclass
class _Pending:
    references: list[tuple[Any, ...]] = field(default_factory=list)  # in _REFERENCE_COLUMNS order
    imports: list[DvcImport] = field(default_factory=list)
    warnings: list[IndexingWarning] = field(default_factory=list)
    remotes: dict[tuple[str, str], tuple[datetime, str]] = field(default_factory=dict)


@dataclass
class _Liveness:
    """Which output identities are current at which branch or tag heads, and the rows that existed before."""

    refs_by_key: dict[LiveKey, set[str]]
    existing: list[tuple[Any, ...]]  # (id, *LiveKey, live_refs) of rows written by earlier runs

    def refs_for(self, key: LiveKey) -> list[str]:
        return sorted(self.refs_by_key.get(key, ()))


def _changes_by_path(commit: CommitChanges) -> dict[str, list[tuple[str, str]]]:
    """path → (old blob, new blob) for paths that differ from *every* parent (else the commit only carried them)."""
    parents = max(len(commit.parents), 1)
    grouped: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for diff in commit.diffs:
        for change in diff:
            grouped[change.path].append((change.old_blob, change.new_blob))
    return {path: pairs for path, pairs in grouped.items() if len(pairs) >= parents and pairs[0][1] != NULL_SHA}


def _collect_commit(
    repo: TrainingRepo, commit: CommitChanges, blobs: _ParsedBlobs, liveness: _Liveness | None, pending: _Pending
) -> None:
    authored_at = datetime.fromisoformat(commit.authored_at)

    def warn(path: str, message: str) -> None:
        pending.warnings.append(
            IndexingWarning(repo=repo, commit=commit.sha, path=path, message=message[:MAX_WARNING_LENGTH])
        )

    for path, pairs in _changes_by_path(commit).items():
        new_blob = pairs[0][1]
        if path == CONFIG_PATH:
            config = blobs.config(new_blob)
            if isinstance(config, DvcFileError):
                warn(path, str(config))
                continue
            for name, url in config.remotes.items():
                seen = pending.remotes.get((name, url))
                if seen is None or authored_at < seen[0]:
                    pending.remotes[(name, url)] = (authored_at, commit.sha)
            continue
        parsed = blobs.get(new_blob, path)
        if isinstance(parsed, DvcFileError):
            warn(path, str(parsed))
            continue
        known: set[tuple[str, str, str, bool, str]] = set()
        for old_blob, _new in pairs:
            if old_blob != NULL_SHA:
                previous = blobs.get(old_blob, path)
                if isinstance(previous, DvcFileContent):
                    known.update(output.identity for output in previous.outputs)
        for output in parsed.outputs:
            if output.identity in known:
                continue
            refs = liveness.refs_for((path, *output.identity)) if liveness is not None else []
            pending.references.append(
                (
                    repo.pk, output.md5, output.is_dir, output.hash_name, output.size, output.nfiles, output.path,
                    output.stage, output.cache, output.remote, path, commit.sha, commit.author_name[:255],
                    commit.author_email[:255], connection.ops.adapt_datetimefield_value(authored_at),
                    json.dumps(refs), bool(refs),
                )
            )  # fmt: skip
        md5_by_path = {output.path: output.md5 for output in parsed.outputs}
        for dep in parsed.imports:
            pending.imports.append(
                DvcImport(
                    repo=repo,
                    commit=commit.sha,
                    source_path=path,
                    path=dep.path,
                    imported_path=dep.source_path,
                    source_url=dep.url,
                    rev=dep.rev,
                    rev_lock=dep.rev_lock,
                    md5=md5_by_path.get(dep.path, ""),
                )
            )


# Column → PostgreSQL array type, in the order rows are built by _collect_commit.
_REFERENCE_COLUMNS = {
    "repo_id": "bigint", "md5": "varchar", "is_dir": "boolean", "hash_name": "varchar", "size": "bigint",
    "nfiles": "integer", "path": "varchar", "stage": "varchar", "cache": "boolean", "remote": "varchar",
    "source_path": "varchar", "commit": "varchar", "author_name": "varchar", "author_email": "varchar",
    "authored_at": "timestamptz", "live_refs": "jsonb", "is_live": "boolean",
}  # fmt: skip


def _insert_references(repo: TrainingRepo, rows: list[tuple[Any, ...]]) -> int:
    """Insert new reference rows, skipping ones an interrupted earlier run already wrote.

    Set-based SQL rather than model instances: building and binding a model per output of a long history costs
    more than reading the history itself. PostgreSQL gets one statement per chunk (arrays through ``unnest``).
    """
    if not rows:
        return 0
    before = DvcReference.objects.filter(repo=repo).count()
    table = connection.ops.quote_name(DvcReference._meta.db_table)
    all_columns = (*_REFERENCE_COLUMNS, "reachable")
    names = ", ".join(connection.ops.quote_name(column) for column in all_columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            arrays = ", ".join(f"%s::{kind}[]" for kind in _REFERENCE_COLUMNS.values())
            sql = (
                f"INSERT INTO {table} ({names}) SELECT *, true FROM unnest({arrays}) "  # noqa: S608 - names from the model, values bound
                "ON CONFLICT DO NOTHING"
            )
            for batch in _chunks(rows, WRITE_BATCH):
                cursor.execute(sql, [list(column) for column in zip(*batch, strict=True)])
        else:
            placeholders = ", ".join(["%s"] * len(_REFERENCE_COLUMNS))
            cursor.executemany(
                f"INSERT INTO {table} ({names}) VALUES ({placeholders}, true) ON CONFLICT DO NOTHING",  # noqa: S608
                rows,
            )
    return DvcReference.objects.filter(repo=repo).count() - before


@transaction.atomic
def _flush(repo: TrainingRepo, pending: _Pending, result: IndexRunResult) -> None:
    result.references_added += _insert_references(repo, pending.references)
    DvcImport.objects.bulk_create(pending.imports, batch_size=WRITE_BATCH, ignore_conflicts=True)
    before = IndexingWarning.objects.filter(repo=repo).count()
    IndexingWarning.objects.bulk_create(pending.warnings, batch_size=WRITE_BATCH, ignore_conflicts=True)
    result.warnings_added += IndexingWarning.objects.filter(repo=repo).count() - before
    for (name, url), (_date, sha) in pending.remotes.items():
        DvcRemoteConfig.objects.get_or_create(repo=repo, name=name, url=url, defaults={"first_commit": sha})
    pending.references, pending.imports, pending.warnings = [], [], []
    pending.remotes = {}


def _compute_liveness(
    repo: TrainingRepo, heads: list[RefHead], previous: dict[str, str], blobs: _ParsedBlobs
) -> _Liveness:
    """Only heads that moved (or appeared) are read from git; what an unchanged head holds is already recorded in
    the rows' ``live_refs``, keyed by output identity so a hash re-committed later is live there too.
    """
    current = {head.name: head.commit for head in heads if head.name.startswith(LIVE_REF_PREFIXES)}
    unchanged = {name for name, commit in current.items() if previous.get(name) == commit}
    existing = list(
        DvcReference.objects.filter(repo=repo).values_list(
            "id", "source_path", "stage", "path", "md5", "is_dir", "hash_name", "live_refs"
        )
    )
    live: dict[LiveKey, set[str]] = defaultdict(set)
    for _id, source_path, stage, path, md5, is_dir, hash_name, live_refs in existing:
        kept = [ref for ref in live_refs if ref in unchanged]
        if kept:
            live[(source_path, stage, path, md5, is_dir, hash_name)].update(kept)
    moved = {name: commit for name, commit in current.items() if name not in unchanged}
    files_by_commit = blobs.reader.tracked_files(list(moved.values()))
    blobs.prefetch((blob, path) for files in files_by_commit.values() for path, blob in files.items())
    for name, commit in moved.items():
        for path, blob in files_by_commit.get(commit, {}).items():
            if path == CONFIG_PATH:
                continue
            parsed = blobs.get(blob, path)
            if isinstance(parsed, DvcFileContent):
                for output in parsed.outputs:
                    live[(path, *output.identity)].add(name)
    return _Liveness(refs_by_key=live, existing=existing)


def _apply_liveness(liveness: _Liveness) -> None:
    """Rows written by this run got their refs on insert; bring the older rows up to date."""
    changed: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for row_id, source_path, stage, path, md5, is_dir, hash_name, live_refs in liveness.existing:
        refs = liveness.refs_for((source_path, stage, path, md5, is_dir, hash_name))
        if refs != live_refs:
            changed[tuple(refs)].append(row_id)
    _write_liveness(changed)


def _write_liveness(changed: dict[tuple[str, ...], list[int]]) -> None:
    if connection.vendor != "postgresql":
        for refs, ids in changed.items():
            for chunk in _chunks(ids):
                DvcReference.objects.filter(pk__in=chunk).update(live_refs=list(refs), is_live=bool(refs))
        return
    # Rows differ in their ref lists (every tag is a head): one UPDATE … FROM unnest per chunk, not one per list.
    pairs = [(row_id, json.dumps(list(refs))) for refs, ids in changed.items() for row_id in ids]
    table = connection.ops.quote_name(DvcReference._meta.db_table)
    with connection.cursor() as cursor:
        for batch in _chunks(pairs):
            cursor.execute(
                f"UPDATE {table} AS ref SET live_refs = v.refs::jsonb, is_live = jsonb_array_length(v.refs::jsonb) > 0 "  # noqa: S608 - table name from the model, values bound
                "FROM unnest(%s::bigint[], %s::text[]) AS v(id, refs) WHERE ref.id = v.id",
                [[pair[0] for pair in batch], [pair[1] for pair in batch]],
            )


def _update_current_remotes(repo: TrainingRepo, heads: list[RefHead], blobs: _ParsedBlobs) -> None:
    head_commit = next((head.commit for head in heads if head.name == repo.default_branch), None)
    config: DvcConfig | DvcFileError | None = None
    if head_commit is not None:
        blob = blobs.reader.tracked_files([head_commit]).get(head_commit, {}).get(CONFIG_PATH)
        config = blobs.config(blob) if blob else None
    current = config.remotes if isinstance(config, DvcConfig) else {}
    default = config.default_remote if isinstance(config, DvcConfig) else ""
    for name, url in current.items():
        DvcRemoteConfig.objects.get_or_create(
            repo=repo, name=name, url=url, defaults={"first_commit": head_commit or ""}
        )
    for remote in DvcRemoteConfig.objects.filter(repo=repo):
        is_current = current.get(remote.name) == remote.url
        is_default = is_current and remote.name == default
        if (remote.is_current, remote.is_default) != (is_current, is_default):
            remote.is_current, remote.is_default = is_current, is_default
            remote.save(update_fields=["is_current", "is_default"])


def _update_reachability(repo: TrainingRepo, mirror: Path) -> None:
    reachable = reachable_commits(mirror)
    commits = set(DvcReference.objects.filter(repo=repo).values_list("commit", flat=True).order_by().distinct())
    gone = sorted(commits - reachable)
    back = sorted(commits & reachable)
    for chunk in _chunks(gone):
        DvcReference.objects.filter(repo=repo, commit__in=chunk, reachable=True).update(reachable=False)
    for chunk in _chunks(back):
        DvcReference.objects.filter(repo=repo, commit__in=chunk, reachable=False).update(reachable=True)


def _chunks(items: Sequence[T], size: int = WRITE_BATCH) -> Iterable[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _batches(items: Iterable[CommitChanges], size: int) -> Iterator[list[CommitChanges]]:
    batch: list[CommitChanges] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


class IndexingInProgress(Exception):
    """Another run holds this repository; runs must not interleave on one mirror."""


def _claim(repo: TrainingRepo) -> None:
    now = timezone.now()
    stale_before = now - timedelta(seconds=settings.KURA_REPO_INDEX_STALE_SECONDS)
    claimed = (
        TrainingRepo.objects.filter(pk=repo.pk)
        .exclude(status=TrainingRepo.Status.INDEXING, indexing_started_at__gt=stale_before)
        .update(status=TrainingRepo.Status.INDEXING, indexing_started_at=now, last_error="")
    )
    if not claimed:
        raise IndexingInProgress(f"{repo.name} is being indexed by another run.")


def _index(repo: TrainingRepo, *, fetch: bool) -> tuple[IndexRunResult, dict[str, str]]:
    mirror = repo.mirror_path
    result = IndexRunResult()
    if fetch or not (mirror / "HEAD").exists():
        mirror_sync(repo.url, mirror)
    heads = ref_heads(mirror)
    head_map = {head.name: head.commit for head in heads}
    repo.default_branch = default_branch(mirror)
    exclude = existing_objects(mirror, repo.indexed_heads.values())
    refs_moved = head_map != repo.indexed_heads  # unmoved heads reach no new commit and change no liveness
    with BlobReader(mirror) as reader:
        blobs = _ParsedBlobs(reader)
        liveness = _compute_liveness(repo, heads, repo.indexed_heads, blobs) if refs_moved else None
        pending = _Pending()
        for batch in _batches(iter_commit_changes(mirror, exclude=exclude), COMMIT_BATCH):
            blobs.prefetch(
                (blob, change.path)
                for commit in batch
                for diff in commit.diffs
                for change in diff
                for blob in (change.old_blob, change.new_blob)
                if blob != NULL_SHA
            )
            for commit in batch:
                _collect_commit(repo, commit, blobs, liveness, pending)
            result.commits_read += len(batch)
            _flush(repo, pending, result)
        if liveness is not None:
            _apply_liveness(liveness)
            _update_current_remotes(repo, heads, blobs)
        result.blobs_read = reader.reads
    if refs_moved:
        _update_reachability(repo, mirror)
    result.live_references = DvcReference.objects.filter(repo=repo, is_live=True).count()
    result.unreachable_references = DvcReference.objects.filter(repo=repo, reachable=False).count()
    return result, head_map


def training_repo_index(*, repo: TrainingRepo, fetch: bool = True) -> IndexRunResult:
    """Bring ``repo``'s index up to date with its upstream. Safe to re-run; only new commits are read.

    Rows are written in batches as the walk goes; the heads are recorded only at the end, so a run that dies
    half-way is simply repeated by the next one (already written rows are skipped).
    """
    _claim(repo)
    try:
        result, head_map = _index(repo, fetch=fetch)
    except Exception as error:
        logger.warning("Indexing %s failed: %s", repo.name, error)
        TrainingRepo.objects.filter(pk=repo.pk).update(
            status=TrainingRepo.Status.FAILED, last_error=str(error)[:MAX_WARNING_LENGTH], indexing_started_at=None
        )
        repo.refresh_from_db()
        raise
    repo.indexed_heads = head_map
    repo.status = TrainingRepo.Status.READY
    repo.last_error = ""
    repo.indexing_started_at = None
    repo.last_run_commits = result.commits_read
    repo.commits_indexed += result.commits_read
    repo.last_indexed_at = timezone.now()
    repo.save(
        update_fields=[
            "indexed_heads", "default_branch", "status", "last_error", "indexing_started_at", "last_run_commits",
            "commits_indexed", "last_indexed_at",
        ]
    )  # fmt: skip
    return result
