"""Local and NFS directories, walked with os.scandir in key order without following symlinks.

Entries are visited sorted by ``name`` for files and ``name/`` for directories, so the walk yields
relative paths in the same byte order S3 uses; a checkpointed "last path" therefore resumes exactly.
"""

import os
import pwd
from collections.abc import Iterator
from functools import lru_cache
from operator import itemgetter
from pathlib import Path

from django.core.exceptions import ValidationError

from storage.listers.base import ListedObject, ListingError, ShardSpec
from storage.validation import resolve_local_root


@lru_cache(maxsize=1024)
def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _sorted_entries(directory: str) -> list[tuple[str, os.DirEntry[str], bool]]:
    entries = []
    with os.scandir(directory) as iterator:
        # Without following links a symlink is neither a directory nor a file, so it is never entered;
        # sockets, fifos and devices hold no dataset either.
        for entry in iterator:
            if entry.is_dir(follow_symlinks=False):
                entries.append((entry.name + "/", entry, True))
            elif entry.is_file(follow_symlinks=False):
                entries.append((entry.name, entry, False))
    # Code-point order is UTF-8 byte order (S3's order) and the order the checkpoint comparison uses.
    entries.sort(key=itemgetter(0))
    return entries


def _clean(relative: str) -> str:
    if relative.isascii():
        return relative
    # Undecodable file names survive as visible escapes instead of breaking the database write.
    return relative.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


class LocalLister:
    def root_uri(self, root: str) -> str:
        return f"file://{root.rstrip('/')}/"

    def _directory(self, root: str) -> Path:
        try:
            return resolve_local_root(root)
        except ValidationError as error:
            raise ListingError(error.messages[0], code="root_not_allowed", permanent=True) from error

    def shards(self, root: str) -> list[ShardSpec]:
        directory = self._directory(root)
        try:
            entries = _sorted_entries(str(directory))
        except PermissionError as error:
            raise ListingError(f"Permission denied reading {root}.", code="access_denied", permanent=True) from error
        except FileNotFoundError as error:
            raise ListingError(f"{root} does not exist.", code="not_found", permanent=True) from error
        return [ShardSpec("", top_level_only=True)] + [ShardSpec(name) for name, _, is_dir in entries if is_dir]

    def iter_objects(self, root: str, shard: ShardSpec, start_after: str) -> Iterator[ListedObject]:
        directory = self._directory(root)
        start = os.path.join(directory, shard.prefix) if shard.prefix else str(directory)
        yield from self._walk(start, shard.prefix, start_after, descend=not shard.top_level_only)

    def _entries(self, path: str, relative: str) -> list[tuple[str, os.DirEntry[str], bool]]:
        try:
            return _sorted_entries(path)
        except PermissionError as error:
            raise ListingError(f"Permission denied reading {_clean(relative) or 'the root'}.",
                               code="access_denied", permanent=True) from error
        except FileNotFoundError:
            return []  # removed while we walked: it simply holds nothing any more

    def _walk(self, path: str, relative: str, start_after: str, *, descend: bool) -> Iterator[ListedObject]:
        """Depth-first in key order, with an explicit stack (one generator frame, however deep the tree)."""
        stack = [(iter(self._entries(path, relative)), relative)]
        while stack:
            entries, prefix = stack[-1]
            for name, entry, is_dir in entries:
                key = prefix + name
                if is_dir:
                    # The subtree holds exactly the keys starting with key; skip it if the checkpoint is past it.
                    if descend and not (start_after and start_after > key and not start_after.startswith(key)):
                        stack.append((iter(self._entries(entry.path, key)), key))
                        break  # this directory's remaining entries continue after the subtree
                    continue
                if start_after and key <= start_after:
                    continue
                try:
                    stat = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                yield ListedObject(_clean(key), stat.st_size, stat.st_mtime, _user_name(stat.st_uid))
            else:
                stack.pop()
