from storage.listers.base import Lister, RetryHook
from storage.listers.inventory import InventoryLister
from storage.listers.local import LocalLister
from storage.listers.s3 import S3Lister
from storage.models import StorageConnection


def lister_for(connection: StorageConnection, *, on_retry: RetryHook | None = None) -> Lister:
    """``on_retry`` hears why a listing waits before retrying (S3: throttling, an unreachable endpoint)."""
    if connection.kind == StorageConnection.Kind.LOCAL:
        return LocalLister()
    if connection.inventory_manifest:
        return InventoryLister(connection, on_retry=on_retry)
    return S3Lister(connection, on_retry=on_retry)
