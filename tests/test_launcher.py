"""``make run``'s launcher: the environment it gives the web server, worker and scheduler, and a taken port."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from kura import launcher


def test_links_point_where_the_run_serves(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KURA_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("KURA_BIND", "0.0.0.0:9100")
    monkeypatch.delenv("KURA_BASE_URL", raising=False)

    assert launcher._environment()["KURA_BASE_URL"] == "http://0.0.0.0:9100"


def test_defaults_serve_on_localhost_8000(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KURA_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("KURA_BIND", raising=False)
    monkeypatch.delenv("KURA_BASE_URL", raising=False)

    env = launcher._environment()

    assert (env["KURA_BIND"], env["KURA_BASE_URL"]) == ("127.0.0.1:8000", "http://127.0.0.1:8000")


def test_an_explicit_base_url_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KURA_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("KURA_BIND", "127.0.0.1:9100")
    monkeypatch.setenv("KURA_BASE_URL", "https://kura.example.com")

    assert launcher._environment()["KURA_BASE_URL"] == "https://kura.example.com"


def test_a_taken_port_is_reported_before_anything_is_touched(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        bind = f"127.0.0.1:{holder.getsockname()[1]}"
        env = {**os.environ, "KURA_DATA_DIR": str(tmp_path / "data"), "KURA_BIND": bind}
        for name in ("DATABASE_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE"):
            env.pop(name, None)

        started = subprocess.run([sys.executable, "-m", "kura.launcher"], cwd=launcher.BASE_DIR, env=env,
                                 capture_output=True, text=True, timeout=300)

    assert started.returncode == 2
    assert f"Kura cannot listen on {bind}" in started.stderr and "KURA_BIND" in started.stderr
    assert not (tmp_path / "data" / "kura.sqlite3").exists()  # no migration, no demo credentials rotated


def test_a_free_port_is_free() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert launcher._bind_taken(f"127.0.0.1:{port}") is None
