"""What several benchmark scripts share: the machine they ran on and a free local port."""

from __future__ import annotations

import datetime as dt
import os
import platform
import shutil
import socket
import subprocess
from collections.abc import Iterable
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import psutil

__all__ = ["free_port", "machine", "stop"]


def _version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def machine(packages: Iterable[str]) -> dict[str, Any]:
    """Date, Python, platform, CPUs, memory, load, PostgreSQL and the given packages' versions."""
    pg = shutil.which("postgres") or "/usr/lib/postgresql/15/bin/postgres"
    pg_version = subprocess.run([pg, "--version"], capture_output=True, text=True).stdout.strip()
    return {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "load_average": [round(v, 2) for v in os.getloadavg()],
        "postgres": pg_version,
        "versions": {n: _version(n) for n in packages},
    }


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(process: subprocess.Popen) -> None:
    """End a server the benchmark started: SIGTERM, then SIGKILL after 15 s."""
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
