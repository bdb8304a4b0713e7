"""Turn a DVC remote scan's totals into findings, idempotently.

Historical data gets one finding per (repository, output path): the last commit that referenced it says who to
ask. Unreferenced data gets one finding per root and storage owner: the owner the store reports is the only
evidence there is. A finding closes itself only after a run in which every shard was listed.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from django.db.models import F
from django.template.defaultfilters import filesizeformat

from storage.dvc.decode import ObjectClass
from storage.dvc.remote_report import remote_warnings
from storage.figures import GroupFigures, is_later
from storage.listers import lister_for
from storage.models import DvcScanAggregate, Finding, ScanRun, ScanShard, TrainingRepo
from storage.reconcile import Reconciler

_DVC_KINDS = {Finding.Kind.DVC_HISTORICAL, Finding.Kind.DVC_UNREFERENCED}


@dataclass
class _Group(GroupFigures):
    object_class: str
    repo_id: int | None
    path: str
    root: str
    owner: str
    last_commit: str = ""
    last_author: str = ""
    last_authored_at: datetime | None = None


def _groups(run: ScanRun) -> Iterator[_Group]:
    """Historical totals by repository and path; unreferenced by root and owner; summed over shards, streamed."""
    rows = (DvcScanAggregate.objects.filter(shard__run=run, object_class__in=[ObjectClass.HISTORICAL,
                                                                              ObjectClass.UNREFERENCED])
            .annotate(root=F("shard__root")).order_by("object_class", "repo_id", "path", "root", "owner"))
    current: _Group | None = None
    for row in rows.iterator(chunk_size=2000):  # the shard's root only: not a ScanShard per row
        root = row.root if row.object_class == ObjectClass.UNREFERENCED else ""
        identity = (row.object_class, row.repo_id, row.path, root, row.owner)
        if current is None or (current.object_class, current.repo_id, current.path, current.root,
                               current.owner) != identity:
            if current is not None:
                yield current
            current = _Group(*identity)
        current.add(GroupFigures.of_aggregate(row))
        if is_later(row.last_authored_at, current.last_authored_at):
            current.last_commit, current.last_author = row.last_commit, row.last_author
            current.last_authored_at = row.last_authored_at
    if current is not None:
        yield current


class DvcReconciler(Reconciler):
    def dvc_findings(self) -> None:
        warnings = remote_warnings(self.connection, self.run)
        repos = {repo.pk: repo for repo in TrainingRepo.objects.all()}
        lister = lister_for(self.connection)
        for group in _groups(self.run):
            if group.object_class == ObjectClass.HISTORICAL:
                self._historical(group, repos.get(group.repo_id or 0), warnings)
            else:
                self._unreferenced(group, lister.root_uri(group.root), warnings)
        complete = not self.run.shards.filter(status=ScanShard.Status.FAILED).exists()
        for key, finding in self.existing.items():
            if complete and finding.kind in _DVC_KINDS and key not in self.seen:
                self.close(finding, "No such objects in the remote any more, or a commit refers to them again.")

    def _historical(self, group: _Group, repo: TrainingRepo | None, warnings: list[str]) -> None:
        name = repo.name if repo is not None else "a removed repository"
        evidence = (f"Last referenced by commit {group.last_commit[:10]} by {group.last_author} on "
                    f"{group.last_authored_at:%Y-%m-%d}." if group.last_authored_at else "")
        self.upsert(
            f"dvc_historical:{group.repo_id}:{group.path}", Finding.Kind.DVC_HISTORICAL,
            uri=f"dvc://{name}#{group.path}"[:1100], object_count=group.objects, total_bytes=group.bytes,
            oldest_modified=group.oldest, newest_modified=group.newest, sample_keys=group.samples,
            storage_owner=group.last_author[:200], hints=[hint for hint in [evidence, *warnings] if hint],
            message=(f"{group.objects} objects ({filesizeformat(group.bytes)}) of {group.path} in {name} that only "
                     "older commits reference: no branch or tag head uses them.")[:500],
        )

    def _unreferenced(self, group: _Group, root_uri: str, warnings: list[str]) -> None:
        owner = f" written by {group.owner}" if group.owner else ""
        self.upsert(
            f"dvc_unreferenced:{root_uri}:{group.owner}", Finding.Kind.DVC_UNREFERENCED, uri=root_uri,
            object_count=group.objects, total_bytes=group.bytes, oldest_modified=group.oldest,
            newest_modified=group.newest, sample_keys=group.samples, storage_owner=group.owner[:200],
            hints=[*([f"The store reports {group.owner} as the objects' owner."] if group.owner else []), *warnings,
                   "Kura never deletes: the remote's page exports the list of these objects (CSV or JSON)."],
            message=(f"{group.objects} objects ({filesizeformat(group.bytes)}){owner} that no indexed commit of "
                     "the linked repositories refers to.")[:500],
        )


def reconcile_dvc_run(run: ScanRun) -> None:
    reconciler = DvcReconciler(run)
    reconciler.dvc_findings()
    reconciler.finish()
