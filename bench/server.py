"""Kura under gunicorn with production settings, on a free local port; always stopped on the way out."""

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from bench.config import PROJECT_DIR, BenchConfig
from bench.database import django_env

DUMMY_SECRET_KEY = "bench-only-dummy-secret-key-0123456789-abcdefghijklmnopqrstu"  # 60 characters
READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Server:
    host: str
    port: int
    log_path: Path
    pid: int = 0  # the gunicorn arbiter
    db_name: str = ""

    def cpu_seconds(self) -> float:
        """User + system CPU time used so far by the arbiter and its workers (Linux ``/proc``; 0 elsewhere)."""
        return _cpu_seconds(lambda pid, parent, _: self.pid in (pid, parent))

    def postgres_cpu_seconds(self) -> float:
        """The same for the PostgreSQL backends serving the bench database. A backend that ended in between is
        not counted; gunicorn's workers keep theirs for a minute (``CONN_MAX_AGE``)."""
        marker = f" {self.db_name} ".encode()
        return _cpu_seconds(lambda _, __, cmdline: cmdline.startswith(b"postgres:") and marker in cmdline)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"


def _cpu_seconds(wanted: Callable[[int, int, bytes], bool]) -> float:
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    total = 0
    for stat_path in Path("/proc").glob("[0-9]*/stat"):
        try:
            pid_text, _, rest = stat_path.read_text().partition(" (")
            fields = rest.rsplit(") ", 1)[1].split()
            cmdline = (stat_path.parent / "cmdline").read_bytes()
        except (OSError, IndexError):
            continue  # a process that ended while we looked
        if wanted(int(pid_text), int(fields[1]), cmdline):  # fields[1] is the parent pid
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def gunicorn_command(config: BenchConfig, host: str, port: int) -> list[str]:
    return [
        sys.executable, "-m", "gunicorn", "kura.wsgi:application",
        "--bind", f"{host}:{port}",
        "--workers", str(config.workers),
        "--worker-class", config.worker_class,
        "--threads", str(config.threads),
        "--log-level", "warning",
    ]  # fmt: skip


def production_env(config: BenchConfig) -> dict[str, str]:
    return django_env(
        config,
        DJANGO_SETTINGS_MODULE="kura.settings.production",
        KURA_SECRET_KEY=DUMMY_SECRET_KEY,
        KURA_SECURE_SSL_REDIRECT="false",
        KURA_ALLOWED_HOSTS="127.0.0.1,localhost",
        KURA_LOG_LEVEL="WARNING",
    )


def _answers_livez(host: str, port: int) -> bool:
    connection = http.client.HTTPConnection(host, port, timeout=2)
    try:
        connection.request("GET", "/livez")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def _wait_until_live(process: subprocess.Popen[bytes], server: Server) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}; see {server.log_path}")
        if _answers_livez(server.host, server.port):
            return
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer /livez within {READY_TIMEOUT_S:.0f}s; see {server.log_path}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)  # gunicorn's graceful shutdown of the arbiter and its workers
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def running_server(config: BenchConfig, log_path: Path) -> Iterator[Server]:
    server = Server(host="127.0.0.1", port=free_port(), log_path=log_path, db_name=config.db_name)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            gunicorn_command(config, server.host, server.port),
            cwd=PROJECT_DIR,
            env=production_env(config),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            server = replace(server, pid=process.pid)
            _wait_until_live(process, server)
            yield server
        finally:
            _stop(process)
