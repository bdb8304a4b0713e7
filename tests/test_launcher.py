"""``make run``'s launcher: the environment it gives the web server, worker and scheduler."""

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
