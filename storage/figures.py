"""A group's figures added up from its parts, by one set of rules.

A scan adds a group's in-memory totals to its stored aggregate at every checkpoint, and reconciling adds up a
group's aggregates over the run's shards. Both add object counts and bytes, keep the oldest and newest
modification and the first few sample keys, and let whatever goes with the newest (or last committed) object
follow it: who wrote it, which commit referred to it.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime

from storage.models import DvcScanAggregate, ScanAggregate

SAMPLE_KEYS = 5

Aggregate = ScanAggregate | DvcScanAggregate


def as_datetime(timestamp: float | None) -> datetime | None:
    """A listing's POSIX modification time as the aware datetime an aggregate stores."""
    return datetime.fromtimestamp(timestamp, tz=UTC) if timestamp is not None else None


def is_later(candidate: datetime | None, current: datetime | None) -> bool:
    """Whether ``candidate`` is a known date after ``current``; any known date is later than an unknown one."""
    return candidate is not None and (current is None or candidate > current)


@dataclass(kw_only=True)
class GroupFigures:
    """Object count, bytes, modification range and first sample keys of a group of objects."""

    objects: int = 0
    bytes: int = 0
    oldest: datetime | None = None
    newest: datetime | None = None
    samples: list[str] = field(default_factory=list)

    @classmethod
    def of_aggregate(cls, row: Aggregate) -> "GroupFigures":
        return cls(objects=row.object_count, bytes=row.byte_count, oldest=row.oldest, newest=row.newest,
                   samples=list(row.sample_keys))

    def add(self, part: "GroupFigures") -> bool:
        """Count ``part`` in. True when it holds a newer object than any so far: what goes with that object
        (its owner, say) should then follow it."""
        self.objects += part.objects
        self.bytes += part.bytes
        if part.oldest is not None and (self.oldest is None or part.oldest < self.oldest):
            self.oldest = part.oldest
        newer = is_later(part.newest, self.newest)
        if newer:
            self.newest = part.newest
        self.samples = (self.samples + part.samples)[:SAMPLE_KEYS]
        return newer


def add_to_aggregate(row: Aggregate, part: GroupFigures) -> bool:
    """Count ``part`` into a stored aggregate; True when its newest object is now the row's newest."""
    figures = GroupFigures.of_aggregate(row)
    newer = figures.add(part)
    row.object_count, row.byte_count = figures.objects, figures.bytes
    row.oldest, row.newest, row.sample_keys = figures.oldest, figures.newest, figures.samples
    return newer
