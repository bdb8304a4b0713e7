"""Turn a finished run's aggregates into findings, idempotently.

The same orphan keeps one finding (keyed by its URI or location), updated on every scan. A finding
closes itself only where this run actually looked: data behind a failed shard is left as it was.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Max, Min, Model, Sum
from django.utils import timezone

from access.models import Person
from catalog.models import Dataset, StorageLocation
from storage.aggregation import LocationIndex, location_index
from storage.figures import GroupFigures
from storage.listers import lister_for
from storage.models import Finding, ScanAggregate, ScanRun, ScanShard, StorageConnection

# Failures that say something about the location itself, worth a `missing` finding rather than silence.
LOCATION_FAILURES = {"access_denied", "not_found", "unreachable", "endpoint_not_allowed", "credentials_unavailable",
                     "root_not_allowed"}
_TOKEN = re.compile(r"[^a-z0-9]+")
_ATTNAMES = {field.name: field.attname for field in Finding._meta.concrete_fields}


@dataclass
class RootCoverage:
    """What this run verified below one root."""

    root: str
    index: LocationIndex
    shards: dict[tuple[str, bool], ScanShard]
    inventory: bool

    @property
    def planning_failure(self) -> ScanShard | None:
        shard = self.shards.get(("", False))
        return shard if shard is not None and shard.status == ScanShard.Status.FAILED else None

    def verdict(self, relative: str) -> tuple[bool, ScanShard | None]:
        """(fully listed?, the failed shard that hid it) for a path relative to the root."""
        if self.planning_failure is not None:
            return False, self.planning_failure
        if self.inventory or relative == "":
            involved = list(self.shards.values())
        else:
            first, slash, _ = relative.partition("/")
            keys = [(first + "/", False)] if slash else [("", True), (first + "/", False)]
            involved = [self.shards[key] for key in keys if key in self.shards]
        failed = next((shard for shard in involved if shard.status == ScanShard.Status.FAILED), None)
        return all(shard.status == ScanShard.Status.DONE for shard in involved), failed


@dataclass
class Group(GroupFigures):
    uri: str
    newest_owner: str = ""
    owners: dict[str, int] = field(default_factory=dict)
    dvc_like: int = 0


def _groups(run: ScanRun) -> Iterator[Group]:
    """Directory totals of the run, summed over shards, in URI order (streamed, not loaded at once)."""
    rows = ScanAggregate.objects.filter(shard__run=run, location_id__isnull=True).order_by("uri", "shard_id")
    current: Group | None = None
    for row in rows.iterator(chunk_size=2000):
        if current is None or current.uri != row.uri:
            if current is not None:
                yield current
            current = Group(row.uri)
        if current.add(GroupFigures.of_aggregate(row)):
            current.newest_owner = row.newest_owner
        for owner, count in row.owners.items():  # no cap here: each shard capped its own list
            current.owners[owner] = current.owners.get(owner, 0) + count
        current.dvc_like += row.dvc_like
    if current is not None:
        yield current


class PeopleNames:
    """Usernames and display names, to say whose data a prefix or an object owner probably is."""

    def __init__(self) -> None:
        user_model = get_user_model()
        self.by_username = {
            username.lower(): name
            for username, name in user_model.objects.filter(person__isnull=False).values_list(
                "username", "person__display_name")
        }

    def hints(self, group: Group, root_uri_len: int) -> list[str]:
        hints: list[str] = []
        if group.objects and group.dvc_like * 2 >= group.objects:
            hints.append("Looks like a DVC remote (content-addressed keys such as files/md5/ab/…).")
        if group.newest_owner:
            known = self.by_username.get(group.newest_owner.lower())
            hints.append(f"Last written by {group.newest_owner}" + (f" ({known})." if known else "."))
        for token in _TOKEN.split(group.uri[root_uri_len:].lower()):
            if token in self.by_username:
                hints.append(f"The path names '{token}' ({self.by_username[token]}).")
        return hints


class Reconciler:
    def __init__(self, run: ScanRun) -> None:
        self.run = run
        self.connection: StorageConnection = run.connection
        self.now = timezone.now()
        self.existing = {finding.key: finding for finding in self.connection.findings.all()}
        self.seen: set[str] = set()
        self.seen_unchanged: list[int] = []
        self.created_by_key: dict[str, Finding] = {}

    @cached_property
    def coverage(self) -> list[RootCoverage]:
        """What the run verified below each root. Read on first use: a DVC remote's findings never need it."""
        lister = lister_for(self.connection)
        shards_by_root: dict[str, dict[tuple[str, bool], ScanShard]] = {}
        for shard in self.run.shards.all():
            shards_by_root.setdefault(shard.root, {})[(shard.prefix, shard.top_level_only)] = shard
        return [
            RootCoverage(root, location_index(self.connection, root, lister.root_uri(root)),
                         shards_by_root.get(root, {}), self.run.source == ScanRun.Source.INVENTORY)
            for root in self.connection.roots
        ]

    def upsert(self, key: str, kind: str, **values: Any) -> Finding:
        self.seen.add(key)
        finding = self.existing.get(key)
        if finding is None:
            # Every finding is new on a first scan (hundreds of them): one INSERT for all of them in finish().
            finding = Finding(connection=self.connection, key=key, kind=kind, last_run=self.run,
                              first_seen_at=self.now, last_seen_at=self.now)
            self.existing[key] = self.created_by_key[key] = finding
        if key in self.created_by_key:  # new in this run: finish() writes it as it is then
            for name, value in values.items():
                setattr(finding, name, value)
            return finding
        if finding.status != Finding.Status.RESOLVED and all(_unchanged(finding, name, value)
                                                             for name, value in values.items()):
            # Seen again as it was: one UPDATE for all of those in finish(), not a save() each.
            finding.last_seen_at, finding.last_run = self.now, self.run
            self.seen_unchanged.append(finding.pk)
            return finding
        for name, value in values.items():
            setattr(finding, name, value)
        finding.last_seen_at, finding.last_run = self.now, self.run
        if finding.status == Finding.Status.RESOLVED:  # it came back
            finding.status, finding.closed_at, finding.resolution = Finding.Status.OPEN, None, ""
        finding.save()
        return finding

    def finish(self) -> None:
        """Write what upsert() left for later."""
        Finding.objects.bulk_create(list(self.created_by_key.values()))
        self.created_by_key.clear()
        Finding.objects.filter(pk__in=self.seen_unchanged).update(last_seen_at=self.now, last_run=self.run)
        self.seen_unchanged.clear()

    def close(self, finding: Finding, resolution: str) -> None:
        if not finding.is_open:
            return
        finding.status, finding.closed_at, finding.resolution = Finding.Status.RESOLVED, self.now, resolution[:300]
        if finding.key not in self.created_by_key:  # else finish() writes it as it is
            finding.save(update_fields=["status", "closed_at", "resolution"])

    def coverage_of(self, uri: str) -> tuple[RootCoverage, str] | None:
        for coverage in self.coverage:
            if uri.startswith(coverage.index.root_uri):
                return coverage, uri[len(coverage.index.root_uri):]
        return None

    def unregistered(self) -> None:
        names = PeopleNames()
        for group in _groups(self.run):
            owners = group.owners
            located = self.coverage_of(group.uri)
            hints = names.hints(group, len(located[0].index.root_uri) if located else 0)
            self.upsert(
                f"unregistered:{group.uri}", Finding.Kind.UNREGISTERED, uri=group.uri, object_count=group.objects,
                total_bytes=group.bytes, oldest_modified=group.oldest, newest_modified=group.newest,
                sample_keys=group.samples, storage_owner=max(owners, key=lambda o: owners[o]) if owners else "",
                hints=hints, message="",
            )
        for key, finding in self.existing.items():
            if finding.kind != Finding.Kind.UNREGISTERED or key in self.seen or not finding.is_open:
                continue
            located = self.coverage_of(finding.uri)
            if located is None:
                continue
            coverage, relative = located
            if not coverage.verdict(relative)[0]:
                continue
            if coverage.index.locations_of(relative) or relative in coverage.index.containing:
                self.close(finding, "Registered in the catalog.")
            else:
                self.close(finding, "The data is no longer there.")

    def registered(self) -> None:
        totals = {
            location_id: GroupFigures(objects=objects, bytes=size, oldest=oldest, newest=newest)
            for location_id, objects, size, oldest, newest in (
                ScanAggregate.objects.filter(shard__run=self.run, location_id__isnull=False)
                .values_list("location_id").annotate(Sum("object_count"), Sum("byte_count"), Min("oldest"),
                                                     Max("newest"))
                .values_list("location_id", "object_count__sum", "byte_count__sum", "oldest__min", "newest__max")
            )
        }
        relative_by_location: dict[int, tuple[RootCoverage, str]] = {}
        for coverage in self.coverage:
            for location_id, relative in coverage.index.location_paths.items():
                relative_by_location.setdefault(location_id, (coverage, relative))
        locations = StorageLocation.objects.filter(pk__in=relative_by_location).select_related("dataset__owner")
        for location in locations:
            if location.dataset.status == Dataset.Status.ARCHIVED:
                continue
            coverage, relative = relative_by_location[location.pk]
            figures = totals.get(location.pk, GroupFigures())
            self.missing(location, coverage, relative, figures.objects)
            self.ownerless(location, figures if coverage.verdict(relative)[0] else None)
        for key, finding in self.existing.items():
            stale = finding.location_id is None or finding.location_id not in relative_by_location
            if finding.kind != Finding.Kind.UNREGISTERED and key not in self.seen and finding.is_open and stale:
                self.close(finding, "The location is no longer registered under this connection.")

    def missing(self, location: StorageLocation, coverage: RootCoverage, relative: str, objects: int) -> None:
        key = f"missing:{location.pk}"
        verified, failure = coverage.verdict(relative)
        common = {"uri": location.uri, "location": location, "dataset": location.dataset}
        if failure is not None and failure.error_code in LOCATION_FAILURES:
            self.upsert(key, Finding.Kind.MISSING, message=f"Could not be checked: {failure.error}"[:500], **common)
        elif verified and objects == 0:
            self.upsert(key, Finding.Kind.MISSING, object_count=0, total_bytes=0,
                        message="No data found: the location is empty or was removed.", **common)
        elif verified and key in self.existing:
            self.seen.add(key)
            self.close(self.existing[key], "Data is present again.")
        elif key in self.existing:
            self.seen.add(key)  # not checked this time: leave it as it was

    def ownerless(self, location: StorageLocation, figures: GroupFigures | None) -> None:
        """A location of a dataset whose owner departed, with how much data it holds (``figures``: None where this
        run could not list the location, so the last figures stay)."""
        key = f"ownerless:{location.pk}"
        owner = location.dataset.owner
        if owner.status == Person.Status.DEPARTED:
            departed = f" on {owner.departed_at:%Y-%m-%d}" if owner.departed_at else ""
            counted = {} if figures is None else {
                "object_count": figures.objects, "total_bytes": figures.bytes, "oldest_modified": figures.oldest,
                "newest_modified": figures.newest}
            self.upsert(key, Finding.Kind.OWNERLESS, uri=location.uri, location=location, dataset=location.dataset,
                        storage_owner="", message=f"{location.dataset.name} is owned by {owner}, who departed"
                        f"{departed}; nobody has taken it over.", **counted)
        elif key in self.existing:
            self.seen.add(key)
            self.close(self.existing[key], f"{owner} owns the dataset now.")


def _unchanged(finding: Finding, field: str, value: Any) -> bool:
    # A foreign key compares by id (location_id), so no query loads the related object.
    attname = _ATTNAMES.get(field, field)
    return bool(getattr(finding, attname) == (value.pk if isinstance(value, Model) else value))


def reconcile_run(run: ScanRun) -> None:
    reconciler = Reconciler(run)
    reconciler.unregistered()
    reconciler.registered()
    reconciler.finish()
