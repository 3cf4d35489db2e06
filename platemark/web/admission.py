"""Admission of searches: a per-client rate, and a short queue in front of the search slots.

A search costs a core for a fraction of a second; browsing and health checks cost almost
nothing. Searches therefore run on their own threads, a few at a time, behind a short queue:
when the queue is full, or a search has waited too long, it is refused at once with 503 and
Retry-After instead of waiting for half a minute, and everything else keeps answering.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

import anyio.to_thread
from anyio import CapacityLimiter

from platemark.errors import Overloaded, RateLimited
from platemark.web.guard import ASGIApp, Receive, Scope, Send, send_json

T = TypeVar("T")


class SearchAdmission:
    """Runs at most `running` searches at once in this worker; at most `queued` more may wait.

    Must be made inside the server's event loop (in the app's lifespan).
    """

    def __init__(self, *, running: int, queued: int, wait_seconds: float) -> None:
        self.running = running
        self.queued = queued
        self.wait_seconds = wait_seconds
        self._slots = asyncio.Semaphore(running)
        self._threads = CapacityLimiter(running)
        self._waiting = 0
        self._seconds_per_search = 0.5  # a running estimate, for Retry-After

    async def run(self, work: Callable[[], T]) -> T:
        """Run `work` on a search thread once a slot is free.

        Raises:
            Overloaded: the queue is full, or no slot came free within `wait_seconds`.
        """
        async with self._slot():
            started = time.monotonic()
            try:
                return await anyio.to_thread.run_sync(work, limiter=self._threads)
            finally:
                self._seconds_per_search = 0.8 * self._seconds_per_search + 0.2 * (time.monotonic() - started)

    def check(self) -> None:
        """Raise Overloaded if a search arriving now would be refused (no slot, and the queue full)."""
        if self._slots.locked() and self._waiting >= self.queued:
            raise self._overloaded()

    @asynccontextmanager
    async def _slot(self) -> AsyncIterator[None]:
        self.check()
        self._waiting += 1
        try:
            await asyncio.wait_for(self._slots.acquire(), self.wait_seconds)
        except TimeoutError:
            raise self._overloaded() from None
        finally:
            self._waiting -= 1
        try:
            yield
        finally:
            self._slots.release()

    def _overloaded(self) -> Overloaded:
        return Overloaded("the server is busy with other searches; try again shortly", self._retry_after())

    def _retry_after(self) -> int:
        """Seconds until the searches ahead should be done."""
        ahead = (self._waiting + self.running) / self.running
        return max(1, math.ceil(ahead * self._seconds_per_search))


class RateLimiter:
    """A token bucket per client address: `burst` searches at once, then `per_minute`.

    Kept in this worker's memory (no client address is written anywhere); with N workers a
    client may get up to N times the rate. Idle clients are forgotten beyond `max_clients`.
    """

    def __init__(self, *, per_minute: float, burst: int, max_clients: int = 100_000) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # client -> (tokens, when)

    def take(self, client: str, now: float | None = None) -> None:
        """Spend one search of `client`'s allowance.

        Raises:
            RateLimited: the client has none left; `retry_after` says when it has one.
        """
        if self.rate <= 0:
            return
        now = time.monotonic() if now is None else now
        tokens, then = self._buckets.pop(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - then) * self.rate)
        if tokens < 1.0:
            self._buckets[client] = (tokens, now)
            wait = math.ceil((1.0 - tokens) / self.rate)
            raise RateLimited(f"too many searches from your address; try again in {wait} s", wait)
        self._buckets[client] = (tokens - 1.0, now)
        while len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)  # the least recently seen


class ShedBeforeReading:
    """Refuses a search with 429 or 503 before its upload is read, when it would be refused anyway.

    Receiving and parsing a photo costs a worker more than refusing it: under a flood, uploads
    that are read only to be refused would take the CPU the admitted searches need. The rate
    limiter's allowance is spent here, once per search request.
    """

    def __init__(self, app: ASGIApp, *, path: str = "/api/search") -> None:
        self.app = app
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and self._is_search(scope):
            state = scope["app"].state
            client = scope.get("client") or ("", 0)
            try:
                state.rate_limiter.take(client[0])
                state.admission.check()
            except Overloaded as exc:
                status = 429 if isinstance(exc, RateLimited) else 503
                await send_json(send, status, str(exc), [(b"retry-after", str(exc.retry_after).encode())])
                return
        await self.app(scope, receive, send)

    def _is_search(self, scope: Scope) -> bool:
        return scope["path"].removeprefix(scope.get("root_path", "")) == self.path
