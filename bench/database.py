"""The bench database: dropped, recreated, migrated with manage.py, then filled with COPY and analysed."""

import os
import subprocess
import sys

import psycopg
from psycopg import sql

from bench.config import PROJECT_DIR, BenchConfig
from bench.fixtures import IDENTITY_TABLES, TABLES, Catalog


def django_env(config: BenchConfig, **extra: str) -> dict[str, str]:
    """The environment for manage.py and gunicorn: the bench database and nothing from a developer's shell."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("KURA_", "DJANGO_"))}
    env.update(DATABASE_URL=config.pg_url, PYTHONPATH=str(PROJECT_DIR), **extra)
    return env


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
