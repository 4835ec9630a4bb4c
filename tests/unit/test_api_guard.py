"""The admin API's request guard at the ASGI level (no sockets): token before body, body size
and time limits, slots only for authenticated requests; and the disconnect job registry."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from radiusd.api.guard import RequestGuard, bearer_token
from radiusd.api.jobs import Jobs, TooManyJobs
from radiusd.api.tokens import Principal

GOOD = "rad_good"


async def check(token: str) -> Principal | None:
    return Principal(1, "admin", False) if token == GOOD else None


class App:
    def __init__(self) -> None:
        self.calls: list[bytes] = []
        self.release = asyncio.Event()
        self.release.set()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        message = await receive()
        self.calls.append(message["body"])
        await self.release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def scope(path: str = "/x", token: str | None = None, **headers: str) -> dict[str, Any]:
    raw = [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()]
    if token is not None:
        raw.append((b"authorization", f"Bearer {token}".encode()))
    return {"type": "http", "path": path, "method": "POST", "headers": raw}


class Exchange:
    def __init__(self, chunks: list[bytes], delay: float = 0.0) -> None:
        self.chunks = chunks
        self.delay = delay
        self.reads = 0
        self.sent: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        self.reads += 1
        if not self.chunks:
            await asyncio.sleep(3600)
        await asyncio.sleep(self.delay)
        chunk = self.chunks.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(self.chunks)}

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)

    @property
    def status(self) -> int:
        return int(self.sent[0]["status"])

    @property
    def headers(self) -> dict[bytes, bytes]:
        return dict(self.sent[0]["headers"])

    @property
    def detail(self) -> str:
        return str(json.loads(self.sent[1]["body"])["detail"])


def guard(app: App, **kw: Any) -> RequestGuard:
    return RequestGuard(app, check=check, public=lambda p: p == "/docs", **kw)


def test_bearer_token_parsing() -> None:
    assert bearer_token([(b"authorization", b"Bearer abc")]) == "abc"
    assert bearer_token([(b"Authorization", b"bearer  abc ")]) == "abc"
    assert bearer_token([(b"authorization", b"Basic abc")]) is None
    assert bearer_token([(b"authorization", b"Bearer " + b"x" * 257)]) is None
    assert bearer_token([(b"authorization", b"Bearer")]) is None
    assert bearer_token([]) is None


async def test_no_token_is_refused_without_reading_the_body() -> None:
    app = App()
    ex = Exchange([b"x" * 100])
    await guard(app)(scope(content_length="20000000"), ex.receive, ex.send)
    assert ex.status == 401 and ex.reads == 0 and not app.calls
    assert ex.headers[b"connection"] == b"close" and ex.headers[b"www-authenticate"] == b"Bearer"
    ex = Exchange([b""])
    await guard(app)(scope(token="rad_wrong"), ex.receive, ex.send)
    assert ex.status == 401 and b"connection" not in ex.headers  # no body: keep-alive is fine


async def test_public_paths_need_no_token() -> None:
    app = App()
    ex = Exchange([b""])
    await guard(app)(scope("/docs"), ex.receive, ex.send)
    assert ex.status == 200 and app.calls == [b""]


async def test_body_limits() -> None:
    app = App()
    ex = Exchange([b"x"])
    await guard(app, max_body=10)(scope(token=GOOD, content_length="11"), ex.receive, ex.send)
    assert ex.status == 413 and ex.reads == 0
    ex = Exchange([b"x" * 6, b"x" * 6])  # chunked: found out while reading
    await guard(app, max_body=10)(scope(token=GOOD), ex.receive, ex.send)
    assert ex.status == 413 and "larger than 10 bytes" in ex.detail
    ex = Exchange([b"x"])
    await guard(app)(scope(token=GOOD, content_length="1x"), ex.receive, ex.send)
    assert ex.status == 400
    ex = Exchange([b"ab", b"cd"], delay=0.2)
    await guard(app, body_timeout=0.3)(scope(token=GOOD, content_length="4"), ex.receive, ex.send)
    assert ex.status == 408 and not app.calls
    ex = Exchange([b"ab", b"cd"])
    await guard(app)(scope(token=GOOD, content_length="4"), ex.receive, ex.send)
    assert ex.status == 200 and app.calls == [b"abcd"]  # the body reaches the app whole


async def test_slots_are_taken_only_after_the_token_and_the_body() -> None:
    app = App()
    app.release.clear()
    g = guard(app, concurrency=1)
    busy = Exchange([b""])
    first = asyncio.create_task(g(scope(token=GOOD), busy.receive, busy.send))
    await asyncio.sleep(0.01)
    assert app.calls == [b""]  # holds the only slot
    ex = Exchange([b""])
    await asyncio.wait_for(g(scope(), ex.receive, ex.send), 1.0)  # refused without a slot
    assert ex.status == 401
    slow = Exchange([b"a", b"b"], delay=0.5)
    reading = asyncio.create_task(g(scope(token=GOOD), slow.receive, slow.send))
    await asyncio.sleep(0.05)
    app.release.set()
    await asyncio.wait_for(first, 1.0)
    await asyncio.wait_for(reading, 2.0)
    assert busy.status == 200 and slow.status == 200 and app.calls == [b"", b"ab"]


async def test_public_paths_have_slots_of_their_own() -> None:
    """The web console (a public path for the guard: it checks its own cookie) cannot take
    the slots of token-bearing API clients, nor they its."""

    class PathApp(App):
        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            if scope["path"] == "/docs":
                await super().__call__(scope, receive, send)
                return
            await receive()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})

    app = PathApp()
    app.release.clear()
    g = guard(app, concurrency=1)
    held = Exchange([b""])
    console = asyncio.create_task(g(scope("/docs"), held.receive, held.send))  # holds the public slot
    await asyncio.sleep(0.01)
    ex = Exchange([b""])
    await asyncio.wait_for(g(scope(token=GOOD), ex.receive, ex.send), 1.0)
    assert ex.status == 200 and not console.done()
    app.release.set()
    await asyncio.wait_for(console, 1.0)
    assert held.status == 200


async def test_jobs_wait_keep_and_bound() -> None:
    jobs = Jobs(keep=2)
    gate = asyncio.Event()

    async def work(n: int) -> dict[str, Any]:
        await gate.wait()
        return {"n": n}

    a = jobs.start(work(1), "s1")
    assert not await a.wait(0.05) and a.pending_json()["result_url"] == f"/radius/disconnects/{a.id}"
    b = jobs.start(work(2), "s2")
    with pytest.raises(TooManyJobs):
        jobs.start(work(3), "s3")
    gate.set()
    assert await a.wait(1.0) and a.task.result() == {"n": 1}
    await b.wait(1.0)
    c = jobs.start(work(4), "s4")  # the oldest finished job makes room
    assert jobs.get(a.id) is None and jobs.get(b.id) is b and jobs.get(c.id) is c
    await c.wait(1.0)

    async def boom() -> dict[str, Any]:
        raise ConnectionError("database away")

    d = jobs.start(boom(), "s5")
    await d.wait(1.0)
    with pytest.raises(ConnectionError):
        d.task.result()
