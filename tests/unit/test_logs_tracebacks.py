"""A failing request logs its exception without the local variables of the failing frames
(radiusd.logs): they hold the recovered password and the NAS secret."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from radiusd.codec.codes import Code
from radiusd.codec.dictionary import Dictionary, default_dictionary
from radiusd.codec.packet import Packet, encode_request
from radiusd.logs import configure_logging
from radiusd.model.credentials import Credential, make_credential
from radiusd.model.request import NasClient
from radiusd.policy import access
from radiusd.policy.access import AccessPolicy
from radiusd.policy.credentials import VerifyResult
from radiusd.policy.directory import Directory
from radiusd.server import dispatcher as dispatcher_module
from radiusd.server.dedupe import DedupeCache
from radiusd.server.dispatcher import Dispatcher
from radiusd.server.nas import NasRegistry
from radiusd.store.records import SubscriberRecord

SECRET = b"Nas-Secret-In-Scope-7f3a"
PASSWORD = "Recovered-Password-9c2e"
NAS = NasClient(1, "edge", "127.0.0.1", SECRET)


class VerificationBroke(RuntimeError):
    pass


@pytest.fixture
def restore_logging() -> Iterator[None]:
    before = structlog.get_config()
    yield
    structlog.configure(**before)


def _exploding_pap(cred: Credential, password: bytes) -> VerifyResult:
    secret = NAS.secret  # both in this frame's locals, as in a real failure
    if password and secret:
        raise VerificationBroke("the check failed")
    raise AssertionError("unreachable")


@pytest.mark.parametrize("fmt", ["console", "json"])
def test_a_failing_request_logs_the_exception_but_no_locals(
    fmt: str, restore_logging: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = io.StringIO()
    configure_logging(fmt, "info", stream=out)
    # the module logger may be cached under an earlier configuration: a fresh one reads this one
    monkeypatch.setattr(dispatcher_module, "log", structlog.get_logger("radiusd.server"))
    monkeypatch.setattr(access, "verify_pap", _exploding_pap)
    dictionary: Dictionary = default_dictionary()
    directory = Directory(dictionary)
    stored = make_credential(PASSWORD, "cleartext").storage_string()
    directory.set_subscribers([SubscriberRecord(id=1, username="alice", credential=stored)])
    dispatcher = Dispatcher(
        registry=NasRegistry([NAS]),
        handlers={Code.ACCESS_REQUEST: AccessPolicy(directory, dictionary)},
        dictionary=dictionary,
        dedupe=DedupeCache(30.0, 100),
        reject_delay=0.0,
    )
    p = Packet(Code.ACCESS_REQUEST, 3, os.urandom(16), dictionary=dictionary)
    p.add("User-Name", "alice")
    p.set_user_password(PASSWORD.encode(), SECRET)
    sent: list[Any] = []
    dispatcher.datagram_received(
        encode_request(p, SECRET, message_auth=True), ("127.0.0.1", 5000), lambda d, a: sent.append(d)
    )

    text = out.getvalue()
    assert not sent and dispatcher.stats.drops["handler-error"] == 1
    assert "VerificationBroke" in text and "the check failed" in text
    assert PASSWORD not in text and SECRET.decode() not in text
    if fmt == "json":
        event = json.loads(text.strip().splitlines()[-1])
        (exc,) = event["exception"]
        assert exc["exc_type"] == "VerificationBroke" and exc["exc_value"] == "the check failed"
        assert any(frame["name"] == "_exploding_pap" for frame in exc["frames"])
        assert all("locals" not in frame for frame in exc["frames"])
