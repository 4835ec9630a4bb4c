"""A hash that asks for more rounds than a check may cost is refused wherever it enters: the
FreeRADIUS import, the daemon's load, and a login (radiusd.model.unix_crypt)."""

from __future__ import annotations

import os
import time

import pytest

from radiusd.codec.codes import Code
from radiusd.codec.dictionary import default_dictionary
from radiusd.codec.packet import Packet, decode, encode_request
from radiusd.importer.translate_values import credential_of
from radiusd.model.request import NasClient, Request
from radiusd.policy.access import AccessPolicy
from radiusd.policy.directory import Directory
from radiusd.store.records import SubscriberRecord

EXPENSIVE = "$6$rounds=999999999$saltsalt$" + "a" * 86
SECRET = b"ceiling-secret-0123456"


def test_import_refuses_a_crypt_hash_above_the_ceiling() -> None:
    with pytest.raises(ValueError, match="999999999 rounds, above the limit of 100000"):
        credential_of("Crypt-Password", EXPENSIVE)


def test_the_daemon_rejects_the_login_without_computing_it() -> None:
    dictionary = default_dictionary()
    directory = Directory(dictionary)
    directory.set_subscribers([SubscriberRecord(id=1, username="slow", credential=EXPENSIVE)])
    assert directory.subscribers["slow"].credential is None  # unreadable: logged at load
    nas = NasClient(1, "edge", "127.0.0.1", SECRET)
    p = Packet(Code.ACCESS_REQUEST, 1, os.urandom(16), dictionary=dictionary)
    p.add("User-Name", "slow")
    p.set_user_password(b"anything", SECRET)
    data = encode_request(p, SECRET, message_auth=True)
    req = Request(decode(data, dictionary), data, nas, ("127.0.0.1", 1), 0.0, [])
    started = time.perf_counter()
    reply = AccessPolicy(directory, dictionary).handle(req)
    assert time.perf_counter() - started < 0.5
    assert isinstance(reply, Packet) and reply.code == Code.ACCESS_REJECT
    assert "cannot be read" in req.reject_reason
