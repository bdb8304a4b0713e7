import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple, Protocol

_DVC_OBJECT = re.compile(r"(?:^|/)(?:files/md5/)?[0-9a-f]{2}/[0-9a-f]{30}(?:\.dir)?$")


def looks_like_dvc(key: str) -> bool:
    # DVC names are 30 hex digits (34 with '.dir'); the length test spares the regex for everything else.
    name_length = len(key) - key.rfind("/") - 1
    return (name_length == 30 or name_length == 34) and _DVC_OBJECT.search(key) is not None


class ListedObject(NamedTuple):
    """One object as a lister reports it (a tuple: scans create millions of them)."""

    key: str  # relative to the root, '/'-separated
    size: int
    modified: float | None  # POSIX timestamp: cheaper to make and compare than a datetime, per object
    owner: str = ""
    position: str = ""  # checkpoint if not the key itself (e.g. a row number in an inventory file)


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


class Lister(Protocol):
    def root_uri(self, root: str) -> str: ...

    def shards(self, root: str) -> list[ShardSpec]: ...

    def iter_objects(self, root: str, shard: ShardSpec, start_after: str) -> Iterator[ListedObject]: ...
