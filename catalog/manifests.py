"""Manifest parsing and the canonical digest that identifies a version's content."""

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError

_HASH = re.compile(r"^(?:[a-z0-9-]{2,16}:)?[0-9a-fA-F]{32,128}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class ManifestEntry:
    path: str
    size: int
    hash: str


def _entry_error(index: int, message: str) -> ValidationError:
    return ValidationError(f"files[{index}]: {message}", code="invalid_manifest")


def parse_manifest(raw_entries: Iterable[Mapping[str, Any]]) -> list[ManifestEntry]:
    """Validate every entry; refuse the whole manifest on the first problem so nothing is half-written."""
    limit = settings.KURA_MANIFEST_MAX_FILES
    entries: list[ManifestEntry] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_entries):
        if index >= limit:
            raise ValidationError(
                f"A manifest may list at most {limit} files; split the dataset or raise KURA_MANIFEST_MAX_FILES.",
                code="manifest_too_large",
            )
        if not isinstance(raw, Mapping):
            raise _entry_error(index, "each file must be an object with path, size and hash.")
        path, size, digest = raw.get("path"), raw.get("size"), raw.get("hash")
        if not isinstance(path, str) or not path.strip():
            raise _entry_error(index, "'path' must be a non-empty string.")
        if path.startswith("/") or any(part in {"..", "."} for part in path.split("/")) or _CONTROL.search(path):
            raise _entry_error(index, f"'{path}' must be a relative path without '.', '..' or control characters.")
        if len(path) > 1024:
            raise _entry_error(index, "'path' may be at most 1024 characters.")
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise _entry_error(index, f"'size' of '{path}' must be a non-negative integer number of bytes.")
        if not isinstance(digest, str) or not _HASH.fullmatch(digest):
            raise _entry_error(index, f"'hash' of '{path}' must be a hex digest, optionally prefixed 'md5:'.")
        if path in seen:
            raise _entry_error(index, f"'{path}' is listed twice.")
        seen.add(path)
        entries.append(ManifestEntry(path=path, size=size, hash=digest.lower()))
    return entries


def manifest_digest(entries: Iterable[ManifestEntry]) -> str:
    hasher = hashlib.sha256()
    for entry in sorted(entries, key=lambda item: item.path.encode()):
        hasher.update(f"{entry.path}\t{entry.size}\t{entry.hash}\n".encode())
    return hasher.hexdigest()
