"""From single objects to what a person wants to see: one line per unaccounted directory.

An object under a registered location counts for that location. Any other object counts for the
shallowest directory below the root that contains no registered location (so the finding never
overlaps catalogued data), at most KURA_SCAN_AGGREGATE_MAX_DEPTH levels deep.
"""

import os
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

from catalog.models import StorageLocation
from catalog.uris import parse_storage_uri
from storage.listers.base import ListedObject, looks_like_dvc
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
    exact_keys: set[str] = field(default_factory=set)  # locations naming a single object

    def add(self, location_id: int, relative: str) -> None:
        relative = relative.lstrip("/")
        self.location_paths[location_id] = relative
        forms = {relative} if relative == "" or relative.endswith("/") else {relative, relative + "/"}
        if relative and not relative.endswith("/"):
            self.exact_keys.add(relative)
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
    oldest: float | None = None
    newest: float | None = None
    newest_owner: str = ""
    owners: dict[str, int] = field(default_factory=dict)
    samples: list[str] = field(default_factory=list)
    dvc_like: int = 0

    def add(self, item: ListedObject, *, track_details: bool) -> None:
        # Runs once per object: locals instead of repeated attribute lookups.
        key, size, modified, owner, _ = item
        self.objects += 1
        self.bytes += size
        if modified is not None:
            oldest, newest = self.oldest, self.newest
            if oldest is None or modified < oldest:
                self.oldest = modified
            if newest is None or modified > newest:
                self.newest, self.newest_owner = modified, owner
        if not track_details:
            return
        if owner:
            owners = self.owners
            count = owners.get(owner)
            if count is not None:
                owners[owner] = count + 1
            elif len(owners) < MAX_OWNERS:
                owners[owner] = 1
        if len(self.samples) < SAMPLE_KEYS:
            self.samples.append(self.root_uri + key)
        if looks_like_dvc(key):
            self.dvc_like += 1

    def merge_into(self, row: ScanAggregate) -> None:
        row.object_count += self.objects
        row.byte_count += self.bytes
        oldest = datetime.fromtimestamp(self.oldest, tz=UTC) if self.oldest is not None else None
        newest = datetime.fromtimestamp(self.newest, tz=UTC) if self.newest is not None else None
        if oldest is not None and (row.oldest is None or oldest < row.oldest):
            row.oldest = oldest
        if newest is not None and (row.newest is None or newest > row.newest):
            row.newest, row.newest_owner = newest, self.newest_owner
        owners = Counter(row.owners)
        for owner, count in self.owners.items():
            if owner in owners or len(owners) < MAX_OWNERS:
                owners[owner] += count
        row.owners = dict(owners)
        row.sample_keys = (list(row.sample_keys) + self.samples)[:SAMPLE_KEYS]
        row.dvc_like += self.dvc_like
