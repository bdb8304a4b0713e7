from storage.listers.base import Lister
from storage.listers.local import LocalLister
from storage.listers.s3 import S3Lister
from storage.models import StorageConnection


def lister_for(connection: StorageConnection) -> Lister:
    if connection.kind == StorageConnection.Kind.LOCAL:
        return LocalLister()
    return S3Lister(connection)
