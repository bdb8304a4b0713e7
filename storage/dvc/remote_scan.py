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
import re
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import NamedTuple

from botocore.exceptions import BotoCoreError, ClientError
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import Q

from storage.dvc.decode import ObjectClass
from storage.dvc.layout import (
    DVC3_PREFIX,
    DirEntry,
    KeyKind,
    Layout,
    ManifestError,
    key_kind,
    object_key,
    parse_dir_manifest,
    parse_object_key,
)
from storage.listers import ListedObject, Lister, ShardSpec
from storage.listers.s3 import make_client, split_root
from storage.models import DvcDirManifest, DvcDirMember, DvcReference, StorageConnection, TrainingRepo
from storage.validation import resolve_local_root

logger = logging.getLogger(__name__)

BATCH = 1000
MANIFEST_READERS = 8
MANIFEST_CHUNK = 2000
UNREADABLE = "unreadable: "
SAMPLE_KEYS = 5
MAX_CACHED_DIRS = 200_000
_RANK = {ObjectClass.UNREFERENCED: 0, ObjectClass.HISTORICAL: 1, ObjectClass.LIVE: 2}
_HASH_NAME = {Layout.DVC3: "md5", Layout.DVC2: ""}
_LAYOUT_OF_HASH = {"md5": Layout.DVC3, "": Layout.DVC2}
_NON_OBJECT_CLASS = {KeyKind.RUN_CACHE: ObjectClass.RUN_CACHE, KeyKind.TEMPORARY: ObjectClass.TEMPORARY}
_RefKey = tuple[str, bool, Layout]
_HASHED_SHARD = re.compile(r"^(?:files/md5/)?([0-9a-f]{2})/$")


# --- shards ---------------------------------------------------------------------------------------------------


def _sub_root(root: str, prefix: str) -> str:
    return f"{root.rstrip('/')}/{prefix.rstrip('/')}"


def dvc_shard_specs(connection: StorageConnection, lister: Lister, root: str) -> list[ShardSpec]:
    """One shard per two-hex directory of either layout (``ab/`` and ``files/md5/ab/``), plus the rest.

    The directories above the hash directories (the root, ``files/``, ``files/md5/``) get top-level-only
    shards, so every object belongs to exactly one shard.
    """
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


# --- .dir manifests -------------------------------------------------------------------------------------------


class ObjectReader:
    """Reads one object of a remote by its key relative to a root: S3 GetObject or a local file."""

    def __init__(self, connection: StorageConnection) -> None:
        self.connection = connection
        self._client = make_client(connection) if connection.kind == StorageConnection.Kind.S3 else None

    def read(self, root: str, key: str) -> bytes | None:
        if self._client is None:
            path = resolve_local_root(root) / key
            return path.read_bytes() if path.is_file() else None
        bucket, prefix = split_root(root)
        try:
            return bytes(self._client.get_object(Bucket=bucket, Key=prefix + key)["Body"].read())
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in {"NoSuchKey", "404", "NotFound"}:
                return None
            raise


def _referenced_dirs(repo_ids: Sequence[int]) -> set[tuple[str, Layout]]:
    rows = DvcReference.objects.filter(repo_id__in=repo_ids, is_dir=True, reachable=True)
    return {(md5, _LAYOUT_OF_HASH.get(hash_name, Layout.DVC2))
            for md5, hash_name in rows.values_list("md5", "hash_name").distinct()}


def unread_manifests(connection: StorageConnection) -> int:
    """``.dir`` objects in this remote that could not be read as manifests (their files look unreferenced)."""
    return DvcDirManifest.objects.filter(connection=connection).exclude(error="").count()


def manifests_refresh(connection: StorageConnection) -> int:
    """Read the ``.dir`` objects the linked repositories reference that were never read from this remote.

    Returns how many were read. A manifest missing from the remote is tried again by the next scan.
    """
    repo_ids = list(connection.dvc_repos.values_list("pk", flat=True))
    DvcDirManifest.objects.filter(connection=connection, error__startswith=UNREADABLE).delete()  # try again
    known = set(DvcDirManifest.objects.filter(connection=connection).values_list("md5", "layout"))
    wanted = sorted((md5, layout) for md5, layout in _referenced_dirs(repo_ids) if (md5, layout.value) not in known)
    if not wanted:
        return 0
    reader = ObjectReader(connection)

    def fetch(item: tuple[str, Layout]) -> tuple[str, Layout, str, bytes | None, str]:
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

    read = 0
    with ThreadPoolExecutor(max_workers=MANIFEST_READERS) as pool:
        for start in range(0, len(wanted), MANIFEST_CHUNK):
            read += _save_manifests(connection, pool.map(fetch, wanted[start : start + MANIFEST_CHUNK]))
    if read and db_connection.vendor == "postgresql":
        # Fresh statistics before every shard joins members to manifests: with the counts of an empty table the
        # planner walks every manifest per shard (100x slower at a few thousand directories).
        with db_connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {DvcDirManifest._meta.db_table}, {DvcDirMember._meta.db_table}")
    return read


def _save_manifests(connection: StorageConnection,
                    results: Iterable[tuple[str, Layout, str, bytes | None, str]]) -> int:
    manifests: list[DvcDirManifest] = []
    entries_of: dict[tuple[str, str], list[DirEntry]] = {}
    for md5, layout, root, data, error in results:
        if data is None and not error:
            continue  # not pushed (yet): tried again by the next scan
        entries: list[DirEntry] = []
        if data is not None:
            try:
                entries = parse_dir_manifest(data)
            except ManifestError as problem:
                error = f"not a .dir manifest: {problem}"[:500]
        manifests.append(DvcDirManifest(connection=connection, md5=md5, layout=layout.value, root=root, error=error))
        entries_of[(md5, layout.value)] = entries
    if not manifests:
        return 0
    with transaction.atomic():
        # A concurrent scan may have read some already: theirs stay, and only rows created here get members.
        DvcDirManifest.objects.bulk_create(manifests, ignore_conflicts=True)
        created = DvcDirManifest.objects.filter(connection=connection, md5__in=[m.md5 for m in manifests],
                                                members__isnull=True, error="")
        members = [
            DvcDirMember(manifest_id=pk, md5=entry.md5, relpath=entry.relpath[:1024])
            for pk, md5, layout in created.values_list("pk", "md5", "layout")
            for entry in entries_of.get((md5, layout), [])
        ]
        DvcDirMember.objects.bulk_create(members, batch_size=5000)
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

    def _references(self, md5s: Iterable[str] | None = None, *, head: str = "",
                    dirs_only: bool = False) -> dict[_RefKey, _Best]:
        """Best reference per object, for the given md5s or for every md5 starting with ``head``."""
        found: dict[_RefKey, _Best] = {}
        if not self.repo_ids:
            return found
        rows = DvcReference.objects.filter(_md5_filter(md5s, head), repo_id__in=self.repo_ids, reachable=True)
        if dirs_only:
            rows = rows.filter(is_dir=True)
        columns = ("md5", "is_dir", "hash_name", "is_live", "repo_id", "path", "commit", "author_name",
                   "author_email", "authored_at")
        for md5, is_dir, hash_name, is_live, repo_id, path, commit, name, email, authored_at in rows.values_list(
            *columns
        ):
            key = (md5, is_dir, _LAYOUT_OF_HASH.get(hash_name, Layout.DVC2))
            author = f"{name} <{email}>" if email else name
            self._offer(found.setdefault(key, _Best()), Evidence(
                repo_id, path, commit, author, authored_at, ObjectClass.LIVE if is_live else ObjectClass.HISTORICAL))
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

    def _lookup(self, md5s: set[str] | None, head: str = "") -> dict[_RefKey, _Best]:
        """Direct references, plus membership in a referenced directory (the member inherits its class)."""
        best = self._references(md5s, head=head)
        if not self.repo_ids:
            return best
        members = DvcDirMember.objects.filter(_md5_filter(md5s, head), manifest__connection_id=self.connection_id,
                                              manifest__error="")
        rows = list(members.values_list("md5", "manifest__md5", "manifest__layout"))
        directories = self._directories({(dir_md5, True, Layout(layout)) for _, dir_md5, layout in rows})
        for md5, dir_md5, layout in rows:
            directory = directories[(dir_md5, True, Layout(layout))]
            if directory.evidence is None:
                continue
            target = best.setdefault((md5, False, Layout(layout)), _Best())
            if _RANK[directory.object_class] > _RANK[target.object_class]:
                target.object_class = directory.object_class
            if self._preferred(target.evidence, directory.evidence):
                target.evidence = directory.evidence
        return best

    def preload(self, head: str) -> "Preloaded":
        """Everything about md5s starting with ``head`` (a shard's two hex digits) in a few range queries: about
        1/256 of the history, so a shard costs the same few queries however many objects it holds."""
        return Preloaded(head, self._lookup(None, head))

    def classify(self, items: Sequence[ListedObject], preloaded: "Preloaded | None" = None) -> list[Verdict]:
        parsed = [parse_object_key(item[0]) for item in items]
        md5s = {obj.md5 for obj in parsed if obj is not None}
        if preloaded is not None and all(md5.startswith(preloaded.head) for md5 in md5s):
            best = preloaded.best
        else:
            best = self._lookup(md5s) if md5s else {}
        verdicts: list[Verdict] = []
        for item, obj in zip(items, parsed, strict=True):
            if obj is None:
                verdicts.append(Verdict(_NON_OBJECT_CLASS.get(key_kind(item[0]), ObjectClass.OTHER), None))
                continue
            found = best.get((obj.md5, obj.is_dir, obj.layout or Layout.DVC3))
            verdicts.append(Verdict(found.object_class, found.evidence) if found else _UNREFERENCED)
        return verdicts


def _md5_filter(md5s: Iterable[str] | None, head: str) -> Q:
    if md5s is not None:
        return Q(md5__in=list(md5s))
    upper = format(int(head, 16) + 1, "02x") if head != "ff" else ""
    # A range, not LIKE: the plain btree index on md5 serves it whatever the collation.
    return Q(md5__gte=head, md5__lt=upper) if upper else Q(md5__gte=head)


def shard_head(prefix: str) -> str:
    """The two hex digits every object of a shard starts with (``ab/`` or ``files/md5/ab/``), else ''."""
    match = _HASHED_SHARD.match(prefix)
    return match.group(1) if match else ""


_UNREFERENCED = Verdict(ObjectClass.UNREFERENCED, None)


@dataclass(frozen=True)
class Preloaded:
    head: str
    best: dict[_RefKey, _Best]
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

    def add(self, item: ListedObject, evidence: Evidence | None, root_uri: str) -> None:
        self.objects += 1
        self.bytes += item[1]
        modified = item[2]
        if modified is not None:
            if self.oldest is None or modified < self.oldest:
                self.oldest = modified
            if self.newest is None or modified > self.newest:
                self.newest = modified
        if evidence is not None and (self.last is None or evidence.authored_at > self.last.authored_at):
            self.last = evidence
        if len(self.samples) < SAMPLE_KEYS:
            self.samples.append(root_uri + item[0])


def totals_key(verdict: Verdict, owner: str) -> tuple[str, int | None, str, str]:
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


def as_datetime(timestamp: float | None) -> datetime | None:
    return datetime.fromtimestamp(timestamp, tz=UTC) if timestamp is not None else None
