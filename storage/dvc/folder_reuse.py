"""Re-scanning a local DVC remote without listing the hash directories that did not change.

DVC objects are content-addressed and never rewritten, and an upload lands in its hash directory by a rename, so a
directory whose entries did not change holds the same objects. After a scan lists a hash directory (``ab/`` or
``files/md5/ab/``) it keeps the directory's totals by classification (DvcRemoteFolder); a later scan counts those
totals instead of listing and classifying the directory again when all of these hold:

- the run that listed it succeeded, less than KURA_SCAN_DVC_REUSE_MAX_AGE_HOURS ago (so a full listing comes at
  least that often, whatever the timestamps say);
- the directory and every directory above it up to the root have the same device, inode, mtime and ctime (any
  entry added, removed or renamed changes a directory's mtime and ctime; ctime cannot be set back, so a copy that
  restores mtimes still shows, and a directory with subdirectories is never kept);
- the history that classifies its objects is the same: the references of the linked repositories whose md5s start
  with its two hex digits, and the referenced directories whose manifests list such md5s (HistoryState);
- the walk starts at the directory, not part-way through it (a shard resumed from a checkpoint).

A timestamp is only as fine as the filesystem's clock (a second on some, two on FAT, plus a file server's skew),
so a change made just after a listing could leave the signature as it was. A directory whose timestamps were
within KURA_SCAN_DVC_REUSE_MARGIN_SECONDS of the moment it was looked at is therefore kept as unsettled: before
reusing it, a scan reads its names again (one directory read, no stat per file) and lists it if they differ.

What this cannot see, like a listing of a mount whose directory times do not move, is an object rewritten in
place (DVC never does that): the maximum age bounds how long such a change goes unseen.
"""

import hashlib
import json
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection as db_connection
from django.utils import timezone

from kura.db import insert_values
from storage.dvc.decode import ObjectClass
from storage.dvc.remote_scan import DvcTotals, Evidence, RemoteClassifier, author_text, shard_head
from storage.figures import SAMPLE_KEYS
from storage.models import (
    DvcDirManifest,
    DvcDirMember,
    DvcReference,
    DvcRemoteFolder,
    ScanRun,
    ScanShard,
    StorageConnection,
)
from storage.validation import resolve_local_root

# Part of every history fingerprint: a change to what the kept totals mean (their keys, how verdicts are made)
# bumps it, and every directory is listed again once.
REUSE_FORMAT = 1

TotalsKey = tuple[str, int | None, str, str]


def _digest(*parts: str) -> str:
    return hashlib.blake2b("\x1f".join(parts).encode("utf-8", "surrogateescape"), digest_size=16).hexdigest()


# --- history ----------------------------------------------------------------------------------------------------
# Reference rows are written once by the indexer, which afterwards changes only their liveness (is_live,
# live_refs) and reachability; manifests and their members are written together, once. So a row's id and its
# flags say everything a verdict reads from it, and hashing ids (not whole rows) keeps these sums cheap.

_STATE_SQL = """
SELECT (SELECT count(*)::text || ':' || coalesce(sum(hashint8extended(id, is_live::int)), 0)::text
        FROM {references} WHERE repo_id = ANY(%(repos)s) AND reachable),
       (SELECT count(*)::text || ':' || coalesce(sum(hashint8extended(id, 0)), 0)::text
        FROM {manifests} WHERE connection_id = %(connection)s AND error = '')
"""

# The same digest and, in the same statement (so of the same moment), one per head.
_HEADS_SQL = """
WITH state (refs, manifests) AS ({state}),
refs AS (
    SELECT md5, is_dir, hash_name, hashint8extended(id, is_live::int)::numeric AS hash
    FROM {references} WHERE repo_id = ANY(%(repos)s) AND reachable
),
direct AS (SELECT left(md5, 2) AS head, sum(hash) AS total FROM refs GROUP BY 1),
dirs AS (
    SELECT md5, CASE WHEN hash_name = 'md5' THEN 'dvc3' ELSE 'dvc2' END AS layout, sum(hash) AS total
    FROM refs WHERE is_dir GROUP BY 1, 2
),
members AS (
    SELECT left(member.md5, 2) AS head,
           sum(hashtextextended(member.id::text || ':' || dirs.total::text, 0)::numeric) AS total
    FROM {members} member
    JOIN {manifests} manifest ON manifest.id = member.manifest_id
    JOIN dirs ON dirs.md5 = manifest.md5 AND dirs.layout = manifest.layout
    WHERE manifest.connection_id = %(connection)s AND manifest.error = ''
    GROUP BY 1
)
SELECT state.refs, state.manifests, heads.head, heads.direct, heads.members
FROM state LEFT JOIN (
    SELECT head, direct.total AS direct, members.total AS members FROM direct FULL JOIN members USING (head)
) heads ON true
"""


@dataclass(frozen=True)
class HistoryState:
    """The history a remote's objects are classified by, as of one moment.

    ``token`` changes with anything classify() reads for this remote: the linked repositories and which of them
    failed to index, their reachable references, this remote's manifests. ``heads`` says the same per two-hex head
    (the references with md5s of that head, and the manifest members of that head with their directory's
    references, since a member inherits its directory's class). It costs a join of every manifest member, so it is
    read only when needed: to compare with kept directories of an older token, or to keep listed ones.
    """

    token: str
    heads: dict[str, str] | None = None
    unreferenced: str = ""  # the fingerprint of a head that nothing references

    def of(self, head: str) -> str:
        """The head's fingerprint ('' if not read)."""
        return "" if self.heads is None else self.heads.get(head, self.unreferenced)


def read_history(classifier: RemoteClassifier, *, heads: bool) -> HistoryState | None:
    """The classifier's history now, with per-head fingerprints if ``heads``. None unless on PostgreSQL."""
    if db_connection.vendor != "postgresql":
        return None
    tables = {"references": DvcReference._meta.db_table, "members": DvcDirMember._meta.db_table,
              "manifests": DvcDirManifest._meta.db_table}
    state = _STATE_SQL.format(**tables)
    with db_connection.cursor() as cursor:
        cursor.execute(_HEADS_SQL.format(state=state, **tables) if heads else state,
                       {"repos": classifier.repo_ids, "connection": classifier.connection_id})
        rows = cursor.fetchall()
    common = f"{REUSE_FORMAT}:{sorted(classifier.repo_ids)}:{sorted(classifier.failed_repo_ids)}"
    token = _digest(common, rows[0][0], rows[0][1])
    if not heads:
        return HistoryState(token)
    return HistoryState(token, {head: _digest(common, f"{direct}:{members}") for _, _, head, direct, members in rows
                                if head is not None}, _digest(common, ""))


_run_history: tuple[int, HistoryState | None] | None = None


def history_for_run(run_id: int, classifier: RemoteClassifier) -> HistoryState | None:
    """The run's history, read once per process before its classifier reads any: verdicts made from a history
    newer than the state kept with them would be reused as if they matched it. A classifier that read history
    first gets None (nothing kept or reused in this process for the run). Per-head fingerprints are read with it
    when some kept directory of the remote has another token."""
    global _run_history
    if _run_history is None or _run_history[0] != run_id:
        state = None if classifier.history_read else read_history(classifier, heads=False)
        if state is not None and DvcRemoteFolder.objects.filter(connection_id=classifier.connection_id).exclude(
                token=state.token).exists():
            state = read_history(classifier, heads=True)
        _run_history = (run_id, state)
    return _run_history[1]


def history_unchanged(run_id: int, classifier: RemoteClassifier, state: HistoryState) -> HistoryState | None:
    """``state`` with per-head fingerprints if the history is still the one it describes, else None: what a shard
    listed is kept only then, as its verdicts could otherwise come from either history. Read once per run and
    process with the fingerprints, then as a token per shard."""
    global _run_history
    cached = _run_history[1] if _run_history is not None and _run_history[0] == run_id else None
    with_heads = cached if cached is not None and cached.token == state.token and cached.heads is not None else None
    now = read_history(classifier, heads=with_heads is None)
    if now is None or now.token != state.token:
        return None
    if with_heads is None:
        _run_history = (run_id, now)
    return with_heads or now


# --- directories ------------------------------------------------------------------------------------------------


def directory_stamp(path: str) -> tuple[str, int]:
    """A directory's signature (device, inode, mtime, ctime) and its newest timestamp in nanoseconds."""
    stat = os.stat(path, follow_symlinks=False)
    return (f"{stat.st_dev}:{stat.st_ino}:{stat.st_mtime_ns}:{stat.st_ctime_ns}",
            max(stat.st_mtime_ns, stat.st_ctime_ns))


def names_digest(names: Iterable[str]) -> str:
    return _digest(*sorted(names))


def _ancestors(key: str) -> list[str]:
    """The directories above ``key`` up to the root: 'files/md5/ab/' → '', 'files/', 'files/md5/'."""
    parts = key.split("/")[:-2]
    return [""] + ["/".join(parts[: index + 1]) + "/" for index in range(len(parts))]


# --- totals -----------------------------------------------------------------------------------------------------
# Kept as compact JSON text, a row per totals key: a scan that reuses a whole remote reads and counts in every
# directory's rows, so they carry only what counting them needs. The latest evidence is its reference's id and
# date; the few that end up latest in an aggregate are read back at the checkpoint (resolve_evidence).


def encode_totals(totals: Iterable[DvcTotals], prefix: str) -> str:
    """Totals as JSON rows; sample keys lose ``prefix`` (the root's URI and the directory), which every one has."""
    rows = []
    for item in totals:
        last = item.last
        rows.append([item.object_class, item.repo_id, item.path, item.owner, item.objects, item.bytes, item.oldest,
                     item.newest, last.reference_id if last else None, last.authored_at.timestamp() if last else None,
                     [sample[len(prefix):] for sample in item.samples]])
    return json.dumps(rows, separators=(",", ":"))


def merge_encoded(pending: dict[TotalsKey, DvcTotals], encoded: str, prefix: str) -> tuple[int, int]:
    """Count encoded totals into ``pending`` as DvcTotals.merge would; returns (objects, bytes)."""
    objects = size = 0
    for object_class, repo_id, path, owner, count, byte_count, oldest, newest, reference, authored, samples in (
        json.loads(encoded)
    ):
        key = (object_class, repo_id, path, owner)
        mine = pending.get(key)
        if mine is None:
            mine = pending[key] = DvcTotals(object_class, repo_id, path, owner, oldest=oldest, newest=newest)
        else:
            if oldest is not None and (mine.oldest is None or oldest < mine.oldest):
                mine.oldest = oldest
            if newest is not None and (mine.newest is None or newest > mine.newest):
                mine.newest = newest
        mine.objects += count
        mine.bytes += byte_count
        last = mine.last
        if reference is not None and (last is None or authored > last.authored_at.timestamp()):
            # Commit and author are read back if it stays the latest (resolve_evidence).
            mine.last = Evidence(repo_id, path, "", "", datetime.fromtimestamp(authored, tz=UTC),
                                 ObjectClass(object_class), reference)
        if samples and len(mine.samples) < SAMPLE_KEYS:
            mine.samples.extend(prefix + sample for sample in samples[: SAMPLE_KEYS - len(mine.samples)])
        objects += count
        size += byte_count
    return objects, size


def resolve_evidence(totals: Iterable[DvcTotals]) -> None:
    """Fill in the commit and author of latest evidence that came from kept totals (by its reference's id)."""
    unresolved = [item for item in totals if item.last is not None and not item.last.commit]
    if not unresolved:
        return
    rows = DvcReference.objects.filter(pk__in={item.last.reference_id for item in unresolved if item.last})
    found: dict[int, tuple[str, str, str, str, datetime]] = {
        pk: (path, commit, name, email, authored_at) for pk, path, commit, name, email, authored_at in
        rows.values_list("pk", "path", "commit", "author_name", "author_email", "authored_at")}
    for item in unresolved:
        last = item.last
        assert last is not None
        row = found.get(last.reference_id)
        if row is not None:  # else its repository went away during the scan: the date is all there is
            path, commit, name, email, authored_at = row
            item.last = last._replace(path=path, commit=commit, author=author_text(name, email),
                                      authored_at=authored_at)


# --- one shard's reuse ------------------------------------------------------------------------------------------


@dataclass
class FolderRecord:
    """A hash directory being listed from its start: what will be kept once the shard is done."""

    head: str
    signature: str
    settled: bool
    names: str
    listed_at: datetime
    totals: dict[TotalsKey, DvcTotals] = field(default_factory=dict)

    def add(self, counted: dict[TotalsKey, DvcTotals]) -> None:
        for key, part in counted.items():
            mine = self.totals.get(key)
            if mine is None:
                mine = self.totals[key] = DvcTotals(*key)
            mine.merge(part)


class _Kept(NamedTuple):
    directory: str
    pk: int
    signature: str
    settled: bool
    names: str
    token: str
    history: str
    totals: str
    run_status: str
    listed_at: datetime


class FolderReuse:
    """One shard's walk through a local DVC remote: which hash directories it skips (their kept totals count
    instead), and which it keeps as it lists them. The local lister asks ``enter`` before listing a directory."""

    def __init__(self, shard: ScanShard, root_path: str, history: HistoryState) -> None:
        self.connection_id, self.root, self.run_id = shard.run.connection_id, shard.root, shard.run_id
        self.root_path = root_path
        self.start_after = shard.last_key
        self.history = history
        self.margin_ns = max(0, settings.KURA_SCAN_DVC_REUSE_MARGIN_SECONDS) * 1_000_000_000
        self.oldest = timezone.now() - timedelta(hours=settings.KURA_SCAN_DVC_REUSE_MAX_AGE_HOURS)
        rows = DvcRemoteFolder.objects.filter(connection_id=self.connection_id, root=self.root,
                                              directory__startswith=shard.prefix)
        columns = ("directory", "pk", "signature", "settled", "names", "token", "history", "totals", "run__status",
                   "listed_at")
        self.kept = {row.directory: row for row in map(_Kept._make, rows.values_list(*columns))}
        self.skipped: dict[str, str] = {}  # directory → kept totals, until the writer counts them
        self._entered: dict[str, FolderRecord] = {}  # being read, until ``listed``
        self.recording: dict[str, FolderRecord] = {}
        self.settle: list[int] = []  # unsettled rows whose directory is settled now, names read again
        self.retoken: list[int] = []  # rows whose head's history is unchanged under a newer token
        self.stale: set[str] = set()  # listed again: whatever was kept for them is out of date
        self._stamps: dict[str, tuple[str, bool]] = {}

    @classmethod
    def for_shard(cls, shard: ScanShard, classifier: RemoteClassifier) -> "FolderReuse | None":
        connection = shard.run.connection
        if (not settings.KURA_SCAN_DVC_REUSE_FOLDERS or connection.kind != StorageConnection.Kind.LOCAL
                or connection.inventory_manifest or shard.top_level_only):
            return None
        try:
            root_path = str(resolve_local_root(shard.root))
        except ValidationError:
            return None  # the listing reports it
        history = history_for_run(shard.run_id, classifier)
        return cls(shard, root_path, history) if history is not None else None

    def _stamp(self, path: str) -> tuple[str, bool]:
        """(signature, settled): settled when its newest timestamp is older than the margin before the look."""
        looked = time.time_ns()
        signature, newest = directory_stamp(path)
        return signature, newest < looked - self.margin_ns

    def _chain(self, key: str, path: str) -> tuple[str, bool]:
        """The signature of ``key`` and of every directory above it; settled only if all of them are."""
        signatures, settled = [], True
        for ancestor in _ancestors(key):
            stamp = self._stamps.get(ancestor)
            if stamp is None:
                stamp = self._stamps[ancestor] = self._stamp(os.path.join(self.root_path, ancestor))
            signatures.append(stamp[0])
            settled = settled and stamp[1]
        own, own_settled = self._stamp(path)  # before the directory is read, never after
        return "/".join([*signatures, own]), settled and own_settled

    def _reusable(self, kept: _Kept | None, signature: str, head: str, path: str) -> bool:
        if (kept is None or kept.run_status != ScanRun.Status.SUCCEEDED or kept.listed_at < self.oldest
                or kept.signature != signature):
            return False
        same_token = kept.token == self.history.token
        if not same_token and (not kept.history or kept.history != self.history.of(head)):
            return False
        if not (kept.settled or _names_are(path, kept.names)):
            return False
        if not same_token:
            self.retoken.append(kept.pk)  # its head's history is the same under the new token
        return True

    def enter(self, key: str, path: str) -> bool:
        """False to skip directory ``key`` (its kept totals are in ``skipped``); True to list it."""
        head = shard_head(key)
        if not head or self.start_after.startswith(key):
            return True
        try:
            signature, settled = self._chain(key, path)
        except OSError:
            return True  # the listing says what is wrong
        kept = self.kept.get(key)
        if kept is not None and self._reusable(kept, signature, head, path):
            if settled and not kept.settled:
                self.settle.append(kept.pk)
            self.skipped[key] = kept.totals
            return False
        self.stale.add(key)
        self._entered[key] = FolderRecord(head, signature, settled, "", timezone.now())
        return True

    def listed(self, key: str, names: list[str], nested: bool) -> None:
        record = self._entered.pop(key, None)
        if record is not None and not nested:  # a subdirectory's changes would not show in the signature
            record.names = names_digest(names)
            self.recording[key] = record

    def count_skipped(self, key: str, pending: dict[TotalsKey, DvcTotals], root_uri: str) -> tuple[int, int]:
        """Count a skipped directory's kept totals into ``pending``, in its place in the walk."""
        rows = self.skipped.pop(key, None)
        return merge_encoded(pending, rows, root_uri + key) if rows is not None else (0, 0)

    def save(self, root_uri: str, classifier: RemoteClassifier) -> None:
        """Keep what the shard listed in full, in the transaction of its last checkpoint."""
        mine = DvcRemoteFolder.objects.filter(connection_id=self.connection_id, root=self.root)
        history = history_unchanged(self.run_id, classifier, self.history) if self.recording else None
        if self.stale:  # every directory listed, the ones kept below included
            mine.filter(directory__in=self.stale).delete()
        if history is not None:  # else its verdicts may predate the history: listed again next time
            # Hundreds of rows of a few kilobytes each on a first scan: COPY, not INSERT … ON CONFLICT.
            insert_values(DvcRemoteFolder, _KEPT_COLUMNS, [
                (self.connection_id, self.root, key, record.signature, record.settled, record.names, history.token,
                 history.of(record.head), encode_totals(record.totals.values(), root_uri + key), self.run_id,
                 record.listed_at)
                for key, record in self.recording.items()])
        if self.settle:
            mine.filter(pk__in=self.settle).update(settled=True)
        if self.retoken:
            mine.filter(pk__in=self.retoken).update(token=self.history.token)


_KEPT_COLUMNS = ["connection_id", "root", "directory", "signature", "settled", "names", "token", "history", "totals",
                 "run_id", "listed_at"]


def _names_are(path: str, digest: str) -> bool:
    try:
        return names_digest(os.listdir(path)) == digest
    except OSError:
        return False
