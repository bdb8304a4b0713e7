from storage.listers.base import Lister
from storage.listers.inventory import InventoryLister
from storage.listers.local import LocalLister
from storage.listers.s3 import S3Lister
from storage.models import StorageConnection


def lister_for(connection: StorageConnection) -> Lister:
    if connection.kind == StorageConnection.Kind.LOCAL:
        return LocalLister()
    if connection.inventory_manifest:
        return InventoryLister(connection)
    return S3Lister(connection)
