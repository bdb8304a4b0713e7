"""Spacing out Python's cyclic garbage collections during a bulk step.

A collection runs every 700 net allocations of container objects by default, and every tenth of every tenth one walks
every tracked object of the process. A step that builds tens of thousands of tuples and small objects (a DVC remote's
history, its manifests, a shard's verdicts) sets off hundreds of collections, and with a large heap those cost a
fifth of a first scan of a remote, while such a step leaves hardly any reference cycles behind. Within
``collections_spaced`` a collection runs every SPACED_ALLOCATIONS instead: garbage that other code (botocore leaves a
few cycles per request) makes meanwhile is still collected, a little later.
"""

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

SPACED_ALLOCATIONS = 100_000

_lock = threading.Lock()
_depth = 0  # steps within collections_spaced, in any thread: the thresholds are the process's
_thresholds: tuple[int, int, int] = gc.get_threshold()  # as they were before the first block, while one runs


@contextmanager
def collections_spaced() -> Iterator[None]:
    """Collections every SPACED_ALLOCATIONS allocations within the block; the thresholds as they were once the last
    block running in any thread ends."""
    global _depth, _thresholds
    with _lock:
        if _depth == 0:
            _thresholds = gc.get_threshold()
            gc.set_threshold(max(SPACED_ALLOCATIONS, _thresholds[0]), *_thresholds[1:])
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                gc.set_threshold(*_thresholds)
