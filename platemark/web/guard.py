"""What keeps a public server standing: request limits, security headers, and the cross-site check.

These are plain ASGI middlewares (and one uvicorn protocol), so they hold for every route,
including routes added later.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

from uvicorn.protocols.http.h11_impl import H11Protocol

from platemark.settings import Settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: The page is written in this project and loads nothing from elsewhere, so it can be strict.
#: Photos are previewed from blob: URLs; the favicon is a data: URL. Images may also come from
#: the IIIF image servers of harvested records (deep zoom), and from no other site.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' blob: data:{image_origins}; script-src 'self'; style-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
#: FastAPI's interactive docs load Swagger UI / ReDoc from a CDN with inline scripts.
DOCS_PATHS = ("/docs", "/redoc")
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
)


@functools.lru_cache(maxsize=8)
def page_headers(image_origins: tuple[str, ...] = ()) -> tuple[tuple[bytes, bytes], ...]:
    """Security headers of the page and API answers, the policy naming `image_origins`."""
    policy = CONTENT_SECURITY_POLICY.format(image_origins="".join(f" {o}" for o in image_origins))
    return (*SECURITY_HEADERS, (b"content-security-policy", policy.encode()))


async def send_json(send: Send, status: int, detail: str, headers: list[tuple[bytes, bytes]] = ()) -> None:
    """Answer with {"detail": ...} and close the connection (the rest of the body is not read)."""
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RequestLimits:
    """Caps a request body by the bytes actually received (chunked uploads too) and the pauses in it.

    A request over `max_bytes` (plus `overhead` for the form around the photo) gets 413 as soon
    as the excess arrives, one that stalls for `body_timeout` seconds gets 408: neither is
    spooled to disk or memory first.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int, overhead: int, body_timeout: float) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.allowed = max_bytes + overhead
        self.body_timeout = body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit_mb = f"{self.max_bytes / 1e6:g} MB"
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.allowed:
            await send_json(send, 413, f"the upload is larger than the limit of {limit_mb}")
            return
        received = 0
        refusal: tuple[int, str] | None = None
        answered = False

        async def limited_receive() -> Message:
            nonlocal received, refusal
            try:
                message = await asyncio.wait_for(receive(), self.body_timeout)
            except TimeoutError:
                refusal = (408, f"the upload stalled for more than {self.body_timeout:g} s")
                raise RequestRefused from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.allowed:
                    refusal = (413, f"the upload is larger than the limit of {limit_mb}")
                    raise RequestRefused
            return message

        async def guarded_send(message: Message) -> None:
            # The app may turn our exception into its own error answer; ours replaces it.
            nonlocal answered
            if refusal is None:
                await send(message)
            elif not answered:
                answered = True
                await send_json(send, *refusal)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except RequestRefused:
            if not answered and refusal is not None:
                answered = True
                await send_json(send, *refusal)


class RequestRefused(Exception):
    """Raised inside `receive` when a request body breaks a limit; RequestLimits answers it."""


class SecurityHeaders:
    """Adds the security headers to every answer and refuses cross-site state changes (CSRF).

    A POST whose Origin (or Sec-Fetch-Site) says it comes from another site's page is refused
    with 403, unless that origin is in `allowed_origins` (the CORS setting).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        allowed_origins: tuple[str, ...] = (),
        image_origins: Callable[[], tuple[str, ...]] = tuple,
    ) -> None:
        self.app = app
        self.allowed_origins = frozenset(o.rstrip("/") for o in allowed_origins)
        self.image_origins = image_origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        if scope["method"] in UNSAFE_METHODS and not self._same_site(headers):
            await send_json(send, 403, "cross-site requests are refused (the request came from another site's page)")
            return
        path = scope["path"].removeprefix(scope.get("root_path", ""))
        extra = SECURITY_HEADERS if path.startswith(DOCS_PATHS) else page_headers(self.image_origins())

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _same_site(self, headers: dict[bytes, bytes]) -> bool:
        origin = headers.get(b"origin", b"").decode("latin-1").rstrip("/")
        if not origin:  # not sent by a browser's cross-site request; curl and other API clients
            return headers.get(b"sec-fetch-site", b"") != b"cross-site"
        if origin in self.allowed_origins:
            return True
        host = headers.get(b"x-forwarded-host", headers.get(b"host", b"")).decode("latin-1").split(",")[0].strip()
        parts = urlsplit(origin)
        if origin == "null" or not parts.hostname or not host:
            return False
        if ":" in host.rsplit("]", 1)[-1]:  # the Host names a port: the origin must name the same
            return parts.netloc.lower() == host.lower()
        return (parts.hostname or "").lower() == host.lower().strip("[]")


class GuardedH11Protocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol with a deadline for each request's headers.

    uvicorn closes idle keep-alive connections, but a connection that opens and sends nothing
    (or a header a byte at a time) would stay open forever; thousands exhaust the worker's file
    descriptors. Such connections are closed after PLATEMARK_HEADER_TIMEOUT_SECONDS.
    """

    def connection_made(self, transport: Any) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_deadline()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm_header_deadline()

    def _arm_header_deadline(self) -> None:
        waiting_after = self.cycle
        self.loop.call_later(_header_timeout(), self._header_deadline, waiting_after)

    def _header_deadline(self, waiting_after: object) -> None:
        """Close the connection if no request began since the deadline was armed."""
        idle = self.cycle is None or self.cycle.response_complete
        if self.cycle is waiting_after and idle and not self.transport.is_closing():
            self.transport.close()


@functools.cache
def _header_timeout() -> float:
    return Settings().header_timeout_seconds
