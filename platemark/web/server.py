"""Process-level set-up for `platemark serve`: the listening port and the open-file limit."""

from __future__ import annotations

import errno
import resource
import socket

from platemark.errors import PlatemarkError


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
