"""`make run`: migrate, load demo data, then run web + Celery worker + Celery beat until Ctrl-C.

Embedded defaults (SQLite, filesystem broker) need no server; with DATABASE_URL and CELERY_BROKER_URL set
the same launcher runs against PostgreSQL and Redis.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

BASE_DIR = Path(__file__).resolve().parent.parent


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    data_dir = Path(env.setdefault("KURA_DATA_DIR", str(BASE_DIR / "var")))
    env.setdefault("DJANGO_SETTINGS_MODULE", "kura.settings.base")
    env.setdefault("KURA_LOCAL_ROOTS", str(data_dir / "demo-storage"))
    env.setdefault("PYTHONUNBUFFERED", "1")
    # Links Kura prints or mails (the demo's sign-in, approval e-mails) point where this run serves.
    env.setdefault("KURA_BASE_URL", f"http://{env.setdefault('KURA_BIND', '127.0.0.1:8000')}")
    for folder in ("queue", "control", "processed"):
        (data_dir / "broker" / folder).mkdir(parents=True, exist_ok=True)
    return env


def _bind_taken(bind: str) -> str | None:
    """Why the web server could not listen on ``bind`` (host:port), or None when it can."""
    host, _, port = bind.rpartition(":")
    host = host.strip("[]")
    try:
        address = socket.getaddrinfo(host or None, int(port), type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
        with socket.socket(address[0], socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn does
            probe.bind(address[4])
    except (OSError, ValueError) as error:
        return str(error)
    return None


def _manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, check=True)


def _stop(processes: dict[str, subprocess.Popen[bytes]]) -> None:
    for process in processes.values():
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + 15
    for process in processes.values():
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()


def main() -> int:
    env = _environment()
    bind = env["KURA_BIND"]
    # Before migrating and loading the demo: a second `make run` on the same data would otherwise rotate the
    # running one's demo password and token, then fail on the port amid the worker's start-up output.
    taken = _bind_taken(bind)
    if taken is not None:
        print(f"Kura cannot listen on {bind}: {taken}. Is Kura already running? Stop it, or choose another "
              "address with KURA_BIND=host:port.", file=sys.stderr, flush=True)
        return 2
    _manage(env, "migrate", "--noinput", "-v", "0")
    _manage(env, "collectstatic", "--noinput", "-v", "0")
    _manage(env, "load_demo")
    commands = {
        "web": [sys.executable, "-m", "gunicorn", "kura.wsgi:application", "--bind", bind, "--workers", "2",
                "--access-logfile", "-"],
        "worker": [sys.executable, "-m", "celery", "-A", "kura", "worker", "--loglevel", "INFO", "--concurrency", "2"],
        "beat": [sys.executable, "-m", "celery", "-A", "kura", "beat", "--loglevel", "INFO",
                 "--schedule", str(Path(env["KURA_DATA_DIR"]) / "celerybeat-schedule")],
    }
    processes = {name: subprocess.Popen(command, cwd=BASE_DIR, env=env) for name, command in commands.items()}
    print(f"Kura is running at http://{bind}/ (web, worker and scheduler). Press Ctrl-C to stop.", flush=True)

    def handle_signal(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handle_signal)
    try:
        while True:
            for name, process in processes.items():
                if process.poll() is not None:
                    print(f"{name} exited with code {process.returncode}; stopping Kura.", flush=True)
                    return process.returncode or 1
            time.sleep(1)
    except KeyboardInterrupt:
        return 0
    finally:
        _stop(processes)


if __name__ == "__main__":
    sys.exit(main())
