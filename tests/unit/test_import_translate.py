"""Unit tests of the FreeRADIUS importer's pure parts: credentials, groups, ranges, files."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from radiusd.codec.dictionary import default_dictionary
from radiusd.importer.files import read_clients, read_users
from radiusd.importer.model import Report
from radiusd.importer.ranges import cover
from radiusd.importer.translate import SourceTables, translate
from radiusd.importer.translate_values import credential_of, parse_expiration


def ip(text: str) -> int:
    return int(ipaddress.IPv4Address(text))


def test_credentials() -> None:
    assert credential_of("Cleartext-Password", "pw") == "cleartext:pw"
    assert credential_of("NT-Password", "0x" + "AB" * 16) == "nt:" + "ab" * 16
    assert credential_of("SHA-Password", "a9993e364706816aba3e25717850c26c9cd0d89d").startswith("{SHA}")
    with pytest.raises(ValueError, match="crypt"):
        credential_of("Crypt-Password", "abJnggxhB/yWI")  # DES crypt: cannot verify
    assert parse_expiration("Jan 01 2030 12:00:00").year == 2030


def test_group_priority_and_fall_through() -> None:
    t = SourceTables(
        radcheck=[{"id": 1, "username": "u", "attribute": "Cleartext-Password", "op": ":=", "value": "p"}],
        radusergroup=[
            {"id": 1, "username": "u", "groupname": "b", "priority": 2},
            {"id": 2, "username": "u", "groupname": "a", "priority": 1},
        ],
        radgroupreply=[
            {"id": 1, "groupname": "a", "attribute": "Mikrotik-Rate-Limit", "op": ":=", "value": "1M/1M"},
            {"id": 2, "groupname": "b", "attribute": "Session-Timeout", "op": "=", "value": "60"},
        ],
    )
    data, report = translate(t, default_dictionary())
    assert [s.plan for s in data.subscribers] == ["a"]  # no Fall-Through: b is not read
    t.radgroupreply.append(
        {"id": 3, "groupname": "a", "attribute": "Fall-Through", "op": "=", "value": "Yes"}
    )
    data, report = translate(t, default_dictionary())
    assert [s.plan for s in data.subscribers] == ["a+b"]
    plan = data.plans[0]
    assert plan.rate_limit == "1M/1M" and plan.session_timeout == 60
    assert not report.skipped


def test_ranges_exact_and_split() -> None:
    whole = cover({"m": [ip("10.64.0.0") + i for i in range(1, 65535)]})
    assert [b.cidr for b in whole.blocks["m"]] == ["10.64.0.0/16"]
    holes = cover({"m": [ip("10.0.0.0") + i for i in range(1, 255) if not 51 <= i <= 60]})
    assert [(b.cidr, b.excluded) for b in holes.blocks["m"]] == [("10.0.0.0/24", ["10.0.0.51-10.0.0.60"])]
    blocked = cover({"m": [ip("10.0.0.1"), ip("10.0.0.2")]}, [(ip("10.0.0.2"), ip("10.0.0.2"))])
    assert blocked.unplaced == [("m", ip("10.0.0.2"))]


def test_users_and_clients_files(tmp_path: Path) -> None:
    users = tmp_path / "users"
    users.write_text(
        'alice Cleartext-Password := "secret"\n'
        "\tFramed-IP-Address = 10.1.2.3,\n"
        '\tMikrotik-Rate-Limit = "2M/2M"\n'
        "DEFAULT Auth-Type := Reject\n"
    )
    clients = tmp_path / "clients.conf"
    clients.write_text(
        "client bras {\n ipaddr = 192.0.2.1\n secret = s3cret\n nas_type = cisco\n limit {\n }\n}\n"
    )
    t, report = SourceTables(), Report()
    read_users(users, t, report)
    read_clients(clients, t, report)
    data, _ = translate(t, default_dictionary())
    (sub,) = data.subscribers
    assert sub.credential == "cleartext:secret" and sub.static_ipv4 == "10.1.2.3"
    assert sub.reply_attributes == [["Mikrotik-Rate-Limit", "2M/2M"]]
    assert [(n.address, n.secret, n.vendor) for n in data.nas] == [("192.0.2.1", "s3cret", "cisco")]
    assert any("DEFAULT" in s.reason for s in report.skipped)


def test_clients_conf_require_message_authenticator(tmp_path: Path) -> None:
    """yes/auto -> required, no -> not, absent -> required (as `nas add`); others reported."""
    clients = tmp_path / "clients.conf"
    blocks = [
        ("a", "192.0.2.1", "require_message_authenticator = yes"),
        ("b", "192.0.2.2", "require_message_authenticator = no"),
        ("c", "192.0.2.3", "require_message_authenticator = auto"),
        ("d", "192.0.2.4", ""),
        ("e", "192.0.2.5", 'require_message_authenticator = "maybe"'),
    ]
    clients.write_text(
        "".join(f"client {n} {{\n ipaddr = {a}\n secret = s3cret-{n}\n {line}\n}}\n" for n, a, line in blocks)
    )
    t, report = SourceTables(), Report()
    read_clients(clients, t, report)
    data, report = translate(t, default_dictionary())
    assert [(n.name, n.require_message_authenticator) for n in data.nas] == [
        ("a", True), ("b", False), ("c", True), ("d", True), ("e", True),
    ]  # fmt: skip
    assert [s.reason for s in report.skipped] == [
        "require_message_authenticator = 'maybe' is not yes, no or auto: required"
    ]
    # FreeRADIUS 3.2.5+ has the same setting as the nas table's require_ma column
    row = {"id": 1, "nasname": "192.0.2.9", "shortname": "x", "secret": "s", "require_ma": "no"}
    sql = SourceTables(nas=[row])
    assert [n.require_message_authenticator for n in translate(sql, default_dictionary())[0].nas] == [False]


def test_out_of_range_values_are_errors_not_crashes() -> None:
    from radiusd.importer.fit import SUBSCRIBERS, misfit
    from radiusd.importer.translate_values import aware

    assert aware("0001-01-01T00:00:00+14:00") is None  # OverflowError moving it to UTC
    with pytest.raises(ValueError, match="out of range"):
        parse_expiration("9" * 20)  # OverflowError in fromtimestamp
    too_many = misfit(SUBSCRIBERS, {"simultaneous_use": 2**31})
    assert too_many == "simultaneous_use is out of range (at most 2147483647)"
    assert misfit(SUBSCRIBERS, {"reply_attributes": [["Reply-Message", "a\x00b"]]}) == (
        "reply_attributes contains a NUL byte"
    )
    assert misfit(SUBSCRIBERS, {"username": "ok", "simultaneous_use": 3}) is None
