"""A polite HTTP client for harvesting: few connections per host, spaced requests, bounded retries.

Museums' servers are shared and often small. Every request a harvest makes goes through one
Fetcher, which keeps to `Politeness`: at most `per_host` requests in flight to one host, starts
spaced `delay` seconds apart, a timeout, retries with exponential backoff on 429 and 5xx (waiting
as long as `Retry-After` asks, up to a cap), a byte cap read while streaming, a bounded number
of redirects, and a User-Agent that names platemark, so an administrator knows who is calling.
"""

from __future__ import annotations

import email.utils
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from platemark.errors import FetchFailed

USER_AGENT = f"platemark/{version('platemark')} (reverse image search for print rooms; harvester)"

#: Statuses worth retrying: the server is busy or briefly broken, not refusing.
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})

#: After this many requests in a row to one host found no server (after their retries), the
#: host counts as unreachable and its remaining requests fail at once: a harvest of 20,000
#: records from a host that is down takes seconds to report, not days.
UNREACHABLE_AFTER = 5


@dataclass(frozen=True)
class Politeness:
    """How hard a harvest may press on one server."""

    per_host: int = 2  # requests in flight to one host
    delay: float = 0.5  # seconds between the starts of two requests to one host
    timeout: float = 30.0  # seconds to connect, and between two reads
    retries: int = 4  # further attempts after a 429, a 5xx or a dropped connection
    backoff: float = 1.0  # first wait before a retry; doubles each time
    max_wait: float = 120.0  # longest wait a Retry-After may impose; a longer one fails the request
    max_bytes: int = 100_000_000  # largest body read
    max_redirects: int = 5

    @classmethod
    def off(cls) -> Politeness:
        """For one's own server: many connections, no spacing (still bounded retries and sizes)."""
        return cls(per_host=16, delay=0.0, backoff=0.1)


@dataclass(frozen=True)
class Fetched:
    """A response body (empty when `not_modified`) with the validators for a later conditional GET."""

    url: str  # after redirects
    content: bytes
    content_type: str
    etag: str | None
    last_modified: str | None
    not_modified: bool = False


class _HostGate:
    """Admits requests to one host: `per_host` at a time, starts `delay` seconds apart."""

    def __init__(self, politeness: Politeness) -> None:
        self.slots = threading.BoundedSemaphore(politeness.per_host)
        self.delay = politeness.delay
        self.lock = threading.Lock()
        self.next_start = 0.0
        #: Requests in a row that reached no server.
        self.unreachable = 0

    @contextmanager
    def turn(self) -> Iterator[None]:
        with self.slots:
            with self.lock:
                wait = self.next_start - time.monotonic()
                self.next_start = max(self.next_start, time.monotonic()) + self.delay
            if wait > 0:
                time.sleep(wait)
            yield


class Fetcher:
    """Fetches URLs (and reads local files given as sources) within a Politeness.

    Thread-safe: a harvest shares one Fetcher between its download threads.

    Example:
        >>> with Fetcher() as fetcher:
        ...     manifest = fetcher.json("https://example.org/iiif/1/manifest.json")
    """

    def __init__(self, politeness: Politeness | None = None) -> None:
        self.politeness = politeness or Politeness()
        self.client = httpx.Client(
            headers={"User-Agent": USER_AGENT},
            timeout=self.politeness.timeout,
            follow_redirects=True,
            max_redirects=self.politeness.max_redirects,
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=16),
        )
        self._gates: dict[str, _HostGate] = {}
        self._gates_lock = threading.Lock()
        #: Requests sent, retries included: what the politeness options are measured by.
        self.requests = 0

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.close()

    def get(
        self, url: str, *, accept: tuple[str, ...] = (), etag: str | None = None, last_modified: str | None = None
    ) -> Fetched:
        """GET a URL, politely; with `etag`/`last_modified`, a 304 comes back as `not_modified`.

        Args:
            accept: content-type prefixes the body must have (e.g. ("image/",)); empty accepts any.

        Raises:
            FetchFailed: not http(s), 4xx, 5xx or timeouts after the retries, too many redirects,
                a body over the byte cap or cut short, or an unexpected content type.
        """
        if urlsplit(url).scheme not in ("http", "https"):
            raise FetchFailed(f"{url}: not an http(s) URL")
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        if accept:
            headers["Accept"] = ", ".join(f"{a}*" if a.endswith("/") else a for a in accept) + ", */*;q=0.1"
        gate = self._gate(url)
        attempt = 0
        while True:
            if gate.unreachable >= UNREACHABLE_AFTER:
                raise FetchFailed(
                    f"{url}: skipped, the last {gate.unreachable} requests to this host reached no server"
                )
            try:
                fetched = self._get_once(gate, url, headers, accept)
                gate.unreachable = 0
                return fetched
            except _Retry as retry:
                attempt += 1
                wait = max(retry.after or 0.0, self.politeness.backoff * 2 ** (attempt - 1))
                if attempt > self.politeness.retries or wait > self.politeness.max_wait:
                    if retry.no_server:
                        gate.unreachable += 1
                    if attempt > self.politeness.retries:
                        raise FetchFailed(f"{url}: {retry.reason} (gave up after {attempt} attempts)") from None
                    raise FetchFailed(f"{url}: {retry.reason}; the server asks to wait {wait:.0f} s") from None
                time.sleep(wait)

    def _get_once(self, gate: _HostGate, url: str, headers: dict[str, str], accept: tuple[str, ...]) -> Fetched:
        with gate.turn():
            with self._gates_lock:
                self.requests += 1
            try:
                with self.client.stream("GET", url, headers=headers) as response:
                    return self._read(url, response, accept)
            except httpx.TooManyRedirects:
                raise FetchFailed(f"{url}: more than {self.politeness.max_redirects} redirects") from None
            except httpx.UnsupportedProtocol as exc:  # e.g. redirected to file:// or ftp://
                raise FetchFailed(f"{url}: {exc}") from None
            except httpx.ConnectTimeout:
                raise _Retry(f"no connection within {self.politeness.timeout:g} s", no_server=True) from None
            except httpx.TimeoutException:
                raise _Retry(f"no answer within {self.politeness.timeout:g} s") from None
            except httpx.ConnectError as exc:  # unknown host, refused
                raise _Retry(f"cannot connect ({exc})", no_server=True) from None
            except httpx.TransportError as exc:  # reset, body cut short
                raise _Retry(f"connection failed ({type(exc).__name__}: {exc})") from None

    def _read(self, url: str, response: httpx.Response, accept: tuple[str, ...]) -> Fetched:
        if response.status_code in RETRY_STATUSES:
            raise _Retry(f"HTTP {response.status_code}", _retry_after(response.headers.get("Retry-After")))
        if response.status_code == 304:
            return Fetched(str(response.url), b"", "", *_validators(response), not_modified=True)
        if response.status_code >= 400:
            raise FetchFailed(f"{url}: HTTP {response.status_code} {response.reason_phrase}")
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if accept and not content_type.startswith(accept):
            raise FetchFailed(f"{url}: expected {' or '.join(accept)}, got {content_type or 'no content type'}")
        limit = self.politeness.max_bytes
        if int(response.headers.get("Content-Length") or 0) > limit:
            raise FetchFailed(f"{url}: larger than {limit / 1e6:g} MB")
        body = bytearray()
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) > limit:
                raise FetchFailed(f"{url}: larger than {limit / 1e6:g} MB")
        return Fetched(str(response.url), bytes(body), content_type, *_validators(response))

    def _gate(self, url: str) -> _HostGate:
        host = urlsplit(url).netloc.lower()
        with self._gates_lock:
            return self._gates.setdefault(host, _HostGate(self.politeness))

    def read_bytes(self, location: str, *, local: bool = False) -> bytes:
        """The bytes of a URL, or with `local`, of a local file too.

        Only a location the user names may be a local file: a link found in a remote document
        (a collection listing "/home/…/secrets.json") is fetched over http(s) or refused.

        Raises:
            FetchFailed: as `get`, or the file cannot be read.
        """
        if urlsplit(location).scheme in ("http", "https") or not local:
            return self.get(location).content
        try:
            return Path(location).read_bytes()
        except OSError as exc:
            raise FetchFailed(f"{location}: cannot read file ({exc.strerror or exc})") from exc

    def json(self, location: str, *, local: bool = False) -> Any:
        """A JSON document from a URL (or, with `local`, a local file).

        Raises:
            FetchFailed: as `read_bytes`, or the body is not JSON.
        """
        try:
            return json.loads(self.read_bytes(location, local=local))
        except (ValueError, RecursionError) as exc:
            raise FetchFailed(f"{location}: not JSON ({exc})") from None


class _Retry(Exception):
    """A failure worth another attempt, after at least `after` seconds if the server said so."""

    def __init__(self, reason: str, after: float | None = None, *, no_server: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.after = after
        self.no_server = no_server  # nothing answered at all (unknown host, refused, no connection)


def _retry_after(value: str | None) -> float | None:
    """Seconds a Retry-After header asks for (delta-seconds or an HTTP date)."""
    if not value:
        return None
    if value.strip().isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _validators(response: httpx.Response) -> tuple[str | None, str | None]:
    return response.headers.get("ETag"), response.headers.get("Last-Modified")
