"""Reading a scanned DVC remote back: bytes by class and repository, safety warnings, the unreferenced export.

Kura never deletes. The export lists what no indexed commit refers to, for a person to act on, and every
answer carries the warnings that say when "unreferenced" may not mean "unused".
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Count, Q, Sum
from django.template.defaultfilters import filesizeformat

from storage.dvc.decode import ObjectClass
from storage.dvc.remote_scan import (
    RemoteClassifier,
    classify_listing,
    dvc_shard_specs,
    manifests_refresh,
    shard_head,
    unread_manifests,
)
from storage.figures import as_datetime
from storage.listers import Lister, ShardSpec, lister_for
from storage.models import DvcScanAggregate, ScanRun, StorageConnection, TrainingRepo
from storage.reports import Bar, chart_bars

CLASS_ORDER = [ObjectClass.LIVE, ObjectClass.HISTORICAL, ObjectClass.UNREFERENCED, ObjectClass.RUN_CACHE,
               ObjectClass.TEMPORARY, ObjectClass.OTHER]
EXPORT_COLUMNS = ["uri", "key", "size", "last_modified", "storage_owner"]


@dataclass
class RemoteSummary:
    connection: StorageConnection
    run: ScanRun | None
    repos: list[TrainingRepo]
    by_class: list[Bar] = field(default_factory=list)
    by_repo: list[Bar] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def last_finished_run(connection: StorageConnection) -> ScanRun | None:
    finished = [ScanRun.Status.SUCCEEDED, ScanRun.Status.PARTIAL]
    return connection.runs.filter(status__in=finished).order_by("-finished_at", "-pk").first()


def remote_warnings(connection: StorageConnection, run: ScanRun | None = None) -> list[str]:
    """When "unreferenced" may not mean "unused": repositories Kura cannot vouch for."""
    warnings: list[str] = []
    repos = list(connection.dvc_repos.all())
    if not repos:
        warnings.append("No training repository is linked to this remote: every object is reported as "
                        "unreferenced. Link the repositories that push here before acting on the report.")
    not_indexed = [repo for repo in repos if repo.status != TrainingRepo.Status.READY]
    if not_indexed:
        names = ", ".join(f"{repo.name} ({repo.get_status_display().lower()})" for repo in not_indexed)
        shared = f"This remote is shared by {len(repos)} repositories; " if len(repos) > 1 else ""
        warnings.append(f"{shared}not indexed: {names}. Objects only they reference are reported as "
                        "unreferenced or historical; do not act on the report until every repository is indexed.")
    unread = unread_manifests(connection) if repos else 0
    if unread:
        warnings.append(f"{unread} directory outputs (.dir objects) in this remote could not be read: the files "
                        "inside them are reported as unreferenced until a scan reads them.")
    failed = [repo for repo in repos if repo.status == TrainingRepo.Status.FAILED]
    if run is not None and failed:
        totals = DvcScanAggregate.objects.filter(shard__run=run, repo__in=failed).aggregate(
            objects=Sum("object_count"), bytes=Sum("byte_count"))
        if totals["objects"]:
            names = ", ".join(repo.name for repo in failed)
            warnings.append(f"{totals['objects']} objects ({filesizeformat(totals['bytes'])}) are referenced only "
                            f"by repositories whose last indexing failed ({names}): their classification may be "
                            "out of date.")
    return warnings


def remote_summary(connection: StorageConnection) -> RemoteSummary:
    run = last_finished_run(connection)
    summary = RemoteSummary(connection=connection, run=run, repos=list(connection.dvc_repos.order_by("name")),
                            warnings=remote_warnings(connection, run))
    if run is None:
        return summary
    rows = DvcScanAggregate.objects.filter(shard__run=run)
    by_class = {row["object_class"]: row for row in rows.values("object_class").annotate(
        count=Sum("object_count"), bytes=Sum("byte_count"))}
    summary.by_class = chart_bars([
        (str(cls.value).replace("_", " "), by_class[cls]["bytes"], by_class[cls]["count"], cls.value)
        for cls in CLASS_ORDER if cls in by_class
    ])
    names = dict(TrainingRepo.objects.values_list("pk", "name"))
    referenced = Q(object_class__in=[ObjectClass.LIVE, ObjectClass.HISTORICAL])
    per_repo = rows.filter(referenced).values("repo_id").annotate(count=Sum("object_count"), bytes=Sum("byte_count"))
    bars = sorted(((names.get(row["repo_id"], "(repository removed)"), row["bytes"], row["count"], "")
                   for row in per_repo), key=lambda bar: (-bar[1], bar[0]))
    unexplained = rows.exclude(referenced).aggregate(count=Sum("object_count"), bytes=Sum("byte_count"),
                                                     groups=Count("pk"))
    if unexplained["groups"]:
        bars.append(("no repository", unexplained["bytes"], unexplained["count"], ""))
    summary.by_repo = chart_bars(bars)
    return summary


@dataclass(frozen=True)
class UnreferencedObject:
    uri: str
    key: str
    size: int
    last_modified: datetime | None
    storage_owner: str

    def as_row(self) -> list[str]:
        modified = self.last_modified.isoformat() if self.last_modified else ""
        return [self.uri, self.key, str(self.size), modified, self.storage_owner]

    def as_dict(self) -> dict[str, object]:
        return dict(zip(EXPORT_COLUMNS, [self.uri, self.key, self.size,
                                         self.last_modified.isoformat() if self.last_modified else None,
                                         self.storage_owner], strict=True))


def unreferenced_objects(connection: StorageConnection) -> Iterator[UnreferencedObject]:
    """Lists the remote now and yields what no indexed commit refers to, shard by shard (bounded memory).

    Raises ListingError at once, before any object, when the remote cannot be read at all (a root gone, credentials
    or endpoint refused): a streamed report can still be refused with the reason then, and not later."""
    manifests_refresh(connection)  # a directory's files are only explained once its .dir has been read
    lister = lister_for(connection)
    plan = [(root, dvc_shard_specs(connection, lister, root)) for root in connection.roots]
    return _unreferenced(connection, lister, plan)


def _unreferenced(connection: StorageConnection, lister: Lister,
                  plan: list[tuple[str, list[ShardSpec]]]) -> Iterator[UnreferencedObject]:
    classifier = RemoteClassifier(connection)
    for root, specs in plan:
        root_uri = lister.root_uri(root)
        for spec in specs:
            head = shard_head(spec.prefix)
            preloaded = classifier.preload(head) if head else classifier.preload_everything()
            for item, verdict in classify_listing(classifier, lister.iter_objects(root, spec, ""), preloaded):
                if verdict.object_class == ObjectClass.UNREFERENCED:
                    yield UnreferencedObject(root_uri + item[0], item[0], item[1], as_datetime(item[2]), item[3])
