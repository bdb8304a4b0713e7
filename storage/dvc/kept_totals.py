"""The totals a scan keeps for a hash directory it listed, and how a later scan counts them in instead.

A kept directory's totals are rows (DvcKeptTotals), one per totals key (a DvcScanAggregate's key: class,
repository, output path for historical data, storage owner for unreferenced data). A scan that reuses a whole
remote counts in every directory's rows, so the database adds them up, a run of consecutive kept directories in
one statement; Python then merges one row per key, in the run's place in the walk. The sum of a run depends on the
kept rows alone, so it is kept too (DvcKeptRun) and read back while the run is the same.

The latest evidence of a kept row is its reference's id and date; the few that end up latest in an aggregate are
read back at the checkpoint (resolve_evidence).
"""

import hashlib
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from django.db import connection as db_connection

from storage.dvc.decode import ObjectClass
from storage.dvc.remote_scan import DvcTotals, Evidence, TotalsKey, author_text, totals_for
from storage.figures import SAMPLE_KEYS
from storage.models import DvcKeptRun, DvcKeptTotals, DvcReference, DvcRemoteFolder

KEPT_TOTALS_COLUMNS = ["folder_id", "object_class", "repo_id", "path", "owner", "object_count", "byte_count", "oldest",
                       "newest", "last_reference_id", "last_authored_at", "samples"]
RUNS_KEPT_FROM = 8  # directories: shorter runs (a shard per directory, say) are added up each time

# Directories in key order ("C": code points, the walk's order), so the first sample keys and, among equally recent
# evidence, the first are those of the first directory, as when the directories are listed.
_RUN_TOTALS_SQL = """
SELECT kept.object_class, kept.repo_id, kept.path, kept.owner, sum(kept.object_count), sum(kept.byte_count),
       min(kept.oldest), max(kept.newest),
       (array_agg(kept.last_reference_id ORDER BY kept.last_authored_at DESC, folder.directory COLLATE "C")
        FILTER (WHERE kept.last_reference_id IS NOT NULL))[1],
       max(kept.last_authored_at),
       (array_agg(folder.directory ORDER BY folder.directory COLLATE "C") FILTER (WHERE kept.samples <> ''))[1:{n}],
       (array_agg(kept.samples ORDER BY folder.directory COLLATE "C") FILTER (WHERE kept.samples <> ''))[1:{n}]
FROM {totals} kept JOIN {folders} folder ON folder.id = kept.folder_id
WHERE kept.folder_id = ANY(%s)
GROUP BY 1, 2, 3, 4
"""


def kept_rows(folder_id: int, totals: Iterable[DvcTotals], prefix: str) -> list[tuple[object, ...]]:
    """A listed directory's totals as DvcKeptTotals values (KEPT_TOTALS_COLUMNS); sample keys lose ``prefix``
    (the root's URI and the directory), which every one of them has, and are '/'-separated (names hold no '/')."""
    return [(folder_id, item.object_class, item.repo_id, item.path, item.owner, item.objects, item.bytes,
             item.oldest, item.newest, item.last.reference_id if item.last else None,
             item.last.authored_at if item.last else None, "/".join(sample[len(prefix):] for sample in item.samples))
            for item in totals]


def _added_up(folder_ids: list[int]) -> list[list[Any]]:
    statement = _RUN_TOTALS_SQL.format(n=SAMPLE_KEYS, totals=DvcKeptTotals._meta.db_table,
                                       folders=DvcRemoteFolder._meta.db_table)
    with db_connection.cursor() as cursor:
        cursor.execute(statement, [folder_ids])
        return [[object_class, repo_id, path, owner, int(count), int(size), oldest, newest, reference,
                 authored.isoformat() if authored else None, directories or [], samples or []]
                for object_class, repo_id, path, owner, count, size, oldest, newest, reference, authored, directories,
                samples in cursor.fetchall()]


def run_totals(connection_id: int, root: str, run: Sequence[tuple[str, int]]) -> list[list[Any]]:
    """The added-up kept totals of a run of (directory, kept row id), as JSON-ready rows: read back if kept for
    this very run, else added up (and kept, for a run long enough)."""
    folder_ids = [pk for _, pk in run]
    if len(run) < RUNS_KEPT_FROM:
        return _added_up(folder_ids)
    kept = (DvcKeptRun.objects.filter(connection_id=connection_id, root=root, first_directory=run[0][0])
            .values_list("folders", "totals").first())
    if kept is not None and kept[0] == _ids_digest(folder_ids):
        return list(kept[1])
    rows = _added_up(folder_ids)
    _keep(connection_id, root, run, rows)
    return rows


def keep_run_totals(connection_id: int, root: str, run: Sequence[tuple[str, int]]) -> None:
    """Add up a run's kept totals and keep the sum for the scans that find the run again (if long enough)."""
    if len(run) >= RUNS_KEPT_FROM:
        _keep(connection_id, root, run, _added_up([pk for _, pk in run]))


def _keep(connection_id: int, root: str, run: Sequence[tuple[str, int]], rows: list[list[Any]]) -> None:
    DvcKeptRun.objects.update_or_create(connection_id=connection_id, root=root, first_directory=run[0][0],
                                        defaults={"folders": _ids_digest([pk for _, pk in run]), "totals": rows})


def _ids_digest(folder_ids: list[int]) -> str:
    return digest(*map(str, folder_ids))


def digest(*parts: str) -> str:
    """A short, stable digest of some texts (kept signatures, names, history fingerprints, runs' rows)."""
    return hashlib.blake2b("\x1f".join(parts).encode("utf-8", "surrogateescape"), digest_size=16).hexdigest()


def count_kept_run(pending: dict[TotalsKey, DvcTotals], connection_id: int, root: str,
                   run: Sequence[tuple[str, int]], root_uri: str) -> tuple[int, int]:
    """Count a run of consecutive kept directories, (directory, kept row id) in key order, into ``pending`` as
    DvcTotals.merge would count them directory by directory; returns (objects, bytes)."""
    objects = size = 0
    for object_class, repo_id, path, owner, count, byte_count, oldest, newest, reference, authored, directories, \
            samples in run_totals(connection_id, root, run):
        last = None
        if reference is not None:  # commit and author are read back if it stays the latest (resolve_evidence)
            last = Evidence(repo_id, path, "", "", datetime.fromisoformat(authored), ObjectClass(object_class),
                            reference)
        names = [root_uri + directory + name for directory, names in zip(directories, samples, strict=True)
                 for name in names.split("/")]
        key = (object_class, repo_id, path, owner)
        totals_for(pending, key).merge(
            DvcTotals(*key, count, byte_count, oldest, newest, last, names[:SAMPLE_KEYS])
        )
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
