"""A real `platemark serve` against hostile uploads and connections, with its memory and time measured.

The ceiling asserted here is the one the README documents: one upload costs a worker at most
UPLOAD_MEMORY_CEILING_MB above its resting memory and UPLOAD_SECONDS_CEILING seconds.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hostile import hostile_uploads, odd_uploads
from web_support import RunningServer, free_port, running_server

UPLOAD_MEMORY_CEILING_MB = 600
UPLOAD_SECONDS_CEILING = 5.0

pytestmark = pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc")


@pytest.fixture(scope="module")
def server(catalog_path: Path) -> Iterator[RunningServer]:
    settings = {
        "PLATEMARK_SEARCHES_PER_MINUTE": "0",  # every upload of the corpus comes from 127.0.0.1
        "PLATEMARK_HEADER_TIMEOUT_SECONDS": "2",
        "PLATEMARK_BODY_TIMEOUT_SECONDS": "2",
    }
    with running_server(["--catalog", str(catalog_path)], workers=1, env=settings) as running:
        yield running


def memory_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for process {pid}")


def upload_cost(server: RunningServer, name: str, data: bytes) -> tuple[httpx.Response, float, float]:
    """The answer to one upload, the worker's peak memory growth (MB) and the seconds it took."""
    Path(f"/proc/{server.pid}/clear_refs").write_text("5")  # reset the peak (VmHWM) to the current RSS
    resting = memory_kb(server.pid, "VmRSS")
    started = time.monotonic()
    response = httpx.post(server.url + "api/search", files={"image": (name, data)}, timeout=60)
    seconds = time.monotonic() - started
    return response, (memory_kb(server.pid, "VmHWM") - resting) / 1024, seconds


def test_hostile_uploads_are_refused_cheaply_with_a_message(server: RunningServer) -> None:
    corpus = hostile_uploads()
    assert len(corpus) >= 300
    for name, data in corpus:
        response, memory_mb, seconds = upload_cost(server, name, data)
        assert 400 <= response.status_code < 500, f"{name}: {response.status_code} {response.text[:200]}"
        assert len(response.json()["detail"]) > 10, name
        assert memory_mb <= UPLOAD_MEMORY_CEILING_MB, f"{name} cost {memory_mb:.0f} MB"
        assert seconds <= UPLOAD_SECONDS_CEILING, f"{name} took {seconds:.1f} s"
    assert httpx.get(server.url + "healthz").status_code == 200


def test_odd_but_valid_photos_are_searched_within_the_ceiling(server: RunningServer) -> None:
    for name, data in odd_uploads():
        response, memory_mb, seconds = upload_cost(server, name, data)
        assert response.status_code == 200, f"{name}: {response.text[:200]}"
        assert memory_mb <= UPLOAD_MEMORY_CEILING_MB, f"{name} cost {memory_mb:.0f} MB"
        assert seconds <= UPLOAD_SECONDS_CEILING, f"{name} took {seconds:.1f} s"


def test_chunked_upload_over_the_limit_is_cut_off_not_spooled(server: RunningServer) -> None:
    sent = 0

    def body() -> Iterator[bytes]:  # no Content-Length: the limit must hold on the bytes received
        nonlocal sent
        yield b'--x\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\n\r\n'
        for _ in range(300):  # at most 300 MB, far over the 20 MB limit
            sent += 1_000_000
            yield b"\xff" * 1_000_000

    headers = {"Content-Type": "multipart/form-data; boundary=x"}
    resting = memory_kb(server.pid, "VmRSS")
    try:
        response = httpx.post(server.url + "api/search", content=body(), headers=headers, timeout=30)
        assert response.status_code == 413 and "limit of 20 MB" in response.json()["detail"]
    except httpx.TransportError:
        pass  # the server may close the connection while the client is still sending
    assert sent < 100_000_000, "the server stopped reading soon after the limit"
    assert memory_kb(server.pid, "VmRSS") - resting < 100 * 1024


def test_many_file_parts_cost_no_more_than_the_upload_limit(server: RunningServer) -> None:
    def body() -> Iterator[bytes]:  # 900 parts of 1 MB, chunked: each part would be spooled in memory
        for n in range(900):
            yield f'--x\r\nContent-Disposition: form-data; name="image"; filename="p{n}.jpg"\r\n\r\n'.encode()
            yield b"\xff" * 1_000_000 + b"\r\n"
        yield b"--x--\r\n"

    Path(f"/proc/{server.pid}/clear_refs").write_text("5")
    resting = memory_kb(server.pid, "VmRSS")
    headers = {"Content-Type": "multipart/form-data; boundary=x"}
    try:
        response = httpx.post(server.url + "api/search", content=body(), headers=headers, timeout=60)
        assert response.status_code == 413
    except httpx.TransportError:
        pass  # the server may close the connection while the client is still sending
    assert (memory_kb(server.pid, "VmHWM") - resting) / 1024 < 150


def test_stalled_upload_gets_408(server: RunningServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(
            b"POST /api/search HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=x\r\n"
            b"Content-Length: 100000\r\n\r\n--x\r\n"
        )
        started = time.monotonic()
        answer = sock.recv(4096)
        assert answer.startswith(b"HTTP/1.1 408"), answer[:100]
        assert time.monotonic() - started < 6


def test_connections_that_send_no_request_are_closed_and_health_stays_fast(server: RunningServer) -> None:
    import resource

    count = min(1500, resource.getrlimit(resource.RLIMIT_NOFILE)[0] // 2 - 100)
    idle = []
    for n in range(count):
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        if n % 2:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # a header that never ends
        idle.append(sock)
    try:
        started = time.monotonic()
        assert httpx.get(server.url + "healthz", timeout=5).status_code == 200
        assert time.monotonic() - started < 1.0
        time.sleep(3.5)  # the header deadline is 2 s in this server
        for sock in idle:
            sock.settimeout(2)
            assert sock.recv(1) == b"", "the server closed the connection"
    finally:
        for sock in idle:
            sock.close()


def test_serve_on_a_port_in_use_says_so_without_claiming_to_serve(catalog_path: Path) -> None:
    port = free_port()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        result = subprocess.run(
            [sys.executable, "-m", "platemark", "serve", "--catalog", str(catalog_path), "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert "already in use" in result.stderr and "serving" not in result.stderr
    assert "Traceback" not in result.stderr


def test_busy_worker_refuses_a_search_before_reading_its_upload(catalog_path: Path, camera_photo: bytes) -> None:
    settings = {
        "PLATEMARK_SEARCHES_PER_WORKER": "1",
        "PLATEMARK_SEARCH_QUEUE": "0",
        "PLATEMARK_SEARCHES_PER_MINUTE": "0",
        "PLATEMARK_BODY_TIMEOUT_SECONDS": "1",  # a probe let in while the worker was idle gets 408 soon
    }
    with running_server(["--catalog", str(catalog_path)], workers=1, env=settings) as busy:
        stop = time.monotonic() + 30

        def keep_searching() -> None:
            while time.monotonic() < stop:
                httpx.post(busy.url + "api/search", files={"image": ("p.jpg", camera_photo)}, timeout=60)

        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(1) as pool:
            pool.submit(keep_searching)
            answer = b""
            while time.monotonic() < stop and not answer.startswith(b"HTTP/1.1 503"):
                with socket.create_connection(("127.0.0.1", busy.port), timeout=10) as sock:
                    sock.sendall(  # the headers of a 5 MB upload, and none of its body
                        b"POST /api/search HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5000000\r\n"
                        b"Content-Type: multipart/form-data; boundary=x\r\n\r\n"
                    )
                    started = time.monotonic()
                    answer = sock.recv(4096)
                    answered_in = time.monotonic() - started
            stop = 0.0
        assert answer.startswith(b"HTTP/1.1 503"), answer[:200]
        assert b"retry-after:" in answer.lower() and answered_in < 2.0
