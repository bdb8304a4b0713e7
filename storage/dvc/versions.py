"""Dataset versions from a training repository's history: one published version per committed hash.

A dataset whose location is ``dvc://<repo>#<path>`` gets a version for every distinct hash ever committed for
that output on a branch or tag (in commit-date order, so ``latest`` is the newest), labelled by a tag at the
commit or else the short commit. The manifest lists a directory's files from its ``.dir`` object when a local
remote holding it is given (file sizes from the objects there); otherwise the output is recorded as one entry
carrying its hash. Running it again creates only versions for hashes not yet recorded.
"""

import posixpath
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import transaction

from access.models import Person
from catalog.models import Dataset, DatasetVersion
from catalog.services import dataset_version_create
from catalog.uris import parse_storage_uri
from catalog.validators import VERSION_LABEL_PATTERN
from storage.dvc.decode import local_remote_dirs, read_dir_manifest
from storage.dvc.git_history import published_commits
from storage.dvc.indexer import MAX_WARNING_LENGTH
from storage.dvc.layout import Layout, ManifestError, ObjectId, object_key
from storage.dvc.repos import NO_VERSION_WARNING
from storage.models import DvcReference, IndexingWarning, TrainingRepo

SHORT_COMMIT = 8


@dataclass
class VersionsFromHistory:
    created: list[DatasetVersion] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # why a committed hash got no version
    skipped_at: list[DvcReference] = field(default_factory=list)  # the reference each ``skipped`` entry is about


def _dvc_outputs(dataset: Dataset) -> list[tuple[TrainingRepo, str]]:
    outputs: list[tuple[TrainingRepo, str]] = []
    for location in dataset.locations.filter(uri__startswith="dvc://"):
        parsed = parse_storage_uri(location.uri)
        repo = TrainingRepo.objects.filter(name=parsed.container).first()
        if repo is not None:
            outputs.append((repo, parsed.path.strip("/")))
    return outputs


def _label(repo: TrainingRepo, commit: str, taken: set[str]) -> str | None:
    for tag in repo.tags_by_commit.get(commit, []):
        if VERSION_LABEL_PATTERN.fullmatch(tag) and tag != "latest" and tag not in taken:
            return tag
    short = commit[:SHORT_COMMIT]
    return short if short not in taken else None


def _manifest(reference: DvcReference, remote_dir: Path | None) -> list[dict[str, object]]:
    name = posixpath.basename(reference.path)
    if not reference.is_dir:
        return [{"path": name, "size": reference.size or 0, "hash": f"md5:{reference.md5}"}]
    layout = Layout.DVC3 if reference.hash_name == "md5" else Layout.DVC2
    entries = read_dir_manifest(remote_dir, ObjectId(reference.md5, True, layout)) if remote_dir else None
    if entries is None:
        return [{"path": name, "size": reference.size or 0, "hash": f"md5-dir:{reference.md5}"}]
    files: list[dict[str, object]] = []
    for entry in entries:
        stored = remote_dir / object_key(entry.md5, is_dir=False, layout=layout) if remote_dir else None
        if stored is None or not stored.is_file():
            raise ManifestError(f"{entry.relpath} ({entry.md5}) is not in the remote")
        files.append({"path": entry.relpath, "size": stored.stat().st_size, "hash": f"md5:{entry.md5}"})
    return files


def _published(repo: TrainingRepo) -> set[str] | None:
    """The commits versions may come from (a branch or tag reaches them); None without a mirror to ask."""
    mirror = repo.mirror_path
    return published_commits(mirror) if (mirror / "HEAD").exists() else None


def _first_commits(repo: TrainingRepo, path: str) -> Iterable[DvcReference]:
    """The earliest published commit of each distinct hash committed for ``path``. An experiment's commit
    (``dvc exp run`` keeps it under ``refs/exps/``) makes no version: ``latest`` would become a trial run."""
    seen: set[tuple[str, bool, str]] = set()
    published = _published(repo)
    rows = DvcReference.objects.filter(repo=repo, path=path, reachable=True).order_by("authored_at", "commit")
    for row in rows:
        key = (row.md5, row.is_dir, row.hash_name)
        if published is not None and row.commit not in published:
            continue
        if key not in seen:
            seen.add(key)
            yield row


def dataset_versions_from_history(
    *, dataset: Dataset, actor: Person | None = None, remote_dir: Path | None = None
) -> VersionsFromHistory:
    result = VersionsFromHistory()
    existing = DatasetVersion.objects.filter(dataset=dataset)
    taken = set(existing.values_list("label", flat=True))
    recorded = {
        (version.git_commit, version.notes.split("\n", 1)[0])
        for version in existing.filter(source=DatasetVersion.Source.DVC)
    }
    for repo, path in _dvc_outputs(dataset):
        for reference in _first_commits(repo, path):
            marker = f"DVC output {repo.name}#{path} {reference.hash_text}"
            if (reference.commit, marker) in recorded:
                continue
            label = _label(repo, reference.commit, taken)
            if label is None:
                result.skipped.append(f"{reference.hash_text}: labels for commit {reference.commit[:12]} are taken")
                result.skipped_at.append(reference)
                continue
            try:
                files = _manifest(reference, remote_dir)
                version = dataset_version_create(
                    dataset=dataset,
                    actor=actor,
                    label=label,
                    files=files,
                    git_commit=reference.commit,
                    source=DatasetVersion.Source.DVC,
                    notes=f"{marker}\ncommitted by {reference.author_name} <{reference.author_email}> "
                    f"on {reference.authored_at:%Y-%m-%d %H:%M} UTC in {reference.source_path}",
                )
            except (ManifestError, ValidationError) as error:
                result.skipped.append(f"{reference.hash_text}: {error}")
                result.skipped_at.append(reference)
                continue
            taken.add(label)
            recorded.add((reference.commit, marker))
            result.created.append(version)
    return result


def versions_refresh_for_repo(*, repo: TrainingRepo) -> list[DatasetVersion]:
    """After indexing: new versions for every dataset whose ``dvc://`` location names ``repo``.

    Directory manifests come from the repository's local remote when one lies under KURA_LOCAL_ROOTS. A hash that
    gets no version (a file not pushed yet, a label taken) becomes an indexing warning of the repository, replacing
    the previous run's, so a person sees why and the warning goes once a later run versions it.
    """
    remote_dirs = local_remote_dirs([repo.pk])
    datasets = Dataset.objects.filter(locations__uri__startswith=f"dvc://{repo.name}#").distinct()
    created: list[DatasetVersion] = []
    problems: list[IndexingWarning] = []
    for dataset in datasets.exclude(status=Dataset.Status.ARCHIVED):
        result = dataset_versions_from_history(
            dataset=dataset, remote_dir=remote_dirs[0] if remote_dirs else None
        )
        created.extend(result.created)
        # The dataset is not named: the repository's page is read by people who may not see it.
        problems += [
            IndexingWarning(repo=repo, commit=reference.commit, path=reference.path,
                            message=f"{NO_VERSION_WARNING}{reason}"[:MAX_WARNING_LENGTH])
            for reference, reason in zip(result.skipped_at, result.skipped, strict=True)
        ]
    with transaction.atomic():
        IndexingWarning.objects.filter(repo=repo, message__startswith=NO_VERSION_WARNING).delete()
        IndexingWarning.objects.bulk_create(problems, ignore_conflicts=True)
    return created
