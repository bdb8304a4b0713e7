"""Local and NFS directories, walked with os.scandir in key order without following symlinks.

Entries are visited sorted by ``name`` for files and ``name/`` for directories, so the walk yields
relative paths in the same byte order S3 uses; a checkpointed "last path" therefore resumes exactly.
"""

import os
import pwd
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from functools import lru_cache
from operator import attrgetter
from pathlib import Path
from typing import Protocol

from django.core.exceptions import ValidationError

from storage.listers.base import ListedObject, ListingError, ObjectBatch, ShardSpec
from storage.validation import resolve_local_root

BATCH = 1000
# Sorts after any name: the checkpoint of a skipped directory is past every key in it, and before the next one.
PAST_EVERY_NAME = "\U0010ffff"
_NAME = attrgetter("name")
_SIZE, _MTIME, _UID = attrgetter("st_size"), attrgetter("st_mtime"), attrgetter("st_uid")


def _directory_key(entry: os.DirEntry[str]) -> str:
    return entry.name + "/"


@lru_cache(maxsize=1024)
def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


class DirectoryGate(Protocol):
    def enter(self, key: str, path: str) -> bool:
        """Asked before directory ``key`` ('' for the root, else ending in '/') at ``path`` is listed: False skips
        it, and the walk yields an empty batch for it (its directory is the key) that checkpoints past it."""
        ...

    def listed(self, key: str, names: list[str], nested: bool) -> None:
        """Told once an entered directory was read, before any of its batches: the names of all its entries
        (files, directories and anything else) and whether any is a directory."""
        ...


class _Listing:
    """One directory's files and subdirectories, each sorted, and how far the walk has got through them."""

    __slots__ = ("dir_names", "dirs", "entry_names", "file_names", "files", "next_dir", "next_file", "prefix")

    def __init__(self, directory: str, prefix: str) -> None:
        with os.scandir(directory) as iterator:
            entries = list(iterator)
        # Without following links a symlink is neither a directory nor a file, so it is never entered;
        # sockets, fifos and devices hold no dataset either.
        files = [entry for entry in entries if entry.is_file(follow_symlinks=False)]
        dirs = [entry for entry in entries if entry.is_dir(follow_symlinks=False)] if len(files) < len(entries) else []
        # Code-point order is UTF-8 byte order (S3's order) and the order the checkpoint comparison uses;
        # a directory sorts as "name/". Keys are the names as stored (undecodable bytes escaped, see _clean), and
        # the walk goes in the order of those keys, so a checkpoint taken at any key resumes exactly.
        self.entry_names = list(map(_NAME, entries))  # all of them, as read: see DirectoryGate.listed
        if "".join(self.entry_names).isascii():
            files.sort(key=_NAME)
            dirs.sort(key=_directory_key)
            self.file_names = list(map(_NAME, files))
            self.dir_names = list(map(_directory_key, dirs))
        else:
            files.sort(key=_file_key)
            dirs.sort(key=_clean_directory_key)
            self.file_names = list(map(_file_key, files))
            self.dir_names = list(map(_clean_directory_key, dirs))
        self.prefix = prefix
        self.files = files
        self.dirs = dirs
        self.next_file = self.next_dir = 0


def _file_key(entry: os.DirEntry[str]) -> str:
    return _clean(entry.name)


def _clean_directory_key(entry: os.DirEntry[str]) -> str:
    return _clean(entry.name) + "/"


def _clean(relative: str) -> str:
    if relative.isascii():
        return relative
    # Undecodable file names survive as visible escapes instead of breaking the database write.
    return relative.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _first_after(names: list[str], prefix: str, start_after: str, low: int, high: int) -> int:
    """The first index in names[low:high] whose key (prefix + name) sorts after ``start_after``."""
    if not start_after:
        return low
    if start_after.startswith(prefix):
        return bisect_right(names, start_after[len(prefix):], low, high)
    # The keys differ from start_after within the prefix (or start_after is shorter): all sort alike.
    return low if prefix > start_after else high


def _stats(names: list[str], entries: list[os.DirEntry[str]]) -> tuple[list[str], list[os.stat_result]]:
    try:
        return names, [entry.stat(follow_symlinks=False) for entry in entries]
    except FileNotFoundError:  # some were removed while we walked: skip just those
        kept, stats = [], []
        for name, entry in zip(names, entries, strict=True):
            try:
                stats.append(entry.stat(follow_symlinks=False))
            except FileNotFoundError:
                continue
            kept.append(name)
        return kept, stats


def _file_batches(listing: _Listing, low: int, high: int, limit: int) -> Iterator[ObjectBatch]:
    directory = listing.prefix  # built from keys, already clean
    for start in range(low, high, limit):
        stop = min(start + limit, high)
        names, stats = _stats(listing.file_names[start:stop], listing.files[start:stop])
        if not names:
            continue
        uids = list(map(_UID, stats))
        user_names = {uid: _user_name(uid) for uid in set(uids)}
        yield ObjectBatch(directory, names, list(map(_SIZE, stats)), list(map(_MTIME, stats)),
                          list(map(user_names.__getitem__, uids)), directory + names[-1])


def _shard_path(directory: str, prefix: str) -> str:
    """The directory a shard's prefix (a top-level directory's key) names; a key with an undecodable name
    escaped (see _clean) is not a path, so it is matched against the entries it may stand for."""
    path = os.path.join(directory, prefix)
    if (prefix.isascii() and "\\" not in prefix) or os.path.isdir(path):
        return path
    with os.scandir(directory) as entries:
        for entry in entries:
            if _clean(entry.name) + "/" == prefix and entry.is_dir(follow_symlinks=False):
                return entry.path
    return path  # gone since the shards were planned: the walk finds nothing there


def root_directory(root: str) -> Path:
    """The directory a connection's root names now, or a ListingError saying why it cannot be read (e.g. it was
    unmounted, or swapped for a symlink out of the allowed roots, since the connection was added)."""
    try:
        return resolve_local_root(root)
    except ValidationError as error:
        code = "root_not_allowed" if error.code == "root_not_allowed" else "not_found"
        raise ListingError(error.messages[0], code=code, permanent=True) from error


class LocalLister:
    def root_uri(self, root: str) -> str:
        return f"file://{root.rstrip('/')}/"

    def shards(self, root: str) -> list[ShardSpec]:
        directory = root_directory(root)
        try:
            listing = _Listing(str(directory), "")
        except PermissionError as error:
            raise ListingError(f"Permission denied reading {root}.", code="access_denied", permanent=True) from error
        except FileNotFoundError as error:
            raise ListingError(f"{root} does not exist.", code="not_found", permanent=True) from error
        except OSError as error:
            raise ListingError(f"Cannot read {root}: {error.strerror}.", code="unreadable", permanent=False) from error
        return [ShardSpec("", top_level_only=True)] + [ShardSpec(name) for name in listing.dir_names]

    def iter_objects(self, root: str, shard: ShardSpec, start_after: str) -> Iterator[ListedObject]:
        for batch in self.iter_batches(root, shard, start_after, BATCH):
            yield from batch.objects()

    def iter_batches(self, root: str, shard: ShardSpec, start_after: str, limit: int,
                     gate: DirectoryGate | None = None) -> Iterator[ObjectBatch]:
        directory = root_directory(root)
        start = _shard_path(str(directory), shard.prefix) if shard.prefix else str(directory)
        yield from self._walk(start, shard.prefix, start_after, descend=not shard.top_level_only, limit=limit,
                              gate=gate)

    def _listing(self, path: str, relative: str, gate: DirectoryGate | None) -> _Listing | None:
        try:
            listing = _Listing(path, relative)
        except PermissionError as error:
            raise ListingError(f"Permission denied reading {_clean(relative) or 'the root'}.",
                               code="access_denied", permanent=True) from error
        except (FileNotFoundError, NotADirectoryError):
            return None  # removed (or replaced by a file) while we walked: it simply holds nothing any more
        except OSError as error:
            # An NFS stale handle, an I/O error: worth a retry, and else a failed shard that says so. Raised as is,
            # it left the shard "running" for the scheduler to hand out again and again.
            raise ListingError(f"Cannot read {_clean(relative) or 'the root'}: {error.strerror}.",
                               code="unreadable", permanent=False) from error
        if gate is not None:
            gate.listed(relative, listing.entry_names, bool(listing.dirs))
        return listing

    def _walk(self, path: str, relative: str, start_after: str, *, descend: bool, limit: int,
              gate: DirectoryGate | None) -> Iterator[ObjectBatch]:
        """Depth-first in key order, with an explicit stack (one generator frame, however deep the tree).

        The files between two subdirectories go out as batches; a subdirectory is entered in its place.
        """
        if gate is not None and not gate.enter(relative, path):
            yield _skipped(relative)
            return
        root = self._listing(path, relative, gate)
        stack = [root] if root is not None else []
        while stack:
            listing = stack[-1]
            prefix, file_names = listing.prefix, listing.file_names
            subdirectory = listing.dir_names[listing.next_dir] if descend and listing.next_dir < len(
                listing.dirs) else None
            # Files sort before the subdirectory exactly when their name sorts before "name/".
            end = bisect_left(file_names, subdirectory, listing.next_file) if subdirectory else len(file_names)
            first = _first_after(file_names, prefix, start_after, listing.next_file, end)
            yield from _file_batches(listing, first, end, limit)
            listing.next_file = end
            if subdirectory is None:
                stack.pop()
                continue
            entry = listing.dirs[listing.next_dir]
            listing.next_dir += 1
            key = prefix + subdirectory
            # The subtree holds exactly the keys starting with key; skip it if the checkpoint is past it.
            if start_after and start_after > key and not start_after.startswith(key):
                continue
            if gate is not None and not gate.enter(key, entry.path):
                yield _skipped(key)
                continue
            child = self._listing(entry.path, key, gate)
            if child is not None:
                stack.append(child)


def _skipped(key: str) -> ObjectBatch:
    return ObjectBatch(key, [], [], [], [], key + PAST_EVERY_NAME)
