"""Re-scanning a local DVC remote without listing the hash directories that did not change.

DVC objects are content-addressed and never rewritten, and an upload lands in its hash directory by a rename, so a
directory whose entries did not change holds the same objects. After a scan lists a hash directory (``ab/`` or
``files/md5/ab/``) it keeps the directory (DvcRemoteFolder) and its totals by classification (DvcKeptTotals, see
kept_totals); a later scan counts those totals instead of listing and classifying the directory again when all of
these hold:

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

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection as db_connection
from django.utils import timezone

from kura.db import insert_values
from storage.dvc.kept_totals import KEPT_TOTALS_COLUMNS, count_kept_run, digest, keep_run_totals, kept_rows
from storage.dvc.remote_scan import DvcTotals, RemoteClassifier, TotalsKey, shard_head, totals_for
from storage.models import (
    DvcDirManifest,
    DvcDirMember,
    DvcKeptTotals,
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
    token = digest(common, rows[0][0], rows[0][1])
    if not heads:
        return HistoryState(token)
    return HistoryState(token, {head: digest(common, f"{direct}:{members}") for _, _, head, direct, members in rows
                                if head is not None}, digest(common, ""))


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
    return digest(*sorted(names))


def _ancestors(key: str) -> list[str]:
    """The directories above ``key`` up to the root: 'files/md5/ab/' → '', 'files/', 'files/md5/'."""
    parts = key.split("/")[:-2]
    return [""] + ["/".join(parts[: index + 1]) + "/" for index in range(len(parts))]


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
            totals_for(self.totals, key).merge(part)


class _Kept(NamedTuple):
    directory: str
    pk: int
    signature: str
    settled: bool
    names: str
    token: str
    history: str
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
        columns = ("directory", "pk", "signature", "settled", "names", "token", "history", "run__status", "listed_at")
        self.kept = {row.directory: row for row in map(_Kept._make, rows.values_list(*columns))}
        self.skipped: dict[str, int] = {}  # directory → its kept row, until the writer counts it
        self._skipped_ids: dict[str, int] = {}  # the same, for good
        self.runs: list[list[str]] = [[]]  # the kept directories in walk order, in runs nothing else splits
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
            self.skipped[key] = self._skipped_ids[key] = kept.pk
            return False
        self.stale.add(key)
        self._entered[key] = FolderRecord(head, signature, settled, "", timezone.now())
        return True

    def listed(self, key: str, names: list[str], nested: bool) -> None:
        record = self._entered.pop(key, None)
        if record is not None and not nested:  # a subdirectory's changes would not show in the signature
            record.names = names_digest(names)
            self.recording[key] = record

    def counted(self, directory: str) -> None:
        """The writer counted a batch of ``directory`` (a skipped one's kept totals too), in walk order."""
        run = self.runs[-1]
        if directory in self.recording or directory in self._skipped_ids:
            if not run or run[-1] != directory:
                run.append(directory)
        elif run:
            self.runs.append([])

    def count_skipped(self, keys: list[str], pending: dict[TotalsKey, DvcTotals], root_uri: str) -> tuple[int, int]:
        """Count the kept totals of skipped directories, consecutive in the walk, into ``pending`` in their place."""
        run = [(key, self.skipped.pop(key)) for key in keys]
        return count_kept_run(pending, self.connection_id, self.root, run, root_uri) if run else (0, 0)

    def save(self, root_uri: str, classifier: RemoteClassifier) -> None:
        """Keep what the shard listed in full, in the transaction of its last checkpoint."""
        mine = DvcRemoteFolder.objects.filter(connection_id=self.connection_id, root=self.root)
        history = history_unchanged(self.run_id, classifier, self.history) if self.recording else None
        if self.stale:  # every directory listed, the ones kept below included
            mine.filter(directory__in=self.stale).delete()
        if history is not None and self.recording:  # else its verdicts may predate the history: listed next time
            folders = DvcRemoteFolder.objects.bulk_create([
                DvcRemoteFolder(connection_id=self.connection_id, root=self.root, directory=key,
                                signature=record.signature, settled=record.settled, names=record.names,
                                token=history.token, history=history.of(record.head), run_id=self.run_id,
                                listed_at=record.listed_at)
                for key, record in self.recording.items()])
            # Tens of thousands of rows on a first scan: COPY.
            insert_values(DvcKeptTotals, KEPT_TOTALS_COLUMNS, [
                row for folder, record in zip(folders, self.recording.values(), strict=True)
                for row in kept_rows(folder.pk, record.totals.values(), root_uri + folder.directory)])
            # Unless something changes, the next scan finds these runs of kept directories again: their sums are
            # ready for it.
            ids = {**self._skipped_ids, **{folder.directory: folder.pk for folder in folders}}
            for run in self.runs:
                if not self.recording.keys().isdisjoint(run):
                    keep_run_totals(self.connection_id, self.root, [(key, ids[key]) for key in run])
        if self.settle:
            mine.filter(pk__in=self.settle).update(settled=True)
        if self.retoken:
            mine.filter(pk__in=self.retoken).update(token=self.history.token)


def _names_are(path: str, names: str) -> bool:
    try:
        return names_digest(os.listdir(path)) == names
    except OSError:
        return False
