"""From single objects to what a person wants to see: one line per unaccounted directory.

An object under a registered location counts for that location. Any other object counts for the
shallowest directory below the root that contains no registered location (so the finding never
overlaps catalogued data), at most KURA_SCAN_AGGREGATE_MAX_DEPTH levels deep.
"""

import os
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from catalog.models import StorageLocation
from catalog.uris import parse_storage_uri
from storage.listers.base import ListedObject
from storage.listers.s3 import split_root
from storage.models import ScanAggregate, StorageConnection

SAMPLE_KEYS = 5
MAX_OWNERS = 20


@dataclass
class LocationIndex:
    """Registered locations under one root, as paths relative to it."""

    root_uri: str
    covering: dict[str, list[int]] = field(default_factory=dict)  # 'dir/' or exact key → location ids
    containing: set[str] = field(default_factory=set)  # directories with a registered location inside
    location_paths: dict[int, str] = field(default_factory=dict)

    def add(self, location_id: int, relative: str) -> None:
        relative = relative.lstrip("/")
        self.location_paths[location_id] = relative
        forms = {relative} if relative == "" or relative.endswith("/") else {relative, relative + "/"}
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


@dataclass
class Totals:
    """In-memory counts for one aggregate between two checkpoints."""

    uri: str
    root_uri: str = ""
    location_id: int | None = None
    objects: int = 0
    bytes: int = 0
    oldest: datetime | None = None
    newest: datetime | None = None
    newest_owner: str = ""
    owners: Counter[str] = field(default_factory=Counter)
    samples: list[str] = field(default_factory=list)
    dvc_like: int = 0

    def add(self, item: ListedObject, *, track_details: bool) -> None:
        self.objects += 1
        self.bytes += item.size
        if item.modified is not None:
            if self.oldest is None or item.modified < self.oldest:
                self.oldest = item.modified
            if self.newest is None or item.modified > self.newest:
                self.newest, self.newest_owner = item.modified, item.owner
        if not track_details:
            return
        if item.owner and (item.owner in self.owners or len(self.owners) < MAX_OWNERS):
            self.owners[item.owner] += 1
        if len(self.samples) < SAMPLE_KEYS:
            self.samples.append(self.root_uri + item.key)
        if item.looks_like_dvc:
            self.dvc_like += 1

    def merge_into(self, row: ScanAggregate) -> None:
        row.object_count += self.objects
        row.byte_count += self.bytes
        if self.oldest is not None and (row.oldest is None or self.oldest < row.oldest):
            row.oldest = self.oldest
        if self.newest is not None and (row.newest is None or self.newest > row.newest):
            row.newest, row.newest_owner = self.newest, self.newest_owner
        owners = Counter(row.owners)
        for owner, count in self.owners.items():
            if owner in owners or len(owners) < MAX_OWNERS:
                owners[owner] += count
        row.owners = dict(owners)
        row.sample_keys = (list(row.sample_keys) + self.samples)[:SAMPLE_KEYS]
        row.dvc_like += self.dvc_like
