"""Slow password checks run on a bounded pool; beyond it the request is dropped and counted
(radiusd.policy.hash_pool, radiusd.policy.access)."""

from __future__ import annotations

import asyncio
import os
import threading
from typing import Any

import pytest

from radiusd.codec.codes import Code
from radiusd.codec.dictionary import Dictionary, default_dictionary
from radiusd.codec.packet import Packet, encode_request
from radiusd.model.credentials import Credential, make_credential
from radiusd.model.request import NasClient
from radiusd.policy import access
from radiusd.policy.access import AccessPolicy
from radiusd.policy.credentials import VerifyResult
from radiusd.policy.directory import Directory
from radiusd.policy.hash_pool import HashPool
from radiusd.server.dedupe import DedupeCache
from radiusd.server.dispatcher import Dispatcher
from radiusd.server.nas import NasRegistry
from radiusd.store.records import SubscriberRecord

SECRET = b"slow-hash-Secret-0123"
NAS = NasClient(1, "edge", "127.0.0.1", SECRET)


async def test_pool_refuses_beyond_its_bound() -> None:
    pool = HashPool(workers=1, max_pending=2)
    gate = threading.Event()
    first = pool.submit(gate.wait, 5)
    second = pool.submit(gate.wait, 5)
    assert first is not None and second is not None
    assert pool.submit(gate.wait, 5) is None and pool.refused == 1
    gate.set()
    assert await first and await second
    await asyncio.sleep(0)  # the done callbacks run after the awaiting task resumes
    assert pool.pending == 0
    third = pool.submit(sum, [1, 2])
    assert third is not None and await third == 3
    pool.close()


async def test_a_full_pool_drops_the_login_as_slow_hash_busy(monkeypatch: pytest.MonkeyPatch) -> None:
    gate = threading.Event()

    def held_pap(cred: Credential, password: bytes) -> VerifyResult:
        gate.wait(5)
        return VerifyResult(True, "password matches")

    monkeypatch.setattr(access, "verify_pap", held_pap)
    dictionary: Dictionary = default_dictionary()
    directory = Directory(dictionary)
    slow = make_credential("pw-slow-hash", "pbkdf2-sha256", iterations=2000).storage_string()
    directory.set_subscribers([SubscriberRecord(id=1, username="alice", credential=slow)])
    pool = HashPool(workers=1, max_pending=1)
    dispatcher = Dispatcher(
        registry=NasRegistry([NAS]),
        handlers={Code.ACCESS_REQUEST: AccessPolicy(directory, dictionary, hashes=pool)},
        dictionary=dictionary,
        dedupe=DedupeCache(30.0, 100),
        reject_delay=0.0,
    )
    sent: list[Any] = []
    for identifier in (1, 2, 3):
        p = Packet(Code.ACCESS_REQUEST, identifier, os.urandom(16), dictionary=dictionary)
        p.add("User-Name", "alice")
        p.set_user_password(b"pw-slow-hash", SECRET)
        data = encode_request(p, SECRET, message_auth=True)
        dispatcher.datagram_received(data, ("127.0.0.1", 5000), lambda d, a: sent.append(d))
    assert dispatcher.stats.drops["slow-hash-busy"] == 2 and pool.refused == 2
    gate.set()
    for _ in range(200):
        if sent:
            break
        await asyncio.sleep(0.01)
    assert len(sent) == 1 and sent[0][0] == Code.ACCESS_ACCEPT
    assert dispatcher.in_flight == 0
    pool.close()
