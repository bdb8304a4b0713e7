"""Write an indexing run's new ``DvcReference`` rows while the history walk is still going.

On PostgreSQL the rows of commits that have none yet stream through one binary ``COPY`` opened for the whole
walk, so the server checks and indexes them while Python parses the next commits instead of after it. ``COPY``
cannot skip duplicates, so a commit that already has rows (walked again because the head that excluded it is
gone from the mirror, say) goes through ``INSERT … ON CONFLICT DO NOTHING`` at the end instead; a commit's own
outputs are made unique by the caller. A transaction-scoped advisory lock per repository
(``start_reference_writes``) keeps a second run, one taking over a presumed-stale run, from writing at the same
time, so the commits read as fresh stay fresh until this run commits.
"""

from collections.abc import Iterable, Sequence
from contextlib import ExitStack
from types import TracebackType
from typing import Any

from django.db import connection
from psycopg import Copy, postgres
from psycopg.adapt import Dumper
from psycopg.pq import Format

from storage.models import DvcReference, TrainingRepo

# The columns of the rows handed to ``add``, with their PostgreSQL types.
REFERENCE_COLUMNS = {
    "repo_id": "bigint", "md5": "varchar", "is_dir": "boolean", "hash_name": "varchar", "size": "bigint",
    "nfiles": "integer", "path": "varchar", "stage": "varchar", "cache": "boolean", "remote": "varchar",
    "source_path": "varchar", "commit": "varchar", "author_name": "varchar", "author_email": "varchar",
    "authored_at": "timestamptz", "live_refs": "jsonb", "is_live": "boolean", "reachable": "boolean",
}  # fmt: skip
_COMMIT = list(REFERENCE_COLUMNS).index("commit")
_INDEX_LOCK_CLASS = 0x4B555241  # first half of the (class, repository) advisory lock key; any constant of ours
_CONFLICT_BATCH = 2000


class _JsonText(str):
    """Only names the dumper below; rows carry ``live_refs`` as plain JSON text."""


class _JsonTextBinaryDumper(Dumper):
    """JSON text as jsonb's binary form (a version byte, then the text); psycopg's own would encode it again."""

    format = Format.BINARY
    oid = postgres.types["jsonb"].oid

    def dump(self, obj: str) -> bytes:
        return b"\x01" + obj.encode()


def start_reference_writes(repo: TrainingRepo) -> None:
    """Call first in the run's transaction, before reading which commits already have rows; the repository's
    advisory lock is then held until the transaction ends."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_INDEX_LOCK_CLASS, repo.pk])


class ReferenceWriter:
    """Use inside ``transaction.atomic()``: rows become visible, all at once, when the caller's transaction commits.

    No other query may run on the connection between ``__enter__`` and ``__exit__`` (the ``COPY`` holds it).
    """

    def __init__(self, repo: TrainingRepo, *, commits_with_rows: Iterable[str]) -> None:
        self.repo = repo
        self.added = 0
        self._commits_with_rows = set(commits_with_rows)
        self._maybe_present: list[tuple[Any, ...]] = []
        self._fresh: list[tuple[Any, ...]] = []  # only where COPY is not available
        self._copy: Copy | None = None
        self._open = ExitStack()
        self._table = connection.ops.quote_name(DvcReference._meta.db_table)
        self._names = ", ".join(connection.ops.quote_name(column) for column in REFERENCE_COLUMNS)

    def __enter__(self) -> "ReferenceWriter":
        if connection.vendor == "postgresql":
            cursor = self._open.enter_context(connection.cursor()).cursor
            cursor.adapters.register_dumper(_JsonText, _JsonTextBinaryDumper)  # for this cursor only
            self._copy = self._open.enter_context(
                cursor.copy(f"COPY {self._table} ({self._names}) FROM STDIN (FORMAT BINARY)")
            )
            self._copy.set_types(list(REFERENCE_COLUMNS.values()))
        return self

    def add(self, row: tuple[Any, ...]) -> None:
        if row[_COMMIT] in self._commits_with_rows:
            self._maybe_present.append(row)
        elif self._copy is not None:
            self._copy.write_row(row)
            self.added += 1
        else:
            self._fresh.append(row)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._copy = None
        self._open.__exit__(exc_type, exc, traceback)  # ends the COPY, or aborts it on an error; closes the cursor
        if exc_type is None:
            self.added += self._insert_skipping_present(self._fresh) + self._insert_skipping_present(
                self._maybe_present
            )

    def _insert_skipping_present(self, rows: Sequence[tuple[Any, ...]]) -> int:
        if not rows:
            return 0
        with connection.cursor() as cursor:
            if connection.vendor != "postgresql":
                before = DvcReference.objects.filter(repo=self.repo).count()
                placeholders = ", ".join(["%s"] * len(REFERENCE_COLUMNS))
                cursor.executemany(
                    f"INSERT INTO {self._table} ({self._names}) VALUES ({placeholders}) "  # noqa: S608 - names from the model, values bound
                    "ON CONFLICT DO NOTHING",
                    rows,
                )
                return DvcReference.objects.filter(repo=self.repo).count() - before
            arrays = ", ".join(f"%s::{kind}[]" for kind in REFERENCE_COLUMNS.values())
            sql = (
                f"INSERT INTO {self._table} ({self._names}) SELECT * FROM unnest({arrays}) "  # noqa: S608 - names from the model, values bound
                "ON CONFLICT DO NOTHING"
            )
            added = 0
            for start in range(0, len(rows), _CONFLICT_BATCH):
                batch = rows[start : start + _CONFLICT_BATCH]
                cursor.execute(sql, [list(column) for column in zip(*batch, strict=True)])
                added += cursor.rowcount
            return added
