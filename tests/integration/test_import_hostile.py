"""`radiusd import freeradius` on hostile or odd source rows, into PostgreSQL.

A FreeRADIUS database is whatever years of hand edits left in it. SQLite (the source here)
stores anything in any column, so it can hold every row below; PostgreSQL (the target) is the
strict one: it refuses a NUL byte in text, a value longer than its column, an integer beyond
its column's range. Each such row must be reported (the row named, a password never shown)
and skipped, the rest imported, and the command must end with the report, not a traceback.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import pg_database
from tests.integration.test_import_freeradius import _ts, cli, query, schema

pytestmark = pytest.mark.postgres

NUL_PASSWORD = "nul\x00pw-Zq81"
LONG_USER = "u" * 300
#: (table, columns, values) inserted with parameters, so NUL bytes and odd types go in as they are
CHECK = ("username", "attribute", "op", "value")
ROWS: list[tuple[str, tuple[str, ...], tuple[object, ...]]] = [
    ("nas", ("nasname", "shortname", "type", "secret"), ("192.0.2.1", "good-nas", "other", "s3cret")),
    ("nas", ("nasname", "shortname", "type", "secret"), ("192.0.2.2", "n" * 200, "other", "s3cret")),
    ("nas", ("nasname", "shortname", "type", "secret"), ("192.0.2.3", "nul-secret", "other", "s3\x00cret")),
    # the target has a NAS of this name at another address: "<name>-<address>" would not fit
    ("nas", ("nasname", "shortname", "type", "secret"), ("192.0.2.51", "w" * 120, "other", "s3cret")),
    ("radcheck", CHECK, ("good", "Cleartext-Password", ":=", "goodpw")),
    # Auth-Type := Reject and no password: imported disabled, with a credential that never matches
    ("radcheck", CHECK, ("locked", "Auth-Type", ":=", "Reject")),
    ("radcheck", CHECK, ("nulpw", "Cleartext-Password", ":=", NUL_PASSWORD)),
    ("radcheck", CHECK, ("far", "Cleartext-Password", ":=", "farpw")),
    ("radcheck", CHECK, ("far", "Expiration", ":=", "9" * 20)),
    ("radcheck", CHECK, ("many", "Cleartext-Password", ":=", "manypw")),
    ("radcheck", CHECK, ("many", "Simultaneous-Use", ":=", "9" * 12)),
    ("radcheck", CHECK, (LONG_USER, "Cleartext-Password", ":=", "longpw")),
    ("radcheck", CHECK, ("nul\x00user", "Cleartext-Password", ":=", "x1")),
    ("radusergroup", ("username", "groupname", "priority"), ("good", "gold", "high")),
    ("radusergroup", ("username", "groupname", "priority"), ("good", "silver", 1)),
    ("radusergroup", ("username", "groupname", "priority"), ("far", "g" * 200, 1)),
    ("radgroupreply", ("groupname", *CHECK[1:]), ("silver", "Session-Timeout", ":=", "3000000000")),
    ("radgroupreply", ("groupname", *CHECK[1:]), ("g" * 200, "Reply-Message", "=", "hello")),
    ("radreply", CHECK, ("good", "Reply-Message", "=", "hi\x00there")),
    ("radippool", ("pool_name", "framedipaddress", "nasipaddress", "expiry_time", "username"),
     ("p" * 200, "10.70.0.1", "192.0.2.1", _ts(-1), "")),
    ("radippool", ("pool_name", "framedipaddress", "nasipaddress", "expiry_time", "username"),
     ("fine", "10.70.1.1", "192.0.2.1", _ts(-1), "")),
]  # fmt: skip


def _session(sid: str, **over: object) -> tuple[str, tuple[str, ...], tuple[object, ...]]:
    row: dict[str, object] = {
        "acctsessionid": sid,
        "acctuniqueid": sid,
        "username": "good",
        "nasipaddress": "192.0.2.1",
        "acctstarttime": _ts(-0.1),
        "acctupdatetime": _ts(-0.01),
        "acctsessiontime": 60,
        "acctinputoctets": 1,
        "acctoutputoctets": 2,
    }
    row.update(over)
    return "radacct", tuple(row), tuple(row.values())


ROWS += [
    _session("ok-1"),
    _session("bad-time", acctsessiontime="abc"),
    _session("huge-octets", acctinputoctets="9" * 25),
    _session("s" * 300),
    _session("nul\x00sid"),
]


def make_source(path: Path) -> str:
    with sqlite3.connect(path) as conn:
        conn.executescript(schema("sqlite"))
        for table, cols, values in ROWS:
            marks = ", ".join("?" * len(cols))
            conn.execute(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks})", values)
    return f"sqlite:///{path}"


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> str:
    return make_source(tmp_path_factory.mktemp("hostile") / "freeradius.sqlite3")


@pytest.fixture(scope="module")
def target() -> Iterator[str]:
    with pg_database() as url:
        yield url


@pytest.fixture(scope="module")
def runs(source: str, target: str) -> dict[str, tuple[int, str, str]]:
    out: dict[str, tuple[int, str, str]] = {}
    code, _out, err = cli(target, "nas", "add", "w" * 120, "--address", "192.0.2.50", "--secret", "s3cret")
    assert code == 0, err
    out["dry"] = cli(target, "import", "freeradius", "--from", source, "--dry-run")
    out["first"] = cli(target, "import", "freeradius", "--from", source, "--json")
    out["second"] = cli(target, "import", "freeradius", "--from", source, "--json")
    return out


def test_every_hostile_row_is_reported_and_the_rest_imported(runs: dict[str, tuple[int, str, str]]) -> None:
    for name, (code, out, err) in runs.items():
        assert code == 0, (name, err)
        assert "Traceback" not in out + err, (name, out, err)
        assert NUL_PASSWORD not in out + err and "nul\x00pw" not in out + err
    report = json.loads(runs["first"][1])
    lines = [f"{s['source']} {s['row']} {s['subject']}: {s['reason']}" for s in report["not_carried_over"]]
    text = "\n".join(lines)
    for expected in (
        "shortname is longer than 128 characters",  # nas row 2
        "secret contains a NUL byte",  # nas row 3
        "Cleartext-Password cannot be verified: contains a NUL byte",
        "Expiration",
        "Simultaneous-Use",
        "username is longer than 253 characters",
        "username contains a NUL byte",
        "priority 'high' is not a number",
        "plan name is longer than 128 characters",
        "pool name is longer than 128 characters",
        "session time 'abc' is not a number",
        "input_octets is out of range",
        "acct_session_id is longer than 255 characters",
        "acct_session_id contains a NUL byte",
        "radreply 1 good: Reply-Message: the value contains a NUL byte",
        "name is longer than 128 characters (131): another NAS has its name",
    ):
        assert expected in text, f"{expected!r} not in:\n{text}"
    assert LONG_USER not in text  # a subject is shown shortened
    counts = report["counts"]
    assert counts["nas"]["created"] == 1
    assert counts["sessions"]["created"] == 1
    second = json.loads(runs["second"][1])
    for kind, per in second["counts"].items():
        assert per["created"] == 0 and per["updated"] == 0, (kind, per)


def test_what_was_imported(runs: dict[str, tuple[int, str, str]], target: str) -> None:
    users = dict(query(target, "SELECT username, status FROM subscribers"))
    assert users == {"good": "active", "locked": "disabled", "far": "active", "many": "active"}
    (cred,) = query(target, "SELECT credential FROM subscribers WHERE username = 'locked'")[0]
    assert isinstance(cred, str) and "\x00" not in cred
    (expires,) = query(target, "SELECT expires_at FROM subscribers WHERE username = 'far'")[0]
    assert expires is None  # the unreadable Expiration row is skipped, and reported
    # Session-Timeout beyond a 32-bit signed column stays a reply attribute of the plan
    rows = query(target, "SELECT name, session_timeout, reply_attributes FROM plans")
    plans = {name: (timeout, attrs) for name, timeout, attrs in rows}
    assert plans["silver"][0] is None and ["Session-Timeout", "3000000000"] in plans["silver"][1]
    assert query(target, "SELECT name FROM ip_pools") == [("fine",)]
