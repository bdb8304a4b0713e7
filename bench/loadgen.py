"""Drive an endpoint with wrk and read requests/s and latency percentiles from its ``--latency`` report."""

import os
import re
import shutil
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

WRK_WAIT_S = 60.0
_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
_PERCENTILE = re.compile(r"^\s*(50|75|90|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s|m)\s*$", re.MULTILINE)
_RPS = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
_TOTAL = re.compile(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m),", re.MULTILINE)
_NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_SOCKET_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")


@dataclass(frozen=True)
class WrkResult:
    requests_per_s: float
    requests: int
    p50_ms: float
    p75_ms: float
    p90_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def ensure_wrk(wait_s: float = WRK_WAIT_S) -> str:
    """wrk may still be arriving through apt in another shell: wait for it, then install it ourselves."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        found = shutil.which("wrk")
        if found:
            return found
        time.sleep(5)
    print("wrk not found; installing the Debian package", flush=True)
    subprocess.run(
        ["apt-get", "install", "-y", "wrk"], check=True, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    )
    found = shutil.which("wrk")
    if not found:
        raise RuntimeError("wrk is still missing after apt-get install -y wrk")
    return found


def parse_wrk(output: str) -> WrkResult:
    percentiles = {int(p): float(value) * _UNITS_MS[unit] for p, value, unit in _PERCENTILE.findall(output)}
    rps, total = _RPS.search(output), _TOTAL.search(output)
    if rps is None or total is None or not {50, 99} <= percentiles.keys():
        raise ValueError(f"unexpected wrk output:\n{output}")
    non_2xx = _NON_2XX.search(output)
    socket_errors = _SOCKET_ERRORS.search(output)
    return WrkResult(
        requests_per_s=float(rps.group(1)),
        requests=int(total.group(1)),
        p50_ms=percentiles[50],
        p75_ms=percentiles.get(75, 0.0),
        p90_ms=percentiles.get(90, 0.0),
        p99_ms=percentiles[99],
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(count) for count in socket_errors.groups()) if socket_errors else 0,
    )


@dataclass(frozen=True)
class WrkRun:
    wrk: str
    url: str
    connections: int
    threads: int
    script: Path | None = None
    env: dict[str, str] | None = None

    def command(self, duration_s: int) -> list[str]:
        command = [self.wrk, "--latency", f"-t{self.threads}", f"-c{self.connections}", f"-d{duration_s}s"]
        command += ["--timeout", "10s"]
        if self.script is not None:
            command += ["-s", str(self.script)]
        return [*command, self.url]

    def run(self, duration_s: int) -> tuple[WrkResult, str]:
        completed = subprocess.run(
            self.command(duration_s),
            env={**os.environ, **(self.env or {})},
            capture_output=True,
            text=True,
            check=False,
            timeout=duration_s + 60,
        )
        if completed.returncode != 0:
            raise RuntimeError(f"wrk failed ({completed.returncode}):\n{completed.stdout}\n{completed.stderr}")
        return parse_wrk(completed.stdout), completed.stdout
