"""Process-level set-up for `platemark serve`: the listening port, the open-file limit, and the word index
read into the OS file cache."""

from __future__ import annotations

import errno
import os
import resource
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

from platemark.errors import PlatemarkError
from platemark.store import open_catalog


def check_port_free(host: str, port: int) -> None:
    """Raise PlatemarkError with a clear message if `host:port` cannot be listened on.

    uvicorn would first print that it is serving and then fail; checked here, nothing is claimed.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PlatemarkError(
                    f"{host}:{port} is already in use: stop the other server or choose --port"
                ) from None
            raise PlatemarkError(f"cannot listen on {host}:{port} ({exc.strerror or exc})") from None


def raise_open_file_limit() -> int:
    """Raise this process's open-file limit to the hard limit (children inherit it); returns it.

    Each connection is a file descriptor; the common soft limit of 1024 runs out under a flood.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
    if wanted > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (ValueError, OSError):
            pass
    return soft


def preload_in_background(catalog: str, media: Path | None, echo: Callable[[str], None]) -> threading.Thread:
    """Start reading the catalog's posting lists into the OS file cache (`Catalog.preload_postings`) on a
    daemon thread, and say when it is done; returns the thread.

    Searches read their posting lists from the catalog, and at a million records one takes ~450 ms longer
    while they are still on the disk. Done once per `serve`: the workers share the file cache. A word
    index larger than half the machine's memory is not read: it would push itself out of the cache.
    """

    def preload() -> None:
        try:
            with open_catalog(catalog, media=media) as store:
                size = int(store.index_info()["postings_mb"] * 1e6)
                memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
                if size > memory // 2:
                    echo(
                        f"word index not preloaded: its {size / 1e9:.1f} GB of posting lists are more than half "
                        f"this machine's {memory / 1e9:.1f} GB of memory; searches read them from the disk"
                    )
                    return
                started = time.monotonic()
                read = store.preload_postings()
            if read:
                seconds = time.monotonic() - started
                echo(f"word index preloaded: {read / 1e6:.1f} MB of posting lists in {seconds:.0f} s")
        except Exception as exc:  # a failed warm-up must not stop the server: it only says so
            echo(f"word index not preloaded: {exc}")

    thread = threading.Thread(target=preload, name="platemark-preload", daemon=True)
    thread.start()
    return thread
