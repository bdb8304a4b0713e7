import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

_DVC_OBJECT = re.compile(r"(?:^|/)(?:files/md5/)?[0-9a-f]{2}/[0-9a-f]{30}(?:\.dir)?$")


@dataclass(frozen=True, slots=True)
class ListedObject:
    key: str  # relative to the root, '/'-separated
    size: int
    modified: datetime | None
    owner: str = ""
    position: str = ""  # checkpoint if not the key itself (e.g. a row number in an inventory file)

    @property
    def looks_like_dvc(self) -> bool:
        # DVC names are 30 hex digits (34 with '.dir'); the length test spares the regex for everything else.
        name_length = len(self.key) - self.key.rfind("/") - 1
        return name_length in (30, 34) and bool(_DVC_OBJECT.search(self.key))


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
