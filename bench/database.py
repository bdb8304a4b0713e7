"""The bench database: created, migrated with manage.py, filled with COPY and analysed, then reused.

A fingerprint of the generator's configuration and sources is kept as the database's comment; a later run
with the same fingerprint only migrates and reuses the rows (set BENCH_RELOAD=1 to rebuild anyway).
"""

import hashlib
import os
import subprocess
import sys

import psycopg
from psycopg import sql

from bench.config import BENCH_DIR, PROJECT_DIR, BenchConfig
from bench.fixtures import CODENAMES_BY_LEVEL, IDENTITY_TABLES, TABLES, Catalog

_GENERATOR_SOURCES = ("fixtures.py", "words.py")


def django_env(config: BenchConfig, **extra: str) -> dict[str, str]:
    """The environment for manage.py and gunicorn: the bench database and nothing from a developer's shell."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("KURA_", "DJANGO_"))}
    env.update(DATABASE_URL=config.pg_url, PYTHONPATH=str(PROJECT_DIR), **extra)
    return env


def fingerprint(config: BenchConfig) -> str:
    """What the loaded rows depend on: the scale, the seed and the generator.

    New migrations do not force a reload: each run migrates first, so new indexes land on the reused rows.
    """
    digest = hashlib.sha256()
    for name in _GENERATOR_SOURCES:
        digest.update((BENCH_DIR / name).read_bytes())
    scale = (
        f"datasets={config.datasets} people={config.people} units={config.units} grants={config.grants} "
        f"heavy={config.heavy_grants} merge={config.merge_grants} seed={config.seed}"
    )
    return f"kura-bench {scale} code={digest.hexdigest()[:16]}"


def loaded_fingerprint(config: BenchConfig) -> str | None:
    with psycopg.connect(config.pg_admin_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", [config.db_name]
        ).fetchone()
    return None if row is None else row[0]


def mark_loaded(config: BenchConfig) -> None:
    name = sql.Identifier(config.db_name)
    with psycopg.connect(config.pg_admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(name, sql.Literal(fingerprint(config))))


def recreate_database(config: BenchConfig) -> None:
    name = sql.Identifier(config.db_name)
    with psycopg.connect(config.pg_admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(name))


def migrate(config: BenchConfig) -> None:
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"],
        cwd=PROJECT_DIR,
        env=django_env(config, DJANGO_SETTINGS_MODULE="kura.settings.base"),
        check=True,
    )


def dataset_content_type(config: BenchConfig) -> int:
    """Grants point at datasets through content types, whose ids migrate assigned."""
    with psycopg.connect(config.pg_url) as conn:
        row = conn.execute(
            "SELECT id FROM django_content_type WHERE app_label = 'catalog' AND model = 'dataset'"
        ).fetchone()
    if row is None:
        raise RuntimeError("migrate did not register catalog.dataset in django_content_type")
    return int(row[0])


def dataset_permission_ids(config: BenchConfig, content_type_id: int) -> dict[str, int]:
    """Guardian's projection rows name permissions by id; migrate created them."""
    codenames = sorted({codename for names in CODENAMES_BY_LEVEL.values() for codename in names})
    with psycopg.connect(config.pg_url) as conn:
        rows = conn.execute(
            "SELECT codename, id FROM auth_permission WHERE content_type_id = %s AND codename = ANY(%s)",
            [content_type_id, codenames],
        ).fetchall()
    found = {codename: int(pk) for codename, pk in rows}
    missing = set(codenames) - found.keys()
    if missing:
        raise RuntimeError(f"migrate did not create the dataset permissions {sorted(missing)}")
    return found


def _copy_table(cursor: psycopg.Cursor, table: str, catalog: Catalog) -> int:
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(sql.Identifier(column) for column in TABLES[table])
    )
    rows = catalog.rows.get(table, [])
    with cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)
    return len(rows)


def _move_sequences_past_rows(cursor: psycopg.Cursor) -> None:
    for table in IDENTITY_TABLES:
        cursor.execute(
            sql.SQL("SELECT setval(pg_get_serial_sequence({}, 'id'), coalesce(max(id), 0) + 1, false) FROM {}").format(
                sql.Literal(table), sql.Identifier(table)
            )
        )


def load_catalog(config: BenchConfig, catalog: Catalog) -> dict[str, int]:
    """COPY every table in one transaction (foreign keys are deferred, so order only matters for clarity)."""
    counts: dict[str, int] = {}
    with psycopg.connect(config.pg_url) as conn, conn.cursor() as cursor:
        for table in TABLES:
            counts[table] = _copy_table(cursor, table, catalog)
        _move_sequences_past_rows(cursor)
    return counts


def analyze(config: BenchConfig) -> None:
    with psycopg.connect(config.pg_url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")


def table_counts(config: BenchConfig) -> dict[str, int]:
    with psycopg.connect(config.pg_url) as conn:
        return {
            table: int(conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()[0])
            for table in TABLES
        }
