import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple, Protocol

_DVC_OBJECT = re.compile(r"(?:^|/)(?:files/md5/)?[0-9a-f]{2}/[0-9a-f]{30}(?:\.dir)?\Z")
# The same test split in two, for a batch of names in one directory: the directory is tested once.
_DVC_DIRECTORY = re.compile(r"(?:^|/)[0-9a-f]{2}/\Z")
_DVC_NAME = re.compile(r"[0-9a-f]{30}(?:\.dir)?")


def looks_like_dvc(key: str) -> bool:
    # DVC names are 30 hex digits (34 with '.dir'); the length test spares the regex for everything else.
    name_length = len(key) - key.rfind("/") - 1
    return (name_length == 30 or name_length == 34) and _DVC_OBJECT.search(key) is not None


def dvc_like_count(directory: str, names: Iterable[str]) -> int:
    """How many of ``directory + name`` looks_like_dvc accepts (names hold no '/')."""
    if _DVC_DIRECTORY.search(directory) is None:
        return 0
    return sum(1 for name in names if _DVC_NAME.fullmatch(name) is not None)


class ListedObject(NamedTuple):
    """One object as a lister reports it (a tuple: scans create millions of them)."""

    key: str  # relative to the root, '/'-separated
    size: int
    modified: float | None  # POSIX timestamp: cheaper to make and compare than a datetime, per object
    owner: str = ""
    position: str = ""  # checkpoint if not the key itself (e.g. a row number in an inventory file)


class ObjectBatch(NamedTuple):
    """Objects listed one after another in one directory, as columns: a scan counts a batch with a few builtin
    calls instead of a few Python statements per object.

    Every key is ``directory + name`` (names hold no '/'). ``position`` is the checkpoint once the batch is
    counted: the last row's position, or its key. A batch may hold no object and only move the checkpoint on.
    """

    directory: str
    names: list[str]
    sizes: list[int]
    modified: list[float | None]
    owners: list[str]
    position: str

    def part(self, start: int, stop: int) -> "ObjectBatch":
        """Objects ``start`` to ``stop``; the position stays the whole batch's, to checkpoint once it is counted."""
        return ObjectBatch(self.directory, self.names[start:stop], self.sizes[start:stop], self.modified[start:stop],
                           self.owners[start:stop], self.position)

    def objects(self) -> Iterator[ListedObject]:
        directory = self.directory
        for name, size, modified, owner in zip(self.names, self.sizes, self.modified, self.owners, strict=True):
            yield ListedObject(directory + name, size, modified, owner)


@dataclass(frozen=True)
class ShardSpec:
    prefix: str  # '' or 'name/' relative to the root
    top_level_only: bool = False


class ListingError(Exception):
    """Listing failed. ``permanent`` errors (denied, no such bucket) are not worth retrying."""

    def __init__(self, message: str, *, code: str, permanent: bool) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.permanent = permanent


@dataclass(frozen=True)
class RetryNotice:
    """A transient failure being waited out: why, which retry comes next and when."""

    message: str
    attempt: int
    attempts: int
    at: datetime


# Told of each retry, then None once a page came through again: a person watching the scan sees why nothing moves.
RetryHook = Callable[[RetryNotice | None], None]


def batched(listing: Iterable[ListedObject], limit: int) -> Iterator[ObjectBatch]:
    """Consecutive objects of one directory as batches of at most ``limit`` objects."""
    directory: str | None = None
    names: list[str] = []
    sizes: list[int] = []
    modified: list[float | None] = []
    owners: list[str] = []
    position = ""
    try:
        for item in listing:
            key = item[0]
            if not key:  # a row that belongs to no root (inventory): only the checkpoint moves
                position = item[4]
                continue
            cut = key.rfind("/") + 1
            if len(names) >= limit or directory is None or not key.startswith(directory) or cut != len(directory):
                if names:
                    yield ObjectBatch(directory or "", names, sizes, modified, owners, position)
                    names, sizes, modified, owners = [], [], [], []
                directory = key[:cut]
            names.append(key[cut:])
            sizes.append(item[1])
            modified.append(item[2])
            owners.append(item[3])
            position = item[4] or key
    except ListingError:
        if names:  # what was listed before the failure is counted before it, as it was object by object
            yield ObjectBatch(directory or "", names, sizes, modified, owners, position)
        raise
    if names or position:
        yield ObjectBatch(directory or "", names, sizes, modified, owners, position)


class Lister(Protocol):
    def root_uri(self, root: str) -> str: ...

    def shards(self, root: str) -> list[ShardSpec]: ...

    def iter_objects(self, root: str, shard: ShardSpec, start_after: str) -> Iterator[ListedObject]: ...

    def iter_batches(self, root: str, shard: ShardSpec, start_after: str, limit: int) -> Iterator[ObjectBatch]:
        """The objects of iter_objects, in the same order, as batches of at most ``limit`` objects."""
        ...
