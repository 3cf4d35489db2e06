"""Test support: `platemark serve` in a subprocess on a free loopback port."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class RunningServer:
    url: str  # base URL, ending in /
    port: int
    pid: int  # the serving process (with one worker, the worker itself)


@contextlib.contextmanager
def running_server(catalog_args: list[str], workers: int, env: dict[str, str] | None = None) -> Iterator[RunningServer]:
    """Start `platemark serve` on 127.0.0.1 with PLATEMARK_* settings from `env`, wait until /healthz answers."""
    port = free_port()
    command = [sys.executable, "-m", "platemark", "serve", *catalog_args, "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--workers", str(workers)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 90
    while True:
        try:
            urllib.request.urlopen(url + "healthz", timeout=1)
            break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError("platemark serve did not start") from None
            time.sleep(0.2)
    try:
        yield RunningServer(url, port, process.pid)
    finally:
        process.terminate()
        process.wait(timeout=10)
