"""Typed readers for the environment variables documented in README.md.

Settings modules are the only callers: app code reads ``django.conf.settings``.
"""

import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from django.core.exceptions import ImproperlyConfigured


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), got {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from exc


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def database_from_url(url: str, base_dir: Path) -> dict[str, Any]:
    """Translate ``sqlite:///relative.db`` or ``postgres://user:pw@host:port/name`` to DATABASES."""
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        # sqlite:///var/kura.db is relative to the project; sqlite:////abs/kura.db is absolute.
        raw_path = unquote(parsed.path)
        path = Path(raw_path[1:] if raw_path.startswith("/") else raw_path)
        if not path.is_absolute():
            path = base_dir / path
        path.parent.mkdir(parents=True, exist_ok=True)  # a fresh checkout has no var/ yet
        # The embedded stack writes from web, worker and scheduler at once: WAL lets readers run beside the
        # writer, and IMMEDIATE transactions take the write lock up front, so two writers queue (up to
        # ``timeout``) instead of one failing at once with "database is locked" when both try to upgrade.
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(path),
            "OPTIONS": {
                "timeout": 20,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    if parsed.scheme in {"postgres", "postgresql", "pgsql"}:
        options: dict[str, Any] = {key: values[-1] for key, values in parse_qs(parsed.query).items()}
        # PostgreSQL's JIT compiles any query whose estimated cost is high, and the permission filter's
        # subplans look costly on paper: it added ~0.5 s to list queries that run in tens of ms without it.
        options.setdefault("options", "-c jit=off")
        if env_bool("KURA_DB_PREPARED_STATEMENTS", True):
            # Parameters bound on the server let psycopg prepare a statement after its fifth run on a
            # connection, so hot reads (the CI lookup, the permission filter) skip PostgreSQL's planner.
            # Turn off behind a pooler in transaction mode, which cannot keep prepared statements.
            options["server_side_binding"] = True
            options["prepare_threshold"] = int(options.get("prepare_threshold", 5))
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parsed.path.lstrip("/")) or "kura",
            "USER": unquote(parsed.username or ""),
            "PASSWORD": unquote(parsed.password or ""),
            "HOST": parsed.hostname or "",
            "PORT": str(parsed.port or ""),
            "CONN_MAX_AGE": 60,
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": options,
        }
    raise ImproperlyConfigured(f"DATABASE_URL scheme {parsed.scheme!r} is not supported (use sqlite or postgres)")
