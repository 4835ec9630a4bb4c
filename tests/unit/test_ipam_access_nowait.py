"""AccessPolicy + IpamService on the no-task path (no coroutine per login): the Accept is a future that the
writer's commit resolves; a failed commit fails it (no reply) with the address back in the pool;
a reject needs no commit and comes back at once."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest

from ipam.groups import PoolConfig
from radiusd.codec.codes import Code
from radiusd.codec.dictionary import Dictionary, default_dictionary
from radiusd.codec.packet import Packet, decode, encode_request
from radiusd.config import Settings
from radiusd.model.credentials import make_credential
from radiusd.model.request import NasClient, Request
from radiusd.policy.access import AccessPolicy
from radiusd.policy.directory import Directory
from radiusd.policy.ipam_service import IpamService
from radiusd.store.records import PlanRecord, SubscriberRecord

SECRET = b"nowait-Secr3t-p5"
NAS = NasClient(7, "bras", "127.0.0.1", SECRET)


class HeldWriter:
    """Queues ops; the test decides when (and whether) their transaction commits."""

    def __init__(self) -> None:
        self.pending: list[tuple[Any, asyncio.Future[None]]] = []

    def submit(self, op: Any) -> asyncio.Future[None]:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.pending.append((op, fut))
        return fut

    def commit(self) -> None:
        for _, fut in self.pending:
            fut.set_result(None)
        self.pending.clear()

    def fail(self) -> None:
        for op, fut in self.pending:
            op.rolled_back()
            fut.set_exception(RuntimeError("commit failed"))
        self.pending.clear()


@pytest.fixture(scope="module")
def dictionary() -> Dictionary:
    return default_dictionary()


def setup(dictionary: Dictionary, ranges: list[str]) -> tuple[AccessPolicy, IpamService, HeldWriter]:
    directory = Directory(dictionary)
    directory.set_plans([PlanRecord(id=1, name="gold", pool="p")])
    stored = make_credential("pw", "cleartext").storage_string()
    directory.set_subscribers(
        [SubscriberRecord(id=i, username=u, credential=stored, plan="gold") for i, u in enumerate("abc")]
    )
    writer = HeldWriter()
    svc = IpamService(None, writer, Settings(offer_ttl=30, sticky_ttl=0), clock=lambda: 1000.0)  # type: ignore[arg-type]
    configs = {"p": PoolConfig(1, "p", "ipv4", None, None, None, None, None, ranges)}
    svc.alloc, _ = svc._build(configs, ())
    svc._set_configs(configs)
    return AccessPolicy(directory, dictionary, assigner=svc), svc, writer


def request(dictionary: Dictionary, user: str) -> Request:
    p = Packet(Code.ACCESS_REQUEST, 9, os.urandom(16), dictionary=dictionary)
    p.add("User-Name", user)
    p.set_user_password(b"pw", SECRET)
    data = encode_request(p, SECRET, message_auth=True)
    return Request(decode(data, dictionary), data, NAS, ("127.0.0.1", 1812), 0.0, [])


async def test_accept_waits_for_the_commit_without_a_task(dictionary: Dictionary) -> None:
    policy, svc, writer = setup(dictionary, ["10.0.0.0/30"])
    result = policy.handle(request(dictionary, "a"))
    assert isinstance(result, asyncio.Future) and not isinstance(result, asyncio.Task)
    await asyncio.sleep(0)
    assert not result.done()  # nothing is answered before the lease row is committed
    writer.commit()
    reply = await result
    assert isinstance(reply, Packet) and reply.code == Code.ACCESS_ACCEPT
    assert (8, bytes([10, 0, 0, 1])) in reply.attributes
    assert svc.allocated == 1
    assert svc.alloc.lookup("10.0.0.1").state == "offered"  # type: ignore[union-attr]
    assert svc.alloc.lookup("10.0.0.1").owner == "a"  # type: ignore[union-attr]


async def test_failed_commit_fails_the_reply_and_frees_the_address(dictionary: Dictionary) -> None:
    policy, svc, writer = setup(dictionary, ["10.0.0.1/32"])  # one address
    result = policy.handle(request(dictionary, "a"))
    assert isinstance(result, asyncio.Future)
    writer.fail()
    with pytest.raises(RuntimeError, match="commit failed"):
        await result
    assert svc.allocated == 0
    assert svc.alloc.lookup("10.0.0.1").state == "free"  # type: ignore[union-attr]
    second = policy.handle(request(dictionary, "b"))
    writer.commit()
    reply = await second  # type: ignore[misc]
    assert (8, bytes([10, 0, 0, 1])) in reply.attributes  # the only address, handed out again


async def test_exhausted_pool_rejects_at_once(dictionary: Dictionary) -> None:
    policy, svc, writer = setup(dictionary, ["10.0.0.1/32"])
    first = policy.handle(request(dictionary, "a"))
    writer.commit()
    assert (await first).code == Code.ACCESS_ACCEPT  # type: ignore[misc]
    req = request(dictionary, "b")
    reply = policy.handle(req)
    assert isinstance(reply, Packet) and reply.code == Code.ACCESS_REJECT
    assert req.reject_reason == "pool 'p' is exhausted (fallbacks included)"
    assert not writer.pending and svc.exhausted == 1


async def test_writer_refusal_becomes_a_failed_reply(dictionary: Dictionary) -> None:
    from radiusd.model.writes import WriterBusy

    policy, svc, writer = setup(dictionary, ["10.0.0.0/30"])

    def busy(op: Any) -> asyncio.Future[None]:
        raise WriterBusy("full")

    writer.submit = busy  # type: ignore[method-assign]
    result = policy.handle(request(dictionary, "a"))
    assert isinstance(result, asyncio.Future)
    with pytest.raises(WriterBusy):
        await result
    assert svc.alloc.lookup("10.0.0.1").state == "free"  # type: ignore[union-attr]
