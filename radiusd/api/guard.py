"""What stands in front of the admin API's routes: the token, then a bounded body, then a slot.

:class:`RequestGuard` (ASGI middleware) checks the bearer token from the headers alone, before
one byte of the body is read: a request without a valid token is answered 401 at once and its
connection closed, whatever body it announced. A token-bearing request then has its body read
whole, up to ``max_body`` bytes (413 beyond, also when ``Content-Length`` says so up front) and
within ``body_timeout`` seconds (408): only then does it take one of the ``concurrency`` slots
in which routes run, so neither an unauthenticated client nor a slow one can hold a slot.

:class:`GuardedH11Protocol` is uvicorn's HTTP/1.1 protocol with a deadline on request headers:
a connection that has not sent a complete request head ``header_timeout`` seconds after it
opened (or after its previous response) is closed (slowloris).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import h11
from sqlalchemy.exc import DBAPIError
from uvicorn.protocols.http.h11_impl import H11Protocol

from radiusd.logs import get_logger

from .tokens import Principal

log = get_logger("radiusd.api")

#: how long a token lookup may take before the request is answered 503
TOKEN_CHECK_TIMEOUT = 10.0
MAX_TOKEN_LENGTH = 256

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Check = Callable[[str], Awaitable[Principal | None]]


class _TooLarge(Exception):
    pass


class _Disconnected(Exception):
    pass


def bearer_token(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The token of an ``Authorization: Bearer TOKEN`` header, or None."""
    for name, value in headers:
        if name.lower() == b"authorization":
            scheme, _, token = value.decode("latin-1").strip().partition(" ")
            token = token.strip()
            if scheme.lower() == "bearer" and 0 < len(token) <= MAX_TOKEN_LENGTH:
                return token
            return None
    return None


def _header(headers: list[tuple[bytes, bytes]], wanted: bytes) -> bytes | None:
    for name, value in headers:
        if name.lower() == wanted:
            return value
    return None


async def respond(
    send: Send, status: int, detail: str, *, close: bool = False, headers: dict[str, str] | None = None
) -> None:
    """A JSON ``{"detail": ...}`` response; ``close`` ends the connection (unread body)."""
    body = json.dumps({"detail": detail}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    if close:
        raw.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class RequestGuard:
    """ASGI middleware: token, body limits and the concurrency slots (see the module docstring).

    ``public(path)`` says which paths need no token (the documentation, when so configured).
    """

    def __init__(
        self,
        app: Any,
        *,
        check: Check,
        public: Callable[[str], bool],
        max_body: int = 1024 * 1024,
        body_timeout: float = 30.0,
        concurrency: int = 4,
    ) -> None:
        self.app = app
        self.check = check
        self.public = public
        self.max_body = max_body
        self.body_timeout = body_timeout
        self.slots = asyncio.Semaphore(concurrency)
        #: slots of the paths that need no token (the web console, public docs): a flood of
        #: console logins (each a bcrypt check) cannot take the API clients' slots
        self.public_slots = asyncio.Semaphore(concurrency)
        #: token lookups in the database at once (a flood of made-up tokens queues here)
        self.lookups = asyncio.Semaphore(concurrency)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
        has_body = _header(headers, b"content-length") not in (None, b"0") or (
            _header(headers, b"transfer-encoding") is not None
        )
        public = self.public(scope["path"])
        if not public and not await self._authenticated(headers, send, has_body):
            return
        length = _header(headers, b"content-length")
        if length is not None:
            if not length.strip().isdigit() or len(length) > 20:
                await respond(send, 400, "invalid Content-Length", close=True)
                return
            if int(length) > self.max_body:
                await respond(send, 413, f"the request body is larger than {self.max_body} bytes", close=True)
                return
        try:
            async with asyncio.timeout(self.body_timeout):
                body = await self._read_body(receive)
        except _TooLarge:
            await respond(send, 413, f"the request body is larger than {self.max_body} bytes", close=True)
            return
        except TimeoutError:
            await respond(send, 408, f"the request body took longer than {self.body_timeout:g} s", close=True)
            return
        except _Disconnected:
            return
        async with self.public_slots if public else self.slots:
            await self.app(scope, _replay(body, receive), send)

    async def _authenticated(self, headers: list[tuple[bytes, bytes]], send: Send, has_body: bool) -> bool:
        token = bearer_token(headers)
        found = None
        if token is not None:
            try:
                async with self.lookups, asyncio.timeout(TOKEN_CHECK_TIMEOUT):
                    found = await self.check(token)
            except (TimeoutError, OSError, ConnectionError, DBAPIError) as exc:
                return await self._unavailable(send, exc, has_body)
        if found is None:
            await respond(
                send, 401, "a valid bearer token is required", close=has_body,
                headers={"WWW-Authenticate": "Bearer"},
            )  # fmt: skip
            return False
        return True

    @staticmethod
    async def _unavailable(send: Send, exc: BaseException, has_body: bool) -> bool:
        log.warning("api.token-check-failed", error=type(exc).__name__)
        await respond(
            send, 503, "the database is unavailable; RADIUS goes on from memory", close=has_body,
            headers={"Retry-After": "5"},
        )  # fmt: skip
        return False

    async def _read_body(self, receive: Receive) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Disconnected
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise _TooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives the already-read body once, then waits on the real one."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, closing connections whose request head is not complete in time
    (``header_timeout`` seconds; a subclass with another value: :func:`guarded_protocol`)."""

    header_timeout: float = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        before = self.cycle
        super().data_received(data)
        if self.cycle is not before:
            self._disarm()  # a request head arrived
        elif self._waiting_for_head():
            self._arm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self._waiting_for_head():
            self._arm()

    def _waiting_for_head(self) -> bool:
        return (self.cycle is None or self.cycle.response_complete) and self.conn.their_state is h11.IDLE

    def _arm(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.header_timeout, self._expired, self.cycle)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _expired(self, cycle: Any) -> None:
        self._head_timer = None
        if self.cycle is cycle and not self.transport.is_closing():
            self.transport.close()


def guarded_protocol(header_timeout: float) -> type[GuardedH11Protocol]:
    """A :class:`GuardedH11Protocol` subclass with ``header_timeout`` seconds for request heads."""
    return type("GuardedH11Protocol", (GuardedH11Protocol,), {"header_timeout": header_timeout})
