"""Store records and input checks (no database): secrets stay out of reprs and JSON."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from radiusd.store import validate
from radiusd.store.engine import normalise_url
from radiusd.store.errors import InvalidInput
from radiusd.store.records import NasRecord, PlanRecord, SubscriberRecord

NOW = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)


def test_secrets_are_not_in_repr_or_json() -> None:
    router = NasRecord(id=1, name="core", address="192.0.2.1", secret="NAS-SECRET", api_password="API-PW")
    sub = SubscriberRecord(id=1, username="alice", credential="cleartext:USER-PW", created_at=NOW)
    for record in (router, sub):
        text = repr(record) + str(record) + json.dumps(record.to_json())
        for secret in ("NAS-SECRET", "API-PW", "USER-PW"):
            assert secret not in text
    assert "secret" not in router.to_json() and "api_password" not in router.to_json()
    assert "credential" not in sub.to_json()
    assert sub.to_json()["created_at"] == "2024-05-01T12:00:00+00:00"


def test_plan_json_is_plain() -> None:
    plan = PlanRecord(id=1, name="gold", reply_attributes=(("Session-Timeout", "60"),))
    assert json.loads(json.dumps(plan.to_json()))["reply_attributes"] == [["Session-Timeout", "60"]]


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("192.0.2.1", "192.0.2.1"),
        (" 192.0.2.1 ", "192.0.2.1"),
        ("::ffff:192.0.2.1", "192.0.2.1"),  # what a dual-stack socket reports
        ("2001:DB8:0:0::1", "2001:db8::1"),
    ],
)
def test_nas_address_is_normalised(given: str, stored: str) -> None:
    assert validate.nas_address(given) == stored


@pytest.mark.parametrize("bad", ["192.0.2.256", "router.example", "", "192.0.2.0/24"])
def test_malformed_nas_address(bad: str) -> None:
    with pytest.raises(InvalidInput, match="malformed IP address"):
        validate.nas_address(bad)


def test_ipv4_only_for_static_addresses() -> None:
    assert validate.ipv4_address("10.0.0.1") == "10.0.0.1"
    with pytest.raises(InvalidInput, match="2001:db8::1"):
        validate.ipv4_address("2001:db8::1")


def test_positive_int_refuses_bool_and_zero() -> None:
    assert validate.positive_int(None, "x") is None
    assert validate.positive_int(5, "x") == 5
    for bad in (0, -1, True, 2**31):
        with pytest.raises(InvalidInput):
            validate.positive_int(bad, "x")


def test_reply_attributes() -> None:
    assert validate.reply_attributes([("A", "1"), ["B", 2]]) == [["A", "1"], ["B", "2"]]
    for bad in (["AB"], [("A",)], [("", "x")], [(1, "x")]):
        with pytest.raises(InvalidInput):
            validate.reply_attributes(bad)


@pytest.mark.parametrize(
    ("given", "normalised"),
    [
        ("sqlite:///var/radiusd.sqlite3", "sqlite+aiosqlite:///var/radiusd.sqlite3"),
        ("postgresql://u:p@db/radius", "postgresql+asyncpg://u:p@db/radius"),
        ("postgres://u@db/radius", "postgresql+asyncpg://u@db/radius"),
        ("postgresql+asyncpg://u@db/radius", "postgresql+asyncpg://u@db/radius"),
    ],
)
def test_normalise_url(given: str, normalised: str) -> None:
    assert normalise_url(given) == normalised


def test_unsupported_url_is_refused_without_password() -> None:
    with pytest.raises(InvalidInput) as exc:
        normalise_url("mysql://root:hunter2@db/radius")
    assert "hunter2" not in str(exc.value)
