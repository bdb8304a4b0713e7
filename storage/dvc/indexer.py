"""Index a training repository's whole history: every DVC output ever committed, on every ref.

A run mirrors the repository, walks only commits not reachable from the heads of the previous run, and
records each output that a commit introduced (new relative to all its parents, so a plain merge adds nothing
but a merge that resolves to a new hash does). Liveness (which outputs are current at a branch or tag head) and
reachability (whether any ref still reaches a commit) are recomputed every run because refs move.
Files that do not parse become ``IndexingWarning`` rows; they never stop the run.
"""

import gc
import json
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Q
from django.utils import timezone

from storage.dvc.git_history import (
    LIVE_REF_PREFIXES,
    NULL_SHA,
    BlobReader,
    CommitChanges,
    CommitLog,
    RefHead,
    default_branch,
    existing_objects,
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
from storage.dvc.reference_writer import ReferenceWriter, start_reference_writes
from storage.models import DvcImport, DvcReference, DvcRemoteConfig, IndexingWarning, TrainingRepo

logger = logging.getLogger(__name__)

COMMIT_BATCH = 500
WRITE_BATCH = 2000
MAX_WARNING_LENGTH = 1000
_CACHE_LIMIT = 50_000

_NOT_LIVE = ("[]", False)

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
    """What the walk found besides references, written once the references' COPY has ended."""

    imports: list[DvcImport] = field(default_factory=list)
    warnings: list[IndexingWarning] = field(default_factory=list)
    # Each remote named in a .dvc/config, with the earliest authored commit of this run that names it.
    remotes: dict[tuple[str, str], tuple[datetime, str]] = field(default_factory=dict)


class _ExistingRow(NamedTuple):
    id: int
    source_path: str
    stage: str
    path: str
    md5: str
    is_dir: bool
    hash_name: str
    live_refs: list[str]
    commit: str
    reachable: bool

    @property
    def live_key(self) -> LiveKey:
        return (self.source_path, self.stage, self.path, self.md5, self.is_dir, self.hash_name)


@dataclass
class _Liveness:
    """Which output identities are current at which branch or tag heads, and the rows that existed before."""

    refs_by_key: dict[LiveKey, set[str]]
    existing: list[_ExistingRow]  # rows written by earlier runs
    _columns: dict[frozenset[str], tuple[str, bool]] = field(default_factory=dict)

    def refs_for(self, key: LiveKey) -> list[str]:
        return sorted(self.refs_by_key.get(key, ()))

    def columns_for(self, key: LiveKey) -> tuple[str, bool]:
        """``live_refs`` (as JSON) and ``is_live`` of a new row; outputs share few distinct ref sets."""
        refs = self.refs_by_key.get(key)
        if not refs:
            return _NOT_LIVE
        frozen = frozenset(refs)
        columns = self._columns.get(frozen)
        if columns is None:
            columns = self._columns[frozen] = (json.dumps(sorted(frozen)), True)
        return columns


def _changes_by_path(commit: CommitChanges) -> dict[str, list[tuple[str, str]]]:
    """path → (old blob, new blob) for paths that differ from *every* parent (else the commit only carried them)."""
    parents = max(len(commit.parents), 1)
    grouped: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for diff in commit.diffs:
        for change in diff:
            grouped[change.path].append((change.old_blob, change.new_blob))
    return {path: pairs for path, pairs in grouped.items() if len(pairs) >= parents and pairs[0][1] != NULL_SHA}


@dataclass
class _Walk:
    """What one run needs to turn the commits it walks into rows."""

    repo: TrainingRepo
    blobs: _ParsedBlobs
    liveness: _Liveness | None
    pending: _Pending
    writer: ReferenceWriter
    datetime_value: Callable[[datetime], Any]  # the connection's adapter, looked up once per run, not per commit

    def collect(self, commit: CommitChanges) -> None:
        for path, pairs in _changes_by_path(commit).items():
            if path == CONFIG_PATH:
                self._collect_config(commit, path, pairs[0][1])
            else:
                self._collect_file(commit, path, pairs)

    def _warn(self, commit: CommitChanges, path: str, message: str) -> None:
        self.pending.warnings.append(
            IndexingWarning(repo=self.repo, commit=commit.sha, path=path, message=message[:MAX_WARNING_LENGTH])
        )

    def _collect_config(self, commit: CommitChanges, path: str, blob: str) -> None:
        config = self.blobs.config(blob)
        if isinstance(config, DvcFileError):
            self._warn(commit, path, str(config))
            return
        authored_at = datetime.fromisoformat(commit.authored_at)
        remotes = self.pending.remotes
        for name, url in config.remotes.items():
            seen = remotes.get((name, url))
            if seen is None or authored_at < seen[0]:
                remotes[(name, url)] = (authored_at, commit.sha)

    def _collect_file(self, commit: CommitChanges, path: str, pairs: list[tuple[str, str]]) -> None:
        parsed = self.blobs.get(pairs[0][1], path)
        if isinstance(parsed, DvcFileError):
            self._warn(commit, path, str(parsed))
            return
        known: set[tuple[str, str, str, bool, str]] = set()
        for old_blob, _new in pairs:
            if old_blob != NULL_SHA:
                previous = self.blobs.get(old_blob, path)
                if isinstance(previous, DvcFileContent):
                    known.update(output.identity for output in previous.outputs)
        authored_at = self.datetime_value(datetime.fromisoformat(commit.authored_at))
        author_name, author_email = commit.author_name[:255], commit.author_email[:255]
        for output in parsed.outputs:
            identity = output.identity
            if identity in known:
                continue
            known.add(identity)  # a file listing one output twice yields one row, as the unique key wants
            live = self.liveness
            live_refs, is_live = live.columns_for((path, *identity)) if live is not None else _NOT_LIVE
            self.writer.add(
                (
                    self.repo.pk, output.md5, output.is_dir, output.hash_name, output.size, output.nfiles,
                    output.path, output.stage, output.cache, output.remote, path, commit.sha, author_name,
                    author_email, authored_at, live_refs, is_live, True,  # reachable: the walk just reached it
                )
            )  # fmt: skip
        if parsed.imports:
            md5_by_path = {output.path: output.md5 for output in parsed.outputs}
            self.pending.imports.extend(
                DvcImport(
                    repo=self.repo,
                    commit=commit.sha,
                    source_path=path,
                    path=dep.path,
                    imported_path=dep.source_path,
                    source_url=dep.url,
                    rev=dep.rev,
                    rev_lock=dep.rev_lock,
                    md5=md5_by_path.get(dep.path, ""),
                )
                for dep in parsed.imports
            )


def _write_pending(repo: TrainingRepo, pending: _Pending, result: IndexRunResult) -> None:
    DvcImport.objects.bulk_create(pending.imports, batch_size=WRITE_BATCH, ignore_conflicts=True)
    if pending.warnings:
        before = IndexingWarning.objects.filter(repo=repo).count()
        IndexingWarning.objects.bulk_create(pending.warnings, batch_size=WRITE_BATCH, ignore_conflicts=True)
        result.warnings_added += IndexingWarning.objects.filter(repo=repo).count() - before
    for (name, url), (_date, sha) in pending.remotes.items():
        DvcRemoteConfig.objects.get_or_create(repo=repo, name=name, url=url, defaults={"first_commit": sha})


def _compute_liveness(
    repo: TrainingRepo, heads: list[RefHead], previous: dict[str, str], blobs: _ParsedBlobs
) -> _Liveness:
    """Only heads that moved (or appeared) are read from git; what an unchanged head holds is already recorded in
    the rows' ``live_refs``, keyed by output identity so a hash re-committed later is live there too.
    """
    current = {head.name: head.commit for head in heads if head.name.startswith(LIVE_REF_PREFIXES)}
    unchanged = {name for name, commit in current.items() if previous.get(name) == commit}
    existing = [
        _ExistingRow(*row)
        for row in DvcReference.objects.filter(repo=repo).values_list(*_ExistingRow._fields).order_by()
    ]
    live: dict[LiveKey, set[str]] = defaultdict(set)
    for row in existing:
        kept = [ref for ref in row.live_refs if ref in unchanged]
        if kept:
            live[row.live_key].update(kept)
    moved = {name: commit for name, commit in current.items() if name not in unchanged}
    files_by_commit = blobs.reader.tracked_files(list(moved.values()))
    # Heads share most files: each (path, blob) is looked at once, with every head that holds it.
    heads_by_file: dict[tuple[str, str], list[str]] = defaultdict(list)
    for name, commit in moved.items():
        for path, blob in files_by_commit.get(commit, {}).items():
            if path != CONFIG_PATH:
                heads_by_file[(blob, path)].append(name)
    blobs.prefetch(heads_by_file)
    for (blob, path), names in heads_by_file.items():
        parsed = blobs.get(blob, path)
        if isinstance(parsed, DvcFileContent):
            for output in parsed.outputs:
                live[(path, *output.identity)].update(names)
    return _Liveness(refs_by_key=live, existing=existing)


def _apply_liveness(liveness: _Liveness) -> None:
    """Rows written by this run got their refs on insert; bring the older rows up to date."""
    changed: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for row in liveness.existing:
        refs = liveness.refs_for(row.live_key)
        if refs != row.live_refs:
            changed[tuple(refs)].append(row.id)
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


def _update_reachability(mirror: Path, existing: list[_ExistingRow]) -> None:
    """Rows this run wrote come from commits the walk just reached; only the older rows can have changed."""
    if not existing:
        return
    reachable = reachable_commits(mirror)
    gone = [row.id for row in existing if row.reachable and row.commit not in reachable]
    back = [row.id for row in existing if not row.reachable and row.commit in reachable]
    for chunk in _chunks(gone):
        DvcReference.objects.filter(pk__in=chunk).update(reachable=False)
    for chunk in _chunks(back):
        DvcReference.objects.filter(pk__in=chunk).update(reachable=True)


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
    if fetch or not (mirror / "HEAD").exists():
        mirror_sync(repo.url, mirror)
    exclude = existing_objects(mirror, repo.indexed_heads.values())
    # git walks the history while the heads are listed and their files read for liveness.
    with CommitLog(mirror, exclude=exclude) as log, BlobReader(mirror) as reader:
        heads = ref_heads(mirror)
        repo.default_branch = default_branch(mirror)
        result = _record_history(repo, mirror, heads, log, _ParsedBlobs(reader))
    counts = DvcReference.objects.filter(repo=repo).aggregate(
        live=Count("pk", filter=Q(is_live=True)), unreachable=Count("pk", filter=Q(reachable=False))
    )
    result.live_references, result.unreachable_references = counts["live"], counts["unreachable"]
    return result, {head.name: head.commit for head in heads}


@transaction.atomic  # the run's rows commit together
def _record_history(
    repo: TrainingRepo, mirror: Path, heads: list[RefHead], log: CommitLog, blobs: _ParsedBlobs
) -> IndexRunResult:
    start_reference_writes(repo)
    result = IndexRunResult()
    # Unmoved heads reach no new commit and change no liveness.
    refs_moved = {head.name: head.commit for head in heads} != repo.indexed_heads
    liveness = _compute_liveness(repo, heads, repo.indexed_heads, blobs) if refs_moved else None
    existing = liveness.existing if liveness is not None else []
    pending = _Pending()
    with ReferenceWriter(repo, commits_with_rows={row.commit for row in existing}) as writer:
        walk = _Walk(repo, blobs, liveness, pending, writer, connection.ops.adapt_datetimefield_value)
        for batch in _batches(log, COMMIT_BATCH):
            blobs.prefetch(
                (blob, change.path)
                for commit in batch
                for diff in commit.diffs
                for change in diff
                for blob in (change.old_blob, change.new_blob)
                if blob != NULL_SHA
            )
            for commit in batch:
                walk.collect(commit)
            result.commits_read += len(batch)
    result.references_added = writer.added
    _write_pending(repo, pending, result)
    if liveness is not None:
        _apply_liveness(liveness)
        _update_current_remotes(repo, heads, blobs)
    result.blobs_read = blobs.reader.reads
    _update_reachability(mirror, existing)
    return result


@contextmanager
def _cycle_collector_paused() -> Iterator[None]:
    """A run makes a few objects per blob and per row, all freed by reference counting. Left on, the cyclic
    collector would make full passes over the whole process, Django's objects included, costing about as much as
    the parsing; whatever cyclic garbage the run leaves is collected once it ends."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def training_repo_index(*, repo: TrainingRepo, fetch: bool = True) -> IndexRunResult:
    """Bring ``repo``'s index up to date with its upstream. Safe to re-run; only new commits are read.

    A run's rows are written in one transaction as the walk goes and the heads are recorded only at the end, so a
    run that dies half-way leaves nothing behind and is simply repeated by the next one.
    """
    _claim(repo)
    try:
        with _cycle_collector_paused():
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
