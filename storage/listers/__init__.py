"""Listers stream a root's objects in key order, one shard (top-level prefix) at a time.

Every lister is read-only: it lists and stats, it never writes, moves or deletes stored data.
"""

from storage.listers.base import ListedObject, Lister, ListingError, ObjectBatch, ShardSpec
from storage.listers.factory import lister_for

__all__ = ["ListedObject", "Lister", "ListingError", "ObjectBatch", "ShardSpec", "lister_for"]
