"""From single objects to what a person wants to see: one line per unaccounted directory.

An object under a registered location counts for that location. Any other object counts for the
shallowest directory below the root that contains no registered location (so the finding never
overlaps catalogued data), at most KURA_SCAN_AGGREGATE_MAX_DEPTH levels deep.
"""

import os
from collections import Counter
from dataclasses import dataclass, field
from typing import NamedTuple, cast

from catalog.models import StorageLocation
from catalog.uris import parse_storage_uri
from storage.figures import SAMPLE_KEYS, GroupFigures, add_to_aggregate, as_datetime
from storage.listers.base import ObjectBatch, dvc_like_count
from storage.listers.s3 import split_root
from storage.models import ScanAggregate, StorageConnection

MAX_OWNERS = 20


@dataclass
class LocationIndex:
    """Registered locations under one root, as paths relative to it."""

    root_uri: str
    covering: dict[str, list[int]] = field(default_factory=dict)  # 'dir/' or exact key → location ids
    containing: set[str] = field(default_factory=set)  # directories with a registered location inside
    location_paths: dict[int, str] = field(default_factory=dict)
    exact_keys: set[str] = field(default_factory=set)  # locations naming a single object
    exact_directories: set[str] = field(default_factory=set)  # the directories those objects are in

    def add(self, location_id: int, relative: str) -> None:
        relative = relative.lstrip("/")
        self.location_paths[location_id] = relative
        forms = {relative} if relative == "" or relative.endswith("/") else {relative, relative + "/"}
        if relative and not relative.endswith("/"):
            self.exact_keys.add(relative)
            self.exact_directories.add(relative[: relative.rfind("/") + 1])
        for form in forms:
            self.covering.setdefault(form, []).append(location_id)
        parts = relative.rstrip("/").split("/") if relative else []
        for depth in range(len(parts)):
            self.containing.add("".join(part + "/" for part in parts[:depth]))

    def locations_of(self, key: str) -> list[int]:
        found = list(self.covering.get("", []))
        position = key.find("/")
        while position != -1:
            found.extend(self.covering.get(key[: position + 1], ()))
            position = key.find("/", position + 1)
        found.extend(self.covering.get(key, ()))
        return found

    def group_of(self, key: str, max_depth: int) -> str:
        directories = key.split("/")[:-1]
        if not directories:
            return ""
        candidate = ""
        for depth in range(1, min(len(directories), max(1, max_depth)) + 1):
            candidate = "".join(part + "/" for part in directories[:depth])
            if candidate not in self.containing:
                return candidate
        return candidate


def _relative_to_root(connection: StorageConnection, root: str, uri: str) -> str | None:
    """The location's path relative to ``root``, '' if it covers the whole root, None if elsewhere."""
    try:
        parsed = parse_storage_uri(uri)
    except Exception:  # a location saved before validation tightened: not ours to judge here
        return None
    if connection.kind == StorageConnection.Kind.S3:
        if parsed.scheme != "s3":
            return None
        bucket, prefix = split_root(root)
        path = parsed.path
        if parsed.container != bucket:
            return None
    else:
        if parsed.scheme != "file":
            return None
        prefix = os.path.realpath(root).rstrip("/") + "/"
        path = os.path.realpath(parsed.path) + ("/" if parsed.path.endswith("/") else "")
        if path.rstrip("/") + "/" == prefix:
            return ""
    if path.startswith(prefix):
        return path[len(prefix):]
    if prefix.startswith(path.rstrip("/") + "/") or not path.strip("/"):
        return ""
    return None


def location_index(connection: StorageConnection, root: str, root_uri: str) -> LocationIndex:
    index = LocationIndex(root_uri)
    scheme = "s3://" if connection.kind == StorageConnection.Kind.S3 else "file://"
    for location_id, uri in StorageLocation.objects.filter(uri__startswith=scheme).values_list("pk", "uri"):
        relative = _relative_to_root(connection, root, uri)
        if relative is not None:
            index.add(location_id, relative)
    return index


class BatchFigures(NamedTuple):
    """What one batch adds to each of its totals, worked out once however many totals it counts for."""

    objects: int
    bytes: int
    oldest: float | None
    newest: float | None
    newest_owner: str  # the owner of the first object with the newest date
    owners: Counter[str]  # object counts by owner, in order of first appearance (only with details)
    dvc_like: int  # only with details


def batch_figures(batch: ObjectBatch, *, details: bool) -> BatchFigures:
    modified = batch.modified
    oldest: float | None
    newest: float | None
    try:
        oldest, newest = min(cast(list[float], modified)), max(cast(list[float], modified))
    except TypeError:  # some objects have no date: min and max cannot compare None
        dated = [timestamp for timestamp in modified if timestamp is not None]
        oldest, newest = (min(dated), max(dated)) if dated else (None, None)
    newest_owner = batch.owners[modified.index(newest)] if newest is not None else ""
    owners: Counter[str] = Counter(batch.owners) if details else Counter()
    dvc_like = dvc_like_count(batch.directory, batch.names) if details else 0
    return BatchFigures(len(batch.names), sum(batch.sizes), oldest, newest, newest_owner, owners, dvc_like)


@dataclass
class Totals:
    """In-memory counts for one aggregate between two checkpoints."""

    uri: str
    root_uri: str = ""
    location_id: int | None = None
    objects: int = 0
    bytes: int = 0
    oldest: float | None = None
    newest: float | None = None
    newest_owner: str = ""
    owners: dict[str, int] = field(default_factory=dict)
    samples: list[str] = field(default_factory=list)
    dvc_like: int = 0

    def add(self, batch: ObjectBatch, figures: BatchFigures, *, track_details: bool) -> None:
        """Count a batch: the same totals as adding its objects one by one, in order."""
        self.objects += figures.objects
        self.bytes += figures.bytes
        oldest, newest = figures.oldest, figures.newest
        if oldest is not None and (self.oldest is None or oldest < self.oldest):
            self.oldest = oldest
        if newest is not None and (self.newest is None or newest > self.newest):
            self.newest, self.newest_owner = newest, figures.newest_owner
        if not track_details:
            return
        owners = self.owners
        for owner, count in figures.owners.items():
            if not owner:
                continue
            if owner in owners:
                owners[owner] += count
            elif len(owners) < MAX_OWNERS:  # an owner first seen once the list is full is never counted
                owners[owner] = count
        missing = SAMPLE_KEYS - len(self.samples)
        if missing > 0:
            prefix = self.root_uri + batch.directory
            self.samples.extend(prefix + name for name in batch.names[:missing])
        self.dvc_like += figures.dvc_like

    def merge_into(self, row: ScanAggregate) -> None:
        part = GroupFigures(objects=self.objects, bytes=self.bytes, oldest=as_datetime(self.oldest),
                            newest=as_datetime(self.newest), samples=self.samples)
        if add_to_aggregate(row, part):
            row.newest_owner = self.newest_owner
        owners = Counter(row.owners)
        for owner, count in self.owners.items():
            if owner in owners or len(owners) < MAX_OWNERS:
                owners[owner] += count
        row.owners = dict(owners)
        row.dvc_like += self.dvc_like
