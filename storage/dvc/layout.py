"""Where DVC puts an object in a remote, and how to read a key back into a hash.

DVC 3 outputs (``hash: md5``) live under ``files/md5/ab/cdef…``; DVC 2 outputs (no ``hash`` field, md5 computed
after dos2unix on text files) live under ``ab/cdef…``. Both layouts coexist in one remote. A directory output is
one ``<md5>.dir`` object holding a JSON list of ``{"md5", "relpath"}`` plus one object per file.
Keys here are relative to the remote's root (the URL in ``.dvc/config``).
"""

import json
import re
from dataclasses import dataclass
from enum import StrEnum

DIR_SUFFIX = ".dir"
DVC3_PREFIX = "files/md5/"
RUN_CACHE_PREFIX = "runs/"

_MD5 = re.compile(r"^[0-9a-f]{32}$")
_OBJECT_KEY = re.compile(r"^(?P<prefix>files/md5/)?(?P<head>[0-9a-f]{2})/(?P<tail>[0-9a-f]{30})(?P<dir>\.dir)?$")
_HASH_QUERY = re.compile(r"^(?:md5:)?(?P<md5>[0-9a-fA-F]{32})(?P<dir>\.dir)?$")
# The key at the end of a longer path: an object's URI or its key in a bucket, remote prefix included.
_KEY_AT_END = re.compile(r"(?:^|/)(?P<key>(?:files/md5/)?[0-9a-f]{2}/[0-9a-f]{30}(?:\.dir)?)\Z")


class Layout(StrEnum):
    DVC3 = "dvc3"
    DVC2 = "dvc2"


# A committed output's ``hash`` field ("md5" from DVC 3, absent before) says where its objects live in a remote.
LAYOUT_OF_HASH_NAME = {"md5": Layout.DVC3, "": Layout.DVC2}
HASH_NAME_OF_LAYOUT = {layout: name for name, layout in LAYOUT_OF_HASH_NAME.items()}


class KeyKind(StrEnum):
    OBJECT = "object"
    RUN_CACHE = "run_cache"
    TEMPORARY = "temporary"
    OTHER = "other"


@dataclass(frozen=True)
class ObjectId:
    md5: str
    is_dir: bool
    layout: Layout | None  # None when only a hash was given, not a key

    @property
    def hash_text(self) -> str:
        return self.md5 + (DIR_SUFFIX if self.is_dir else "")

    def key(self, layout: Layout | None = None) -> str:
        chosen = layout or self.layout or Layout.DVC3
        return object_key(self.md5, is_dir=self.is_dir, layout=chosen)


@dataclass(frozen=True)
class DirEntry:
    relpath: str
    md5: str


class ManifestError(ValueError):
    """A ``.dir`` object that is not the JSON list DVC writes."""


def is_md5(value: str) -> bool:
    return bool(_MD5.fullmatch(value))


def object_key(md5: str, *, is_dir: bool, layout: Layout) -> str:
    suffix = DIR_SUFFIX if is_dir else ""
    prefix = DVC3_PREFIX if layout == Layout.DVC3 else ""
    return f"{prefix}{md5[:2]}/{md5[2:]}{suffix}"


def key_kind(key: str) -> KeyKind:
    if _OBJECT_KEY.fullmatch(key):
        return KeyKind.OBJECT
    if key.startswith(RUN_CACHE_PREFIX):
        return KeyKind.RUN_CACHE
    # Interrupted uploads leave "<name>.<uuid>.tmp"-style leftovers next to the objects.
    if key.endswith(".tmp") or ".tmp." in key.rsplit("/", 1)[-1]:
        return KeyKind.TEMPORARY
    return KeyKind.OTHER


def parse_object_key(key: str) -> ObjectId | None:
    """``files/md5/ab/cdef…[.dir]`` or ``ab/cdef…[.dir]`` → the object's hash; anything else → None."""
    match = _OBJECT_KEY.fullmatch(key)
    if match is None:
        return None
    layout = Layout.DVC3 if match.group("prefix") else Layout.DVC2
    return ObjectId(md5=match.group("head") + match.group("tail"), is_dir=bool(match.group("dir")), layout=layout)


def parse_hash_or_key(text: str) -> ObjectId | None:
    """What a person pastes: a hash (``abc…``, ``abc….dir``, ``md5:abc…``) or a remote key, bare or with whatever
    came before it where it was copied from (``s3://bucket/store/files/md5/ab/c…``, ``file:///mnt/remote/ab/c…``)."""
    text = text.strip().strip("/")
    match = _HASH_QUERY.fullmatch(text)
    if match is not None:
        return ObjectId(md5=match.group("md5").lower(), is_dir=bool(match.group("dir")), layout=None)
    key = _KEY_AT_END.search(text)
    return parse_object_key(key.group("key")) if key is not None else None


def parse_dir_manifest(data: bytes) -> list[DirEntry]:
    """Read a ``.dir`` object. Takes bytes so any reader (local file, S3 GET) can feed it."""
    try:
        entries = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ManifestError(f"not JSON: {error}") from error
    if not isinstance(entries, list):
        raise ManifestError("a .dir object must hold a JSON list")
    parsed: list[DirEntry] = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise ManifestError(f"entry {index} is not an object")
        md5, relpath = entry.get("md5"), entry.get("relpath")
        if not isinstance(md5, str) or not is_md5(md5) or not isinstance(relpath, str) or not relpath:
            raise ManifestError(f"entry {index} needs a 32-hex 'md5' and a 'relpath'")
        parsed.append(DirEntry(relpath=relpath, md5=md5))
    return parsed
