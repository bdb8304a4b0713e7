"""The shape of the benchmark's storage: 20 top-level prefixes, two levels of folders, small objects.

Four top-level prefixes are registered as dataset locations, the rest is unregistered data the scan reports.
"""

from collections.abc import Iterator

TOP_LEVEL = 20
REGISTERED = [f"project-{index:02d}/" for index in range(4)]


def object_keys(count: int) -> Iterator[tuple[str, int]]:
    for index in range(count):
        top = index % TOP_LEVEL
        yield f"project-{top:02d}/part-{index % 7}/shard-{index % 13:02d}/{index:07d}.bin", 1 + index % 5
