"""Index a training repository's whole history: every DVC output ever committed, on every ref.

A run mirrors the repository, walks only commits not reachable from the heads of the previous run, and
records each output that a commit introduced (new relative to all its parents, so a plain merge adds nothing
but a merge that resolves to a new hash does). Liveness (which outputs are current at a branch or tag head) and
reachability (whether any ref still reaches a commit) are recomputed every run because refs move.
Files that do not parse become ``IndexingWarning`` rows; they never stop the run.
"""

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from storage.dvc.git_history import (
    LIVE_REF_PREFIXES,
    NULL_SHA,
    BlobReader,
    CommitChanges,
    GitError,
    RefHead,
    default_branch,
    existing_objects,
    iter_commit_changes,
    mirror_sync,
    reachable_commits,
    ref_heads,
    tracked_files_at,
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
        self._reader = reader
        self._cache: dict[tuple[str, str], DvcFileContent | DvcFileError] = {}

    def get(self, blob: str, path: str) -> DvcFileContent | DvcFileError:
        key = (blob, path)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        content = self._reader.read(blob)
        result: DvcFileContent | DvcFileError
        if content is None:
            result = DvcFileError(f"{path}: blob {blob} is missing from the mirror")
        else:
            try:
                result = parse_tracked_file(content, path)
            except DvcFileError as error:
                result = error
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[key] = result
        return result

    def config(self, blob: str) -> DvcConfig | DvcFileError:
        content = self._reader.read(blob)
        if content is None:
            return DvcFileError(f"{CONFIG_PATH}: blob {blob} is missing from the mirror")
        try:
            return parse_dvc_config(content)
        except DvcFileError as error:
            return error


@dataclass
class _Pending:
    references: list[DvcReference] = field(default_factory=list)
    imports: list[DvcImport] = field(default_factory=list)
    warnings: list[IndexingWarning] = field(default_factory=list)
    remotes: dict[tuple[str, str], tuple[datetime, str]] = field(default_factory=dict)


def _changes_by_path(commit: CommitChanges) -> dict[str, list[tuple[str, str]]]:
    """path → (old blob, new blob) for paths that differ from *every* parent (else the commit only carried them)."""
    parents = max(len(commit.parents), 1)
    grouped: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for diff in commit.diffs:
        for change in diff:
            grouped[change.path].append((change.old_blob, change.new_blob))
    return {path: pairs for path, pairs in grouped.items() if len(pairs) >= parents and pairs[0][1] != NULL_SHA}


def _collect_commit(repo: TrainingRepo, commit: CommitChanges, blobs: _ParsedBlobs, pending: _Pending) -> None:
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
            pending.references.append(
                DvcReference(
                    repo=repo,
                    md5=output.md5,
                    is_dir=output.is_dir,
                    hash_name=output.hash_name,
                    size=output.size,
                    nfiles=output.nfiles,
                    path=output.path,
                    stage=output.stage,
                    cache=output.cache,
                    remote=output.remote,
                    source_path=path,
                    commit=commit.sha,
                    author_name=commit.author_name[:255],
                    author_email=commit.author_email[:255],
                    authored_at=authored_at,
                )
            )
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


@transaction.atomic
def _flush(repo: TrainingRepo, pending: _Pending, result: IndexRunResult) -> None:
    created = DvcReference.objects.bulk_create(pending.references, batch_size=WRITE_BATCH, ignore_conflicts=True)
    result.references_added += len(created)
    DvcImport.objects.bulk_create(pending.imports, batch_size=WRITE_BATCH, ignore_conflicts=True)
    before = IndexingWarning.objects.filter(repo=repo).count()
    IndexingWarning.objects.bulk_create(pending.warnings, batch_size=WRITE_BATCH, ignore_conflicts=True)
    result.warnings_added += IndexingWarning.objects.filter(repo=repo).count() - before
    for (name, url), (_date, sha) in pending.remotes.items():
        DvcRemoteConfig.objects.get_or_create(repo=repo, name=name, url=url, defaults={"first_commit": sha})
    pending.references, pending.imports, pending.warnings = [], [], []
    pending.remotes = {}


def _update_liveness(repo: TrainingRepo, mirror: Path, heads: list[RefHead], blobs: _ParsedBlobs) -> int:
    live: dict[LiveKey, set[str]] = defaultdict(set)
    files_by_commit: dict[str, dict[str, str]] = {}
    for head in heads:
        if not head.name.startswith(LIVE_REF_PREFIXES):
            continue
        if head.commit not in files_by_commit:
            files_by_commit[head.commit] = tracked_files_at(mirror, head.commit)
        for path, blob in files_by_commit[head.commit].items():
            if path == CONFIG_PATH:
                continue
            parsed = blobs.get(blob, path)
            if isinstance(parsed, DvcFileContent):
                for output in parsed.outputs:
                    live[(path, *output.identity)].add(head.name)
    changed: list[DvcReference] = []
    live_count = 0
    rows = DvcReference.objects.filter(repo=repo).only(
        "id", "source_path", "stage", "path", "md5", "is_dir", "hash_name", "live_refs", "is_live"
    )
    for row in rows.iterator(chunk_size=WRITE_BATCH):
        refs = sorted(live.get((row.source_path, row.stage, row.path, row.md5, row.is_dir, row.hash_name), ()))
        live_count += bool(refs)
        if refs != row.live_refs or bool(refs) != row.is_live:
            row.live_refs, row.is_live = refs, bool(refs)
            changed.append(row)
    DvcReference.objects.bulk_update(changed, ["live_refs", "is_live"], batch_size=WRITE_BATCH)
    return live_count


def _update_current_remotes(repo: TrainingRepo, mirror: Path, heads: list[RefHead], blobs: _ParsedBlobs) -> None:
    head_commit = next((head.commit for head in heads if head.name == repo.default_branch), None)
    config: DvcConfig | DvcFileError | None = None
    if head_commit is not None:
        blob = tracked_files_at(mirror, head_commit).get(CONFIG_PATH)
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


def _update_reachability(repo: TrainingRepo, mirror: Path) -> int:
    reachable = reachable_commits(mirror)
    commits = set(DvcReference.objects.filter(repo=repo).values_list("commit", flat=True).distinct())
    gone = sorted(commits - reachable)
    back = sorted(commits & reachable)
    for chunk in _chunks(gone):
        DvcReference.objects.filter(repo=repo, commit__in=chunk, reachable=True).update(reachable=False)
    for chunk in _chunks(back):
        DvcReference.objects.filter(repo=repo, commit__in=chunk, reachable=False).update(reachable=True)
    return DvcReference.objects.filter(repo=repo, reachable=False).count()


def _chunks(items: list[str], size: int = WRITE_BATCH) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def training_repo_index(*, repo: TrainingRepo, fetch: bool = True) -> IndexRunResult:
    """Bring ``repo``'s index up to date with its upstream. Safe to re-run; only new commits are read."""
    TrainingRepo.objects.filter(pk=repo.pk).update(status=TrainingRepo.Status.INDEXING, last_error="")
    mirror = repo.mirror_path
    result = IndexRunResult()
    try:
        if fetch or not (mirror / "HEAD").exists():
            mirror_sync(repo.url, mirror)
        heads = ref_heads(mirror)
        repo.default_branch = default_branch(mirror)
        exclude = existing_objects(mirror, repo.indexed_heads.values())
        with BlobReader(mirror) as reader:
            blobs = _ParsedBlobs(reader)
            pending = _Pending()
            for commit in iter_commit_changes(mirror, exclude=exclude):
                _collect_commit(repo, commit, blobs, pending)
                result.commits_read += 1
                if result.commits_read % COMMIT_BATCH == 0:
                    _flush(repo, pending, result)
            _flush(repo, pending, result)
            head_map = {head.name: head.commit for head in heads}
            refs_moved = head_map != repo.indexed_heads or result.commits_read > 0
            if refs_moved:  # liveness and reachability depend only on the refs and the rows
                result.live_references = _update_liveness(repo, mirror, heads, blobs)
                _update_current_remotes(repo, mirror, heads, blobs)
            result.blobs_read = reader.reads
        if refs_moved:
            result.unreachable_references = _update_reachability(repo, mirror)
        else:
            result.live_references = DvcReference.objects.filter(repo=repo, is_live=True).count()
            result.unreachable_references = DvcReference.objects.filter(repo=repo, reachable=False).count()
    except GitError as error:
        logger.warning("Indexing %s failed: %s", repo.name, error)
        TrainingRepo.objects.filter(pk=repo.pk).update(status=TrainingRepo.Status.FAILED, last_error=str(error))
        repo.refresh_from_db()
        raise
    repo.indexed_heads = head_map
    repo.status = TrainingRepo.Status.READY
    repo.last_error = ""
    repo.last_run_commits = result.commits_read
    repo.commits_indexed += result.commits_read
    repo.last_indexed_at = timezone.now()
    repo.save(
        update_fields=[
            "indexed_heads", "default_branch", "status", "last_error", "last_run_commits", "commits_indexed",
            "last_indexed_at",
        ]
    )  # fmt: skip
    return result
