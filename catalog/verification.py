"""Checks that a registered location still holds data. Read-only: nothing on storage is changed.

Only ``file://`` locations under the allow-listed KURA_LOCAL_ROOTS are checked here; object stores are
checked by the storage scanners.
"""

import os
from pathlib import Path

from django.conf import settings

from catalog.models import StorageLocation
from catalog.services import storage_location_record_verification
from catalog.uris import parse_storage_uri


def _allowed(path: Path) -> bool:
    resolved = path.resolve()
    for root in settings.KURA_LOCAL_ROOTS:
        root_path = Path(root).resolve()
        if resolved == root_path or root_path in resolved.parents:
            return True
    return False


def location_verify(*, location: StorageLocation) -> bool | None:
    """Return True/False after a check, or None when this location is not checkable from here."""
    parsed = parse_storage_uri(location.uri)
    if parsed.scheme != "file":
        return None
    path = Path(parsed.path)
    if not _allowed(path):
        return None
    if not path.exists():
        storage_location_record_verification(location=location, ok=False, message="Path does not exist.")
        return False
    if path.is_dir():
        with os.scandir(path) as entries:
            has_data = any(True for _ in entries)
        if not has_data:
            storage_location_record_verification(location=location, ok=False, message="Directory is empty.")
            return False
    storage_location_record_verification(location=location, ok=True, message="Data present.")
    return True


def file_locations() -> "list[int]":
    return list(StorageLocation.objects.filter(uri__startswith="file://").values_list("pk", flat=True))
