"""Two IPAM nodes on one PostgreSQL database, in one process: the database decides who holds
an item. Each node has its own engine, writer and memory; the second node's memory is left
stale on purpose (nothing tells it what the first wrote), which is the race two daemons run
into between a commit and its announcement. Every write must then lose cleanly: the claim is
retried with another item, an expiry or a conflicting NAS report changes nothing stored.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ipam import LeaseState
from radiusd.config import Settings
from radiusd.model.events import AcctEvent, StatusType
from radiusd.policy.ipam_service import IpamService
from radiusd.store.engine import create_engine, ensure_schema
from radiusd.store.pools import add_pool
from radiusd.store.writer import Writer
from tests.conftest import _migrated_pg_url
from tests.ipam_assign import assign
from tests.ipam_db_model import FakeNas, FakeRequest, subscriber

pytestmark = pytest.mark.postgres


@pytest.fixture
def url(request: pytest.FixtureRequest) -> str:
    """A copy of the session's PostgreSQL database at head (several nodes need PostgreSQL)."""
    return _migrated_pg_url(request)


class Node:
    def __init__(self, engine: AsyncEngine, offset: float = 0.0, **settings: Any) -> None:
        self.offset = offset
        self.writer = Writer(engine, retry_pause=0.05)
        conf = Settings(offer_ttl=30, sticky_ttl=0, **settings)
        self.svc = IpamService(engine, self.writer, conf, clock=lambda: time.time() + self.offset)

    async def start(self) -> None:
        self.writer.start()
        await self.svc.load()

    async def login(self, user: str) -> Any:
        return await assign(self.svc, FakeRequest(FakeNas()), subscriber(user), None, "p")

    async def hook(self, ops: list[Any]) -> None:
        await asyncio.gather(*(self.writer.submit(op) for op in ops))


@pytest.fixture
async def nodes(url: str) -> AsyncIterator[tuple[AsyncEngine, list[Node]]]:
    engine = create_engine(url)
    await ensure_schema(engine)
    await add_pool(engine, "p", ranges=["10.9.0.0/29"], exclude=["10.9.0.4"])  # .1-.3, .5, .6: 5
    made: list[Node] = []
    try:
        yield engine, made
    finally:
        for node in made:
            await node.writer.close()
        await engine.dispose()


async def stored(engine: AsyncEngine) -> dict[str, tuple[str, str | None]]:
    async with engine.connect() as conn:
        rows = await conn.execute(sa.text("SELECT address, state, owner FROM ipv4_ips"))
        return {r.address: (r.state, r.owner) for r in rows}


def address(out: Any) -> str:
    (attr,) = [value for code, value in out.attributes if code == 8]
    return ".".join(str(b) for b in attr)


async def two_nodes(engine: AsyncEngine, made: list[Node], **kw: Any) -> tuple[Node, Node]:
    a, b = Node(engine), Node(engine, **kw)
    made += [a, b]
    await a.start()
    await b.start()  # loaded before A writes anything: B's memory is stale from here on
    return a, b


async def test_a_stale_node_claims_another_address(nodes: tuple[AsyncEngine, list[Node]]) -> None:
    engine, made = nodes
    a, b = await two_nodes(engine, made)
    alice = address(await a.login("alice"))
    out = await b.login("bob")  # B's memory offers alice's address first, and loses
    bob = address(out)
    assert alice != bob
    assert b.svc.claims_lost == 1
    # the trace says each round once: the lost offer, the loss, the second offer
    offers = [n.split(" from pool")[0] for n in out.notes if "from pool" in n]
    assert offers == [f"ipv4 {alice}", f"ipv4 {bob}"]
    assert sum("held by another node" in n for n in out.notes) == 1
    assert await stored(engine) == {alice: ("offered", "alice"), bob: ("offered", "bob")}
    # B learnt the stored row: alice's address is no longer free in its memory
    held = b.svc.alloc.lookup(alice)
    assert held is not None and held.owner == "alice" and held.state is LeaseState.OFFERED


async def test_exhausted_after_losing_every_candidate_is_a_reject(
    nodes: tuple[AsyncEngine, list[Node]],
) -> None:
    engine, made = nodes
    a, b = await two_nodes(engine, made)
    users = [f"u{i}" for i in range(5)]
    taken = {address(await a.login(u)) for u in users}  # the whole pool, through A
    assert len(taken) == 5
    out = await b.login("late")
    assert out.reject_reason and "exhausted" in out.reject_reason
    assert not out.attributes
    assert b.svc.claims_lost == 5
    rows = await stored(engine)
    assert sorted(str(owner) for _, owner in rows.values()) == users


async def test_concurrent_logins_on_two_nodes_never_share_an_address(
    nodes: tuple[AsyncEngine, list[Node]],
) -> None:
    engine, made = nodes
    a, b = await two_nodes(engine, made)
    users = [f"s{i}" for i in range(12)]  # more subscribers than the pool's five addresses
    outs = await asyncio.gather(*((a if i % 2 else b).login(u) for i, u in enumerate(users)))
    given = {u: address(o) for u, o in zip(users, outs, strict=True) if not o.reject_reason}
    assert len(given) == 5 and len(set(given.values())) == 5
    rows = await stored(engine)
    assert {addr: owner for addr, (_, owner) in rows.items()} == {v: k for k, v in given.items()}


async def test_an_expiry_by_a_node_behind_does_not_end_a_renewed_lease(
    nodes: tuple[AsyncEngine, list[Node]],
) -> None:
    engine, made = nodes
    a = Node(engine)
    b = Node(engine, offset=3600.0)  # a clock an hour ahead: B thinks every lease is long over
    made += [a, b]
    await a.start()
    ip = address(await a.login("alice"))
    when = dt.datetime.now(dt.UTC)
    start = AcctEvent(StatusType.START, "192.0.2.1", None, when, unique_id="s1", username="alice",
                      framed_ip=ip)  # fmt: skip
    await a.hook(a.svc.on_start(start))
    await b.start()  # B reads alice's lease, due in ~10 minutes by the real clock
    assert await b.svc.sweep_once() == 1  # B's memory expires it ...
    assert (await stored(engine))[ip] == ("leased", "alice")  # ... the database does not
    held = b.svc.alloc.lookup(ip)
    assert held is not None and held.state is LeaseState.LEASED and held.owner == "alice"


async def test_a_nas_report_of_an_address_held_elsewhere_is_a_conflict(
    nodes: tuple[AsyncEngine, list[Node]],
) -> None:
    engine, made = nodes
    a, b = await two_nodes(engine, made)
    ip = address(await a.login("alice"))
    when = dt.datetime.now(dt.UTC)
    start = AcctEvent(StatusType.START, "192.0.2.1", None, when, unique_id="s2", username="mallory",
                      framed_ip=ip)  # fmt: skip
    await b.hook(b.svc.on_start(start))  # B's stale memory adopts it for mallory; the database refuses
    assert (await stored(engine))[ip] == ("offered", "alice")
    assert b.svc.conflicts == 1
    held = b.svc.alloc.lookup(ip)
    assert held is not None and held.owner == "alice"


async def test_the_lease_feed_brings_other_nodes_writes_into_memory(
    nodes: tuple[AsyncEngine, list[Node]],
) -> None:
    engine, made = nodes
    a, b = await two_nodes(engine, made)
    feeds = [asyncio.create_task(n.svc.run_feed()) for n in (a, b)]
    try:
        for _ in range(100):  # both listening
            if all(n.svc.feed is not None and n.svc.feed.connected for n in (a, b)):
                break
            await asyncio.sleep(0.02)
        started = time.monotonic()
        ip = address(await a.login("alice"))
        while time.monotonic() - started < 5:
            held = b.svc.alloc.lookup(ip)
            if held is not None and held.owner == "alice":
                break
            await asyncio.sleep(0.005)
        delay = time.monotonic() - started
        held = b.svc.alloc.lookup(ip)
        assert held is not None and held.owner == "alice" and held.state is LeaseState.OFFERED
        assert delay < 1.0, f"B learnt alice's lease after {delay:.3f} s"
        assert b.svc.claims_lost == 0
        # a re-login of alice at B gets her address, without a lost claim
        assert address(await b.login("alice")) == ip
        assert b.svc.claims_lost == 0
        feed = a.svc.feed
        assert feed is not None
        for _ in range(200):  # B's re-offer reaches A (A's own writes are not announced to it)
            if feed.notifications:
                break
            await asyncio.sleep(0.01)
        assert feed.notifications == 1
    finally:
        for task in feeds:
            task.cancel()
        await asyncio.gather(*feeds, return_exceptions=True)
