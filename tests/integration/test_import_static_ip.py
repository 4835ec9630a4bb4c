"""`radiusd import freeradius` and a static address (radreply Framed-IP-Address) that the
radippool rows around it do not list: the subscriber gets that address in its Accept, the pool
counts it reserved, a re-run changes nothing; and a SQLite source file that does not exist is
an error, not an empty import (in the style of test_import_freeradius.py)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

from tests.integration.conftest import DaemonProcess, run_radclient
from tests.integration.test_import_freeradius import SECRET, cli, schema


def make_source(path: Path) -> str:
    """Pool p30 lists 10.30.0.2-5 and .12-14 (one /28 covers them); sam's static .10 is not listed."""
    rows = [
        "INSERT INTO nas (nasname, shortname, type, secret) VALUES ('127.0.0.1', 'bras1', 'other', 'testing123')",  # noqa: E501
        "INSERT INTO radcheck (username, attribute, op, value) VALUES ('sam', 'Cleartext-Password', ':=', 'sampw')",  # noqa: E501
        "INSERT INTO radreply (username, attribute, op, value) VALUES ('sam', 'Framed-IP-Address', '=', '10.30.0.10')",  # noqa: E501
        "INSERT INTO radusergroup (username, groupname, priority) VALUES ('sam', 'g', 1)",
        "INSERT INTO radgroupcheck (groupname, attribute, op, value) VALUES ('g', 'Pool-Name', ':=', 'p30')",
    ]
    for host in (2, 3, 4, 5, 12, 13, 14):
        rows.append(
            "INSERT INTO radippool (pool_name, framedipaddress, nasipaddress, expiry_time, username)"
            f" VALUES ('p30', '10.30.0.{host}', '127.0.0.1', '2000-01-01 00:00:00', '')"
        )
    with sqlite3.connect(path) as conn:
        conn.executescript(schema("sqlite"))
        for stmt in rows:
            conn.execute(stmt)
    return f"sqlite:///{path}"


def test_static_ip_inside_an_imported_range(
    tmp_path: Path, daemon_factory: Callable[..., DaemonProcess], radclient: str
) -> None:
    source = make_source(tmp_path / "fr.sqlite3")
    target = f"sqlite+aiosqlite:///{tmp_path / 'radiusd.sqlite3'}"
    code, out, err = cli(target, "import", "freeradius", "--from", source, "--json")
    assert code == 0, err
    first = json.loads(out)
    assert first["counts"]["reservations"]["created"] == 1
    assert any("10.30.0.10" in note for note in first["notes"]), first["notes"]
    code, out, err = cli(target, "import", "freeradius", "--from", source, "--json")
    assert code == 0, err
    for kind, per in json.loads(out)["counts"].items():  # idempotent: nothing created again
        assert per["created"] == 0 and per["updated"] == 0, (kind, per)

    code, out, _ = cli(target, "pool", "show", "p30", "--json")
    pool = json.loads(out)
    assert (pool["ipv4"]["reserved"], pool["reserved"]) == (1, 1)
    code, out, _ = cli(target, "lease", "list", "--json")
    assert [(r["address"], r["username"], r["state"]) for r in json.loads(out)] == [
        ("10.30.0.10", "sam", "reserved")
    ]

    served = daemon_factory(target)
    # an imported NAS requires Message-Authenticator (radclient computes it for the 0x00 placeholder)
    login = 'User-Name = "sam"\nUser-Password = "sampw"\nMessage-Authenticator = 0x00\n'
    reply = run_radclient(radclient, served.auth_port, SECRET, login)
    assert "Access-Accept" in reply and "Framed-IP-Address = 10.30.0.10" in reply, reply
    assert "169738250" not in served.stdout_path.read_text() + served.stderr_path.read_text()


def test_missing_sqlite_source_is_an_error(tmp_path: Path) -> None:
    target = f"sqlite+aiosqlite:///{tmp_path / 'radiusd.sqlite3'}"
    missing = tmp_path / "nope.sqlite3"
    code, out, err = cli(target, "import", "freeradius", "--from", f"sqlite:///{missing}")
    assert code == 1 and out == "" and err.count("\n") == 1, (code, out, err)
    assert "does not exist" in err and not missing.exists()
    empty = tmp_path / "empty.sqlite3"
    sqlite3.connect(empty).close()
    code, _, err = cli(target, "import", "freeradius", "--from", f"sqlite:///{empty}")
    assert code == 1 and "none of the FreeRADIUS tables" in err
