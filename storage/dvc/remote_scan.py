"""Scanning a DVC remote: shards by two-hex prefix, ``.dir`` expansion, and every object's classification.

A remote object is explained by the indexed history of the repositories linked to the connection:
- an object key (``files/md5/ab/…`` or ``ab/…``) is live, historical or unreferenced by its best reference;
- a file inside a directory output is referenced through its ``.dir`` object, whose manifest is read from the
  remote once (objects are content-addressed, so a manifest never changes) and kept as DvcDirMember rows;
- ``runs/`` is run-cache, ``.tmp`` leftovers are temporary, anything else is "other".

Classification goes in batches of listed objects with a few indexed queries per batch, so memory stays bounded
whatever the remote's size; the totals are written with the shard's checkpoint (see scanning.CheckpointWriter).
"""

import logging
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import NamedTuple

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, PartialCredentialsError
from django.conf import settings
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import Case, CharField, Q, Value, When
from django.utils import timezone

from kura.db import insert_values, insert_values_returning
from storage.dvc.decode import ObjectClass
from storage.dvc.layout import (
    DVC3_PREFIX,
    LAYOUT_OF_HASH_NAME,
    DirEntry,
    KeyKind,
    Layout,
    ManifestError,
    ObjectId,
    key_kind,
    object_key,
    parse_dir_manifest,
    parse_object_key,
)
from storage.figures import SAMPLE_KEYS
from storage.listers import ListedObject, Lister, ListingError, ObjectBatch, ShardSpec
from storage.listers.local import root_directory
from storage.listers.s3 import CREDENTIAL_CODES, credentials_missing, describe_client_error, make_client, split_root
from storage.models import DvcDirManifest, DvcDirMember, DvcReference, StorageConnection, TrainingRepo

logger = logging.getLogger(__name__)

BATCH = 1000
PRELOAD_ROWS = 100_000  # references and directory members one preload may hold
MANIFEST_READERS = 8
MANIFEST_CHUNK = 2000
LOCAL_READS_PER_TASK = 64
LOCAL_RUN_SECONDS = 0.02  # a first run of local reads that took longer: a slow mount
ALIVE_EVERY_SECONDS = 30.0  # while a chunk of manifests is being read, how often the reader says it is alive
UNREADABLE = "unreadable: "
SAMPLE_DIRECTORIES = 3  # hash directories per layout counted to size a remote never scanned
MAX_CACHED_DIRS = 200_000
# A few changed directories are cheaper to look up; past this many objects, reading the history once is.
LOOKUPS_BEFORE_PRELOAD = 2 * BATCH
_RANK = {ObjectClass.UNREFERENCED: 0, ObjectClass.HISTORICAL: 1, ObjectClass.LIVE: 2}
_LAYOUTS = {layout.value: layout for layout in Layout}
_NON_OBJECT_CLASS = {KeyKind.RUN_CACHE: ObjectClass.RUN_CACHE, KeyKind.TEMPORARY: ObjectClass.TEMPORARY}
_RefKey = tuple[str, bool, Layout]
_HASHED_SHARD = re.compile(r"^(?:files/md5/)?([0-9a-f]{2})/$")
# layout.parse_object_key in two parts, a directory's and its object names' (the same pattern, split at the '/')
_OBJECT_DIRECTORY = re.compile(r"(files/md5/)?([0-9a-f]{2})/\Z")
_OBJECT_NAME = re.compile(r"([0-9a-f]{30})(\.dir)?$")


# --- shards ---------------------------------------------------------------------------------------------------


def _sub_root(root: str, prefix: str) -> str:
    return f"{root.rstrip('/')}/{prefix.rstrip('/')}"


def dvc_shard_specs(connection: StorageConnection, lister: Lister, root: str,
                    expected_objects: int | None = None) -> list[ShardSpec]:
    """One shard per two-hex directory of either layout (``ab/`` and ``files/md5/ab/``), plus the rest.

    The directories above the hash directories (the root, ``files/``, ``files/md5/``) get top-level-only
    shards, so every object belongs to exactly one shard. A remote of at most KURA_SCAN_DVC_SPLIT_ABOVE objects
    is one shard: hundreds of shards of a few hundred objects each cost more listing requests and checkpoints
    than the objects themselves. The count is the last complete scan's (``expected_objects``) or, for a remote
    never counted, an estimate from a few hash directories; the next scan splits it again if it grew.
    """
    if connection.inventory_manifest:
        # An inventory report is read data file by data file, whatever the remote's layout: those are its shards.
        return lister.shards(root)
    if expected_objects is not None and expected_objects <= settings.KURA_SCAN_DVC_SPLIT_ABOVE:
        return [ShardSpec("")]
    specs = _split_specs(lister, root)
    if expected_objects is None and not _estimated_large(lister, root, specs):
        return [ShardSpec("")]
    return specs


def _split_specs(lister: Lister, root: str) -> list[ShardSpec]:
    specs: list[ShardSpec] = []
    for spec in lister.shards(root):
        if spec.prefix != "files/":
            specs.append(spec)
            continue
        specs.append(ShardSpec("files/", top_level_only=True))
        for sub in lister.shards(_sub_root(root, "files/")):
            if sub.top_level_only:
                continue
            if sub.prefix != "md5/":
                specs.append(ShardSpec("files/" + sub.prefix))
                continue
            specs.append(ShardSpec(DVC3_PREFIX, top_level_only=True))
            specs.extend(ShardSpec(DVC3_PREFIX + hashed.prefix)
                         for hashed in lister.shards(_sub_root(root, DVC3_PREFIX))
                         if not hashed.top_level_only)
    return specs


def _estimated_large(lister: Lister, root: str, specs: list[ShardSpec]) -> bool:
    """Whether a remote never counted holds more than KURA_SCAN_DVC_SPLIT_ABOVE objects, judged from a few of
    its hash directories per layout: md5s spread evenly over the 256 heads, so a sample's mean times the number
    of directories is a fair estimate, for a few listing requests where a needless split costs one per shard.

    Objects outside the hash directories (``runs/``, leftovers) are not counted: they are few next to the data.
    A sample that cannot be listed counts as large, since splitting is never wrong, only slower when small.
    """
    limit = settings.KURA_SCAN_DVC_SPLIT_ABOVE
    layouts: dict[bool, list[ShardSpec]] = {}
    for spec in specs:
        if shard_head(spec.prefix):
            layouts.setdefault(spec.prefix.startswith(DVC3_PREFIX), []).append(spec)
    estimate = 0.0
    for directories in layouts.values():
        step = max(1, len(directories) // SAMPLE_DIRECTORIES)
        sample = directories[::step][:SAMPLE_DIRECTORIES]
        # Enough objects in one sampled directory to say "large" on its own: counting stops there, so a huge
        # remote costs a page per sample, not a listing of whole directories.
        cap = (limit // len(directories) + 1) * len(sample)
        counted = 0
        for spec in sample:
            try:
                found = _count_up_to(lister, root, spec, cap)
            except ListingError as error:
                logger.warning("Could not sample %s to size a first scan of %s, splitting it: %s", spec.prefix,
                               root, error.message)
                return True
            if found >= cap:
                return True
            counted += found
        estimate += counted / len(sample) * len(directories)
        if estimate > limit:
            return True
    return False


def _count_up_to(lister: Lister, root: str, spec: ShardSpec, cap: int) -> int:
    counted = 0
    for batch in lister.iter_batches(root, spec, "", min(cap, BATCH)):
        counted += len(batch.names)
        if counted >= cap:
            break
    return counted


# --- .dir manifests -------------------------------------------------------------------------------------------

_Fetched = tuple[str, Layout, str, bytes | None, str]  # md5, layout, root read from, content, error
_Parsed = tuple[str, str, str, str, list[DirEntry]]  # md5, layout, root read from, error, entries


class ObjectReader:
    """Reads one object of a remote by its key relative to a root: S3 GetObject or a local file."""

    def __init__(self, connection: StorageConnection) -> None:
        self.connection = connection
        self._client = make_client(connection) if connection.kind == StorageConnection.Kind.S3 else None
        self._local_roots: dict[str, str] = {}  # checked once per reader, not once per object read

    def read(self, root: str, key: str) -> bytes | None:
        if self._client is None:
            directory = self._local_roots.get(root)
            if directory is None:
                directory = self._local_roots[root] = str(root_directory(root))
            try:  # most reads of a scan after the first are of objects not pushed (yet): no stat before the open
                with open(os.path.join(directory, key), "rb") as file:
                    return file.read()
            except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
                return None
        bucket, prefix = split_root(root)
        try:
            return bytes(self._client.get_object(Bucket=bucket, Key=prefix + key)["Body"].read())
        except (NoCredentialsError, PartialCredentialsError) as error:
            # No read can succeed: the scan fails at once instead of marking every manifest unreadable.
            raise credentials_missing(self.connection, error) from error
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            if code in {"NoSuchKey", "404", "NotFound"}:
                return None
            if code in CREDENTIAL_CODES:
                raise describe_client_error(error, f"s3://{bucket}/{prefix}") from error
            raise


def _unread_dirs(connection: StorageConnection, repo_ids: Sequence[int]) -> list[tuple[str, Layout]]:
    """The directories the repositories reference whose manifest this remote has no row for, in md5 order.

    One query: a scan after the first usually finds none, and comparing sets in Python meant reading every
    reference and every manifest row. EXCEPT compares the two sets by hashing whatever the planner thinks of their
    sizes (an anti-join probed the manifests once per reference when the statistics were young)."""
    layout = Case(When(hash_name="md5", then=Value(Layout.DVC3.value)), default=Value(Layout.DVC2.value),
                  output_field=CharField())  # LAYOUT_OF_HASH_NAME
    referenced = (DvcReference.objects.filter(repo_id__in=repo_ids, is_dir=True, reachable=True)
                  .annotate(dir_layout=layout).values_list("md5", "dir_layout").order_by())
    read = DvcDirManifest.objects.filter(connection=connection).values_list("md5", "layout").order_by()
    return sorted((md5, _LAYOUTS[layout]) for md5, layout in referenced.difference(read))


def unread_manifests(connection: StorageConnection) -> int:
    """``.dir`` objects in this remote that could not be read as manifests (their files look unreferenced)."""
    return DvcDirManifest.objects.filter(connection=connection).exclude(error="").count()


def manifests_refresh(connection: StorageConnection, progress: Callable[[int, int], None] | None = None,
                      alive: Callable[[], None] | None = None) -> int:
    """Read the ``.dir`` objects the linked repositories reference that were never read from this remote.

    Returns how many were read. A manifest missing from the remote is tried again by the next scan. ``progress``
    hears (asked so far, to ask in all) before the first read and after each chunk is saved; ``alive`` is called
    at least every ALIVE_EVERY_SECONDS between chunks (a chunk of slow reads takes minutes), from this thread.
    """
    repo_ids = list(connection.dvc_repos.values_list("pk", flat=True))
    DvcDirManifest.objects.filter(connection=connection, error__startswith=UNREADABLE).delete()  # try again
    wanted = _unread_dirs(connection, repo_ids)
    if progress is not None:
        progress(0, len(wanted))
    if not wanted:
        return 0
    reader = ObjectReader(connection)

    def fetch(item: tuple[str, Layout]) -> _Fetched:
        md5, layout = item
        key = object_key(md5, is_dir=True, layout=layout)
        for root in connection.roots:
            try:
                data = reader.read(root, key)
            except (ClientError, BotoCoreError, OSError) as error:
                # Possibly transient: recorded, so remote_warnings says so, and read again by the next scan.
                logger.warning("Could not read %s from %s: %s", key, root, error)
                return md5, layout, root, None, f"{UNREADABLE}{error}"[:500]
            if data is not None:
                return md5, layout, root, data, ""
        return md5, layout, "", None, ""

    read = asked = 0
    results = _read_all(wanted, fetch, local=connection.kind == StorageConnection.Kind.LOCAL)
    for fetched, chunk in _chunks_ahead(results, alive):
        read += _save_manifests(connection, chunk)
        asked += fetched
        if progress is not None:
            progress(asked, len(wanted))
    if read and db_connection.vendor == "postgresql":
        # Fresh statistics before every shard joins members to manifests: with the counts of an empty table the
        # planner walks every manifest per shard (100x slower at a few thousand directories).
        with db_connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {DvcDirManifest._meta.db_table}, {DvcDirMember._meta.db_table}")
    return read


def _read_all(wanted: list[tuple[str, Layout]], fetch: Callable[[tuple[str, Layout]], _Fetched], *,
              local: bool) -> Iterator[_Fetched]:
    """Every wanted manifest read, in order, a chunk at a time. An S3 read is a request: MANIFEST_READERS at once.
    A local read is a file open, and most of a re-scan's are of .dir objects never pushed: when a first run of
    them comes back within LOCAL_RUN_SECONDS the disk is local, where handing each read to a thread costs more
    than the read, so the rest are read here too; a slow (NFS) mount gets the threads, a run per task."""
    start = 0
    if local:
        started = time.monotonic()
        yield from map(fetch, wanted[:LOCAL_READS_PER_TASK])
        start = LOCAL_READS_PER_TASK
        if time.monotonic() - started < LOCAL_RUN_SECONDS:
            yield from map(fetch, wanted[start:])
            return
    per_task = LOCAL_READS_PER_TASK if local else 1

    def fetch_run(items: Sequence[tuple[str, Layout]]) -> list[_Fetched]:
        return [fetch(item) for item in items]

    with ThreadPoolExecutor(max_workers=MANIFEST_READERS) as pool:
        for begin in range(start, len(wanted), MANIFEST_CHUNK):
            chunk = wanted[begin : begin + MANIFEST_CHUNK]
            for run in pool.map(fetch_run, [chunk[at : at + per_task] for at in range(0, len(chunk), per_task)]):
                yield from run


def _chunks_ahead(results: Iterator[_Fetched], alive: Callable[[], None] | None = None,
                  ) -> Iterator[tuple[int, list[_Parsed]]]:
    """The manifests asked for, MANIFEST_CHUNK at a time: how many, and those read, parsed. A thread reads and
    parses the next chunk while the caller saves this one (the database's time and the reads' overlap); ``alive``
    is called every ALIVE_EVERY_SECONDS while the caller waits for it."""

    def next_chunk() -> tuple[int, list[_Parsed]] | None:  # None once all are read (a chunk may hold none pushed)
        fetched = list(islice(results, MANIFEST_CHUNK))
        return (len(fetched), [parsed for parsed in map(_parsed, fetched) if parsed is not None]) if fetched else None

    with ThreadPoolExecutor(max_workers=1) as ahead:
        pending = ahead.submit(next_chunk)
        while True:
            try:
                chunk = pending.result(timeout=ALIVE_EVERY_SECONDS if alive is not None else None)
            except FutureTimeout:
                assert alive is not None
                alive()
                continue
            if chunk is None:
                return
            pending = ahead.submit(next_chunk)
            yield chunk


def _parsed(fetched: _Fetched) -> "_Parsed | None":
    md5, layout, root, data, error = fetched
    if data is None and not error:
        return None  # not pushed (yet): tried again by the next scan
    entries: list[DirEntry] = []
    if data is not None:
        try:
            entries = parse_dir_manifest(data)
        except ManifestError as problem:
            error = f"not a .dir manifest: {problem}"[:500]
    return md5, layout.value, root, error, entries


def _save_manifests(connection: StorageConnection, manifests: Sequence[_Parsed]) -> int:
    if not manifests:
        return 0
    entries_of = {(md5, layout): entries for md5, layout, _, _, entries in manifests}
    with transaction.atomic():
        # A concurrent scan may have read some already: theirs stay, and only rows created here get members.
        # Thousands of rows on a first scan: plain values, as a model instance per row cost more than the reads.
        created = insert_values_returning(DvcDirManifest, ["md5", "layout", "root", "error"],
                                          [manifest[:4] for manifest in manifests], ["id", "md5", "layout"],
                                          same={"connection_id": connection.pk, "read_at": timezone.now()})
        insert_values(DvcDirMember, ["manifest_id", "md5", "relpath"],
                      [(pk, entry.md5, entry.relpath[:1024])
                       for pk, md5, layout in created for entry in entries_of[(md5, layout)]])
    return len(manifests)


# --- classification -------------------------------------------------------------------------------------------


class Evidence(NamedTuple):
    """The reference that best explains an object: who committed it, where, when."""

    repo_id: int
    path: str
    commit: str
    author: str
    authored_at: datetime
    object_class: ObjectClass
    reference_id: int = 0  # the DvcReference row it comes from


class Verdict(NamedTuple):
    object_class: ObjectClass
    evidence: Evidence | None


@dataclass
class _Best:
    object_class: ObjectClass = ObjectClass.UNREFERENCED
    evidence: Evidence | None = None


class RemoteClassifier:
    """Classifies listed objects of one remote against the history of its linked repositories."""

    def __init__(self, connection: StorageConnection) -> None:
        self.connection_id = connection.pk
        repos = list(connection.dvc_repos.values_list("pk", "status"))
        self.repo_ids = [pk for pk, _ in repos]
        self.failed_repo_ids = {pk for pk, status in repos if status == TrainingRepo.Status.FAILED}
        self._dirs: dict[_RefKey, _Best] = {}  # a directory's best reference, shared by all its members
        self._heads_per_chunk: int | None = None
        self._chunk: Preloaded | None = None  # the last chunk preloaded, reused by the next shards of the run
        self._history_read = False
        self._looked_up = 0  # objects classified by lookups, without a preload

    def _preferred(self, current: Evidence | None, candidate: Evidence) -> bool:
        """Owner evidence: a repository that indexed fine, then the better class, then the latest commit."""
        if current is None:
            return True
        failed = self.failed_repo_ids
        return (candidate.repo_id not in failed, _RANK[candidate.object_class], candidate.authored_at) > (
            current.repo_id not in failed, _RANK[current.object_class], current.authored_at)

    def _offer(self, best: _Best, candidate: Evidence) -> None:
        if _RANK[candidate.object_class] > _RANK[best.object_class]:
            best.object_class = candidate.object_class
        if self._preferred(best.evidence, candidate):
            best.evidence = candidate

    def _references(self, md5s: Iterable[str] | None = None, *, low: str = "", high: str = "",
                    dirs_only: bool = False) -> dict[_RefKey, _Best]:
        """Best reference per object, for the given md5s or for every md5 from ``low`` up to ``high``."""
        found: dict[_RefKey, _Best] = {}
        if not self.repo_ids:
            return found
        self._history_read = True
        rows = DvcReference.objects.filter(_md5_filter(md5s, low, high), repo_id__in=self.repo_ids, reachable=True)
        if dirs_only:
            rows = rows.filter(is_dir=True)
        columns = ("md5", "is_dir", "hash_name", "is_live", "repo_id", "path", "commit", "author_name",
                   "author_email", "authored_at", "id")
        for md5, is_dir, hash_name, is_live, repo_id, path, commit, name, email, authored_at, pk in rows.values_list(
            *columns
        ):
            key = (md5, is_dir, LAYOUT_OF_HASH_NAME.get(hash_name, Layout.DVC2))
            self._offer(found.setdefault(key, _Best()), Evidence(
                repo_id, path, commit, author_text(name, email), authored_at,
                ObjectClass.LIVE if is_live else ObjectClass.HISTORICAL, pk))
        return found

    def _directories(self, keys: set[_RefKey]) -> dict[_RefKey, _Best]:
        missing = {key for key in keys if key not in self._dirs}
        if len(self._dirs) + len(missing) > MAX_CACHED_DIRS:
            self._dirs.clear()  # bounded memory: a cold cache only costs a query
        if missing:
            found = self._references({md5 for md5, _, _ in missing}, dirs_only=True)
            for key in missing:
                self._dirs[key] = found.get(key, _Best())
        return {key: self._dirs[key] for key in keys}

    def _lookup(self, md5s: set[str] | None, low: str = "", high: str = "") -> dict[_RefKey, _Best]:
        """Direct references, plus membership in a referenced directory (the member inherits its class)."""
        best = self._references(md5s, low=low, high=high)
        if not self.repo_ids:
            return best
        members = DvcDirMember.objects.filter(_md5_filter(md5s, low, high), manifest__connection_id=self.connection_id,
                                              manifest__error="")
        rows = [(md5, (dir_md5, True, _LAYOUTS[layout])) for md5, dir_md5, layout in
                members.values_list("md5", "manifest__md5", "manifest__layout")]
        wanted = {directory for _, directory in rows}
        directories: dict[_RefKey, _Best] = {}
        if md5s is None:
            # A range read holds the references of the directories in that range already: the same rows a
            # directory lookup would read (only is_dir rows count for a directory's key).
            directories = {key: best.get(key) or _Best() for key in wanted
                           if low <= key[0] and (not high or key[0] < high)}
        directories.update(self._directories(wanted - directories.keys()))
        for md5, directory_key in rows:
            directory = directories[directory_key]
            if directory.evidence is None:
                continue
            key = (md5, False, directory_key[2])
            target = best.get(key)
            if target is None:  # most members: a file in one directory and referenced by nothing else
                best[key] = _Best(directory.object_class, directory.evidence)
                continue
            if _RANK[directory.object_class] > _RANK[target.object_class]:
                target.object_class = directory.object_class
            if self._preferred(target.evidence, directory.evidence):
                target.evidence = directory.evidence
        return best

    def heads_per_chunk(self) -> int:
        """How many two-hex heads one preload covers: all 256 for a small history, fewer for a large one, so a
        preload holds about PRELOAD_ROWS references and directory members whatever the history's size."""
        if self._heads_per_chunk is None:
            rows = 0
            if self.repo_ids:
                rows = DvcReference.objects.filter(repo_id__in=self.repo_ids, reachable=True).count()
                rows += DvcDirMember.objects.filter(manifest__connection_id=self.connection_id).count()
            heads = 256
            while heads > 1 and heads * rows > 256 * PRELOAD_ROWS:
                heads //= 2
            self._heads_per_chunk = heads
        return self._heads_per_chunk

    def preload(self, head: str) -> "Preloaded":
        """Everything about md5s starting with ``head`` (a shard's two hex digits) and the heads next to it, in a
        few range queries. Consecutive shards share the chunk, so a run costs a few queries per chunk rather than
        per shard, and memory stays bounded (see heads_per_chunk)."""
        chunk = self._chunk
        if chunk is not None and chunk.low <= head and (not chunk.high or head < chunk.high):
            return chunk
        width = self.heads_per_chunk()
        first = int(head, 16) // width * width
        low, high = format(first, "02x"), format(first + width, "02x") if first + width < 256 else ""
        self._chunk = Preloaded(low, high, self._lookup(None, low, high))
        return self._chunk

    def preload_everything(self) -> "Preloaded | None":
        """The whole history in one preload when it is small enough (see heads_per_chunk), else None."""
        return self.preload("00") if self.heads_per_chunk() == 256 else None

    def classify(self, items: Sequence[ListedObject], preloaded: "Preloaded | None" = None) -> list[Verdict]:
        parsed = [_reference_key(parse_object_key(item[0])) for item in items]
        best = self._best({key[0] for key in parsed if key is not None}, preloaded)
        return [_verdict(best, key) if key is not None else _other(item[0])
                for item, key in zip(items, parsed, strict=True)]

    def classify_batches(self, batches: Sequence[ObjectBatch], preloaded: "Preloaded | None" = None,
                         ) -> list[list[Verdict]]:
        """classify() for batches of a listing, a list of verdicts per batch: a batch's directory says the layout
        and the first two hex digits once for all its objects."""
        parsed = [_parse_names(batch.directory, batch.names) for batch in batches]
        best = self._best({key[0] for keys in parsed for key in keys if key is not None}, preloaded)
        return _batch_verdicts(batches, parsed, best)

    def classify_shard_batches(self, batches: Sequence[ObjectBatch], head: str, *, lazily: bool,
                               ) -> list[list[Verdict]]:
        """classify_batches() for a shard whose objects start with ``head`` ('' = any): the history is preloaded
        only once a batch holds hashed objects. ``lazily`` (a scan that reuses most of the remote's earlier
        verdicts) looks the first LOOKUPS_BEFORE_PRELOAD objects up instead: a few changed directories cost a few
        indexed queries, not a read of the whole history."""
        parsed = [_parse_names(batch.directory, batch.names) for batch in batches]
        md5s = {key[0] for keys in parsed for key in keys if key is not None}
        preloaded = None
        if md5s and (not lazily or self._looked_up >= LOOKUPS_BEFORE_PRELOAD):
            preloaded = self.preload(head) if head else self.preload_everything()
        elif md5s:
            self._looked_up += sum(len(keys) for keys in parsed)
        return _batch_verdicts(batches, parsed, self._best(md5s, preloaded) if md5s else {})

    @property
    def history_read(self) -> bool:
        """Whether any verdict so far came from the history (see folder_reuse.history_for_run)."""
        return self._history_read

    def _best(self, md5s: set[str], preloaded: "Preloaded | None") -> dict[_RefKey, _Best]:
        if preloaded is not None and all(preloaded.covers(md5) for md5 in md5s):
            return preloaded.best
        return self._lookup(md5s) if md5s else {}


def author_text(name: str, email: str) -> str:
    return f"{name} <{email}>" if email else name


def _batch_verdicts(batches: Sequence[ObjectBatch], parsed: list[list[_RefKey | None]],
                    best: dict[_RefKey, _Best]) -> list[list[Verdict]]:
    return [[_verdict(best, key) if key is not None else _other(batch.directory + name)
             for name, key in zip(batch.names, keys, strict=True)]
            for batch, keys in zip(batches, parsed, strict=True)]


def _reference_key(obj: ObjectId | None) -> _RefKey | None:
    return (obj.md5, obj.is_dir, obj.layout or Layout.DVC3) if obj is not None else None


def _parse_names(directory: str, names: list[str]) -> list[_RefKey | None]:
    """What parse_object_key says of each ``directory + name``, as reference keys (names hold no '/')."""
    match = _OBJECT_DIRECTORY.match(directory)
    if match is None:
        return [None] * len(names)
    layout = Layout.DVC3 if match.group(1) else Layout.DVC2
    head = match.group(2)
    keys: list[_RefKey | None] = []
    for name in names:
        named = _OBJECT_NAME.fullmatch(name)
        keys.append((head + named.group(1), named.group(2) is not None, layout) if named is not None else None)
    return keys


def _verdict(best: dict[_RefKey, _Best], key: _RefKey) -> Verdict:
    found = best.get(key)
    return Verdict(found.object_class, found.evidence) if found else _UNREFERENCED


def _other(key: str) -> Verdict:
    return Verdict(_NON_OBJECT_CLASS.get(key_kind(key), ObjectClass.OTHER), None)


def _md5_filter(md5s: Iterable[str] | None, low: str, high: str) -> Q:
    if md5s is not None:
        return Q(md5__in=list(md5s))
    # A range, not LIKE: the plain btree index on md5 serves it whatever the collation.
    return Q(md5__gte=low, md5__lt=high) if high else Q(md5__gte=low)


def shard_head(prefix: str) -> str:
    """The two hex digits every object of a shard starts with (``ab/`` or ``files/md5/ab/``), else ''."""
    match = _HASHED_SHARD.fullmatch(prefix)
    return match.group(1) if match else ""


_UNREFERENCED = Verdict(ObjectClass.UNREFERENCED, None)


@dataclass(frozen=True)
class Preloaded:
    """What the history says about every md5 from ``low`` up to ``high`` ('' = to the end)."""

    low: str
    high: str
    best: dict[_RefKey, _Best]

    def covers(self, md5: str) -> bool:
        return self.low <= md5 and (not self.high or md5 < self.high)
_run_classifier: tuple[int, RemoteClassifier] | None = None


def classifier_for_run(run_id: int, connection: StorageConnection) -> RemoteClassifier:
    """One classifier per scan run in a worker process: its shards share the directories already looked up."""
    global _run_classifier
    if _run_classifier is None or _run_classifier[0] != run_id:
        _run_classifier = (run_id, RemoteClassifier(connection))
    return _run_classifier[1]


def classify_listing(classifier: RemoteClassifier, listing: Iterable[ListedObject],
                     preloaded: Preloaded | None = None) -> Iterator[tuple[ListedObject, Verdict]]:
    """Every listed object with its verdict, in batches (bounded memory)."""
    batch: list[ListedObject] = []
    for item in listing:
        if not item[0]:
            continue
        batch.append(item)
        if len(batch) >= BATCH:
            yield from zip(batch, classifier.classify(batch, preloaded), strict=True)
            batch = []
    if batch:
        yield from zip(batch, classifier.classify(batch, preloaded), strict=True)


# --- totals ---------------------------------------------------------------------------------------------------


@dataclass
class DvcTotals:
    """In-memory counts for one DvcScanAggregate between two checkpoints."""

    object_class: str
    repo_id: int | None
    path: str
    owner: str
    objects: int = 0
    bytes: int = 0
    oldest: float | None = None
    newest: float | None = None
    last: Evidence | None = None
    samples: list[str] = field(default_factory=list)

    def add(self, directory: str, name: str, size: int, modified: float | None, evidence: Evidence | None,
            root_uri: str) -> None:
        self.objects += 1
        self.bytes += size
        if modified is not None:
            if self.oldest is None or modified < self.oldest:
                self.oldest = modified
            if self.newest is None or modified > self.newest:
                self.newest = modified
        if evidence is not None and (self.last is None or evidence.authored_at > self.last.authored_at):
            self.last = evidence
        if len(self.samples) < SAMPLE_KEYS:
            self.samples.append(root_uri + directory + name)

    def merge(self, other: "DvcTotals") -> None:
        """Count in ``other``, totals of the same key for objects listed after these."""
        self.objects += other.objects
        self.bytes += other.bytes
        if other.oldest is not None and (self.oldest is None or other.oldest < self.oldest):
            self.oldest = other.oldest
        if other.newest is not None and (self.newest is None or other.newest > self.newest):
            self.newest = other.newest
        if other.last is not None and (self.last is None or other.last.authored_at > self.last.authored_at):
            self.last = other.last
        if len(self.samples) < SAMPLE_KEYS:
            self.samples.extend(other.samples[: SAMPLE_KEYS - len(self.samples)])


TotalsKey = tuple[str, int | None, str, str]  # class, repository, output path, storage owner


def totals_for(counted: dict[TotalsKey, DvcTotals], key: TotalsKey) -> DvcTotals:
    """The totals kept under ``key`` in ``counted``, empty ones added first if there are none yet."""
    totals = counted.get(key)
    if totals is None:
        totals = counted[key] = DvcTotals(*key)
    return totals


def totals_key(verdict: Verdict, owner: str) -> TotalsKey:
    """Objects count together by class and, for referenced data, by repository (and output path if historical);
    unreferenced data by the owner the store reports (the only evidence there is)."""
    evidence = verdict.evidence
    if evidence is not None:
        # Live data needs no finding, so it only counts by repository: fewer rows to write per checkpoint.
        path = evidence.path if verdict.object_class == ObjectClass.HISTORICAL else ""
        return verdict.object_class.value, evidence.repo_id, path, ""
    if verdict.object_class == ObjectClass.UNREFERENCED:
        return verdict.object_class.value, None, "", owner
    return verdict.object_class.value, None, "", ""


