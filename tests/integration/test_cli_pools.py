"""``radiusd pool`` and ``radiusd lease`` against real databases (SQLite and PostgreSQL).

Commands run in-process through click's CliRunner (``radiusd --database URL ...``) and, for the
exit codes and streams users' scripts see, through the installed ``radiusd`` console script.
Leases, assignment history and sessions are seeded the way the daemon writes them (the
writer's LeaseOp, the history and session tables). Every refusal must be one
``radiusd: error: ...`` line, exit 1 (data) or 2 (usage), and leave the database unchanged.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import shutil
import subprocess
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result
from sqlalchemy.ext.asyncio import AsyncEngine

from radiusd.cli.main import cli

T0 = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


class Cli:
    """Runs ``radiusd --database URL ARGS`` in-process and checks the outcome."""

    def __init__(self, url: str) -> None:
        self.url = url

    def run(self, *args: str) -> Result:
        result = CliRunner().invoke(cli, ["--database", self.url, *args])
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result

    def ok(self, *args: str) -> str:
        result = self.run(*args)
        assert result.exit_code == 0, result.stderr
        return result.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--json"))

    def error(self, *args: str, code: int = 1) -> str:
        """Run a failing command; return its one error line (without the prefix)."""
        result = self.run(*args)
        assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
        assert result.stdout == ""
        lines = result.stderr.splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith("radiusd: error: "), lines[0]
        return lines[0].removeprefix("radiusd: error: ")

    def state(self) -> tuple[Any, Any]:
        """Everything the pool commands can change: pools with utilisation, and leases."""
        return self.json("pool", "list"), self.json("lease", "list")

    def refused(self, *args: str, code: int = 1) -> str:
        """:meth:`error`, also asserting that the database did not change."""
        before = self.state()
        message = self.error(*args, code=code)
        assert self.state() == before, args
        return message


def on_db(url: str, func: Callable[[AsyncEngine], Awaitable[Any]]) -> Any:
    """Run ``func(engine)`` on ``url`` (already migrated by an earlier CLI call)."""
    from radiusd.store.engine import create_engine

    async def main() -> Any:
        engine = create_engine(url)
        try:
            return await func(engine)
        finally:
            await engine.dispose()

    return asyncio.run(main())


def seed_lease(url: str, address: str, user: str, pool: str, state: str = "leased") -> None:
    """A live lease row as the daemon's group-commit writer stores it."""
    from radiusd.store.lease_ops import LeaseOp
    from radiusd.store.pools import load_configs

    async def go(engine: AsyncEngine) -> None:
        async with engine.begin() as conn:
            configs = await load_configs(conn)
            row = {
                "address": address,
                "pool_id": configs[pool].id,
                "state": state,
                "owner": user,
                "router_id": None,
                "session_key": f"sess-{user}",
                "expires_at": dt.datetime.now(dt.UTC) + dt.timedelta(hours=1),
                "updated_at": dt.datetime.now(dt.UTC),
            }
            await LeaseOp.apply_batch(conn, [LeaseOp(v4=[row])])

    on_db(url, go)


def seed_history(url: str, address: str) -> None:
    """alice held ``address`` 12:00-13:00 (assignment), bob from 14:00 on (assignment and an
    open accounting session); carol's session used it 13:10-13:50 without an assignment."""
    from radiusd.store.models import RadiusSession, ServiceIPAssignment

    assignments = [("alice", T0, T0 + dt.timedelta(hours=1)), ("bob", T0 + dt.timedelta(hours=2), None)]
    sessions = [
        ("carol", T0 + dt.timedelta(minutes=70), T0 + dt.timedelta(minutes=110)),
        ("bob", T0 + dt.timedelta(hours=2), None),
    ]

    async def go(engine: AsyncEngine) -> None:
        async with engine.begin() as conn:
            await conn.execute(
                sa.insert(ServiceIPAssignment),
                [
                    {"username": u, "address": address, "family": 4, "pool_name": "main",
                     "session_key": f"sess-{u}", "assigned_at": a, "released_at": r}
                    for u, a, r in assignments
                ],
            )  # fmt: skip
            await conn.execute(
                sa.insert(RadiusSession),
                [
                    {"acct_unique_id": f"sess-{u}", "acct_session_id": f"{i}", "username": u,
                     "nas_address": "192.0.2.1", "framed_ip": address, "started_at": a, "updated_at": a,
                     "stopped_at": r, "status": "open" if r is None else "closed"}
                    for i, (u, a, r) in enumerate(sessions)
                ],
            )  # fmt: skip

    on_db(url, go)


@pytest.fixture
def radiusd(db_url: str, migrated_db: None) -> Cli:
    return Cli(db_url)


# --- pool add / list / show ---------------------------------------------------------------------


def test_add_all_kinds_list_and_show(radiusd: Cli) -> None:
    radiusd.ok("nas", "add", "bras1", "--address", "192.0.2.1", "--secret", "s3cr3t-x")
    out = radiusd.ok(
        "pool", "add", "main", "--range", "10.64.0.0/24", "--range", "10.65.0.0/30",
        "--ipv6-prefix", "2001:db8::/48/64", "--delegated", "2001:db8:100::/40/56", "--nas", "bras1",
        "--gateway", "10.64.0.1", "--exclude", "10.64.0.250-10.64.0.254", "--exclude", "10.64.0.128/31",
        "--warn-at", "75",
    )  # fmt: skip
    assert "added pool 'main'" in out
    data = radiusd.json("pool", "show", "main")
    assert (data["name"], data["nas"], data["warning_pct"], data["warn_at"]) == ("main", "bras1", 75.0, 75.0)
    ranges = {r["range"]: r for r in data["ranges"]}
    # /24: 254 hosts - gateway - 5 (span) - 2 (/31) = 246; /30: 2 hosts
    assert ranges["10.64.0.0/24"]["total"] == 246 and ranges["10.65.0.0/30"]["total"] == 2
    assert ranges["2001:db8::/48/64"]["kind"] == "ipv6-wan" and ranges["2001:db8::/48/64"]["total"] == 2**16
    assert (
        ranges["2001:db8:100::/40/56"]["kind"] == "ipv6-pd"
        and ranges["2001:db8:100::/40/56"]["total"] == 2**16
    )
    for r in data["ranges"]:
        assert {"total", "allocated", "reserved", "free", "percent_used", "warning"} <= r.keys()
    kinds = {k["kind"]: k for k in data["kinds"]}
    assert kinds["ipv4"] == {
        "kind": "ipv4", "total": 248, "allocated": 0, "reserved": 0, "free": 248, "held": 0,
        "used": 0, "percent_used": 0.0, "warning": False,
    }  # fmt: skip
    assert data["warning"] is False

    listed = radiusd.json("pool", "list")
    assert [p["name"] for p in listed] == ["main"]
    assert listed[0]["kinds"] == data["kinds"] and listed[0]["ranges"] == data["ranges"]

    table = radiusd.ok("pool", "list")
    assert "main" in table and "ipv6-pd" in table and "10.64.0.0/24, 10.65.0.0/30" in table
    text = radiusd.ok("pool", "show", "main")
    assert "warn_at:  75%" in text and "2001:db8:100::/40/56" in text and "WARNING" not in text


def test_warning_marker_above_threshold(radiusd: Cli, tmp_path: Any) -> None:
    radiusd.ok("pool", "add", "small", "--range", "10.0.0.0/29", "--warn-at", "50")  # 6 addresses
    radiusd.ok("pool", "add", "big", "--range", "10.1.0.0/24")  # config default (90)
    for host in (1, 2, 3):
        radiusd.ok("pool", "reserve", f"10.0.0.{host}")
    seed_lease(radiusd.url, "10.1.0.7", "alice", "big")

    result = radiusd.run("pool", "list")
    assert result.exit_code == 0
    small = next(line for line in result.stdout.splitlines() if "small" in line)
    big = next(line for line in result.stdout.splitlines() if "big" in line)
    assert "50.0%" in small and "WARNING >= 50%" in small
    assert "0.4%" in big and "WARNING" not in big
    assert result.stderr.splitlines() == ["warning: pool 'small' ipv4 is 50.0% used (threshold 50%)"]

    data = {p["name"]: p for p in radiusd.json("pool", "list")}
    assert (data["small"]["warning"], data["small"]["percent_used"], data["small"]["reserved"]) == (
        True,
        50.0,
        3,
    )
    assert (data["big"]["warning"], data["big"]["warn_at"], data["big"]["allocated"]) == (False, 90.0, 1)
    assert data["small"]["ranges"][0]["warning"] is True

    show = radiusd.run("pool", "show", "small")
    assert "warning:  WARNING" in show.stdout and "threshold 50%" in show.stderr

    # the configured default threshold applies to pools without their own
    config = tmp_path / "radiusd.toml"
    config.write_text("utilisation_warning_pct = 0.3\n")
    result = CliRunner().invoke(
        cli, ["--database", radiusd.url, "--config", str(config), "pool", "list", "--json"]
    )
    assert result.exit_code == 0, result.stderr
    data = {p["name"]: p for p in json.loads(result.stdout)}
    assert (data["big"]["warn_at"], data["big"]["warning"]) == (0.3, True)


def test_empty_lists(radiusd: Cli) -> None:
    assert radiusd.ok("pool", "list").startswith("no pools in ")
    assert radiusd.json("pool", "list") == []
    assert radiusd.ok("lease", "list").startswith("no leases in ")
    assert radiusd.json("lease", "list") == []


# --- refusals -----------------------------------------------------------------------------------


def test_add_refusals_write_nothing(radiusd: Cli) -> None:
    radiusd.ok("pool", "add", "main", "--range", "10.64.0.0/24", "--ipv6-prefix", "2001:db8::/48")
    cases: list[tuple[tuple[str, ...], str, int]] = [
        (("--range", "10.64.0.128/25"), "overlaps pool 'main' range 10.64.0.0/24", 1),
        (("--range", "10.0.0.0/8"), "overlaps", 1),
        (("--ipv6-prefix", "2001:db8:0:8000::/49"), "overlaps", 1),
        (("--range", "10.70.0.0/24", "--range", "10.70.0.128/25"), "overlaps", 1),
        (("--range", "10.70.0.0/33"), "bad ipv4 range", 1),
        (("--range", "10.70.0.1/24"), "host bits set", 1),
        (("--range", "banana"), "banana", 1),
        (("--ipv6-prefix", "2001:db8:1::/48/40"), "cannot split", 1),
        (("--range", "2001:db9::/48"), "use --ipv6-prefix or --delegated", 1),
        (("--range", "10.70.0.0/24", "--gateway", "10.71.0.1"), "gateway 10.71.0.1 is not inside", 1),
        (("--range", "10.70.0.0/24", "--exclude", "10.70.0.0/8"), "covers", 1),
        (("--range", "10.70.0.0/24", "--exclude", "10.72.0.5"), "exclusion", 1),
        (("--range", "10.70.0.0/24", "--nas", "nope"), "NAS 'nope' does not exist", 1),
        (("--range", "10.70.0.0/24", "--fallback", "nope"), "fallback pool 'nope' does not exist", 1),
        ((), "give at least one --range", 2),
        (("--range", "10.70.0.0/24", "--warn-at", "0"), "--warn-at", 2),
        (("--range", "10.70.0.0/24", "--warn-at", "101"), "--warn-at", 2),
    ]
    for extra, message, code in cases:
        assert message in radiusd.refused("pool", "add", "other", *extra, code=code), extra
    assert "already exists" in radiusd.refused("pool", "add", "main", "--range", "10.80.0.0/24")
    assert "':'" in radiusd.refused("pool", "add", "a:b", "--range", "10.80.0.0/24")
    assert [p["name"] for p in radiusd.json("pool", "list")] == ["main"]


def test_unknown_pool(radiusd: Cli) -> None:
    radiusd.ok("pool", "add", "main", "--range", "10.64.0.0/24")
    for args in (
        ("pool", "show", "nope"),
        ("pool", "remove", "nope"),
        ("pool", "add-range", "nope", "--range", "10.65.0.0/24"),
        ("pool", "remove-range", "nope", "--range", "10.64.0.0/24"),
        ("lease", "list", "--pool", "nope"),
    ):
        assert "pool 'nope' does not exist" in radiusd.refused(*args), args
    assert "no range 10.66.0.0/24" in radiusd.refused(
        "pool", "remove-range", "main", "--range", "10.66.0.0/24"
    )


# --- ranges -------------------------------------------------------------------------------------


def test_add_and_remove_ranges(radiusd: Cli) -> None:
    radiusd.ok("pool", "add", "main", "--range", "10.64.0.0/24", "--delegated", "2001:db8:100::/40/56")
    radiusd.ok("pool", "add", "other", "--range", "10.90.0.0/24")
    out = radiusd.ok(
        "pool", "add-range", "main", "--range", "10.65.0.0/29", "--ipv6-prefix", "2001:db8::/48",
        "--delegated", "2001:db8:200::/40",
    )  # fmt: skip
    assert out == "added 10.65.0.0/29, 2001:db8::/48, 2001:db8:200::/40 to pool 'main'\n"
    ranges = {r["range"]: r["kind"] for r in radiusd.json("pool", "show", "main")["ranges"]}
    assert ranges == {
        "10.64.0.0/24": "ipv4", "10.65.0.0/29": "ipv4", "2001:db8::/48/64": "ipv6-wan",
        "2001:db8:100::/40/56": "ipv6-pd", "2001:db8:200::/40/56": "ipv6-pd",
    }  # fmt: skip

    # all or nothing: the first range would fit, the second overlaps another pool
    message = radiusd.refused(
        "pool", "add-range", "main", "--range", "10.66.0.0/24", "--range", "10.90.0.0/25"
    )
    assert "overlaps pool 'other' range 10.90.0.0/24" in message
    assert "hands out /64" in radiusd.refused(
        "pool", "add-range", "main", "--ipv6-prefix", "2001:db9::/48/60"
    )
    assert "bad" in radiusd.refused("pool", "add-range", "main", "--range", "10.66.0.0/40")
    assert "give at least one" in radiusd.refused("pool", "add-range", "main", code=2)

    out = radiusd.ok("pool", "remove-range", "main", "--range", "10.65.0.0/29", "--range", "2001:db8::/48")
    assert out == "removed 10.65.0.0/29, 2001:db8::/48 from pool 'main'\n"
    left = {r["range"] for r in radiusd.json("pool", "show", "main")["ranges"]}
    assert left == {"10.64.0.0/24", "2001:db8:100::/40/56", "2001:db8:200::/40/56"}
    radiusd.ok("pool", "remove-range", "main", "--range", "2001:db8:200::/40/56")


def test_remove_range_with_live_lease_refused(radiusd: Cli) -> None:
    radiusd.ok("pool", "add", "main", "--range", "10.64.0.0/29", "--range", "10.64.1.0/29")
    seed_lease(radiusd.url, "10.64.0.2", "alice", "main")
    message = radiusd.refused(
        "pool", "remove-range", "main", "--range", "10.64.1.0/29", "--range", "10.64.0.0/29"
    )
    assert message == (
        "range 10.64.0.0/29 of pool 'main' still has 1 live lease and 0 reservations: "
        "release or unreserve them first (radiusd lease list --pool main)"
    )
    assert "live" in radiusd.refused("pool", "remove", "main")
    radiusd.ok("pool", "remove-range", "main", "--range", "10.64.1.0/29")  # the idle one alone is fine
    radiusd.ok("lease", "release", "10.64.0.2")
    radiusd.ok("pool", "remove-range", "main", "--range", "10.64.0.0/29")
    radiusd.ok("pool", "remove", "main")
    assert radiusd.json("pool", "list") == []


def test_remove_pool_refusals(radiusd: Cli) -> None:
    radiusd.ok("pool", "add", "spare", "--range", "10.9.0.0/29")
    radiusd.ok("pool", "add", "main", "--range", "10.0.0.0/29", "--fallback", "spare")
    assert radiusd.json("pool", "show", "main")["fallback"] == "spare"
    assert "fallback" in radiusd.refused("pool", "remove", "spare")
    assert radiusd.ok("pool", "remove", "main") == "removed pool 'main'\n"
    radiusd.ok("pool", "remove", "spare")


# --- reservations and leases --------------------------------------------------------------------


def test_reserve_unreserve(radiusd: Cli) -> None:
    radiusd.ok("pool", "add", "main", "--range", "10.64.0.0/29", "--ipv6-prefix", "2001:db8::/48")
    for user in ("alice", "bob"):
        radiusd.ok("subscriber", "add", user, "--password", "pw")
    assert "subscriber 'nobodyhere' does not exist" in radiusd.refused(
        "pool", "reserve", "10.64.0.3", "--user", "nobodyhere"
    )
    assert radiusd.ok("pool", "reserve", "10.64.0.3", "--user", "alice") == (
        "reserved 10.64.0.3 in pool 'main' for 'alice'\n"
    )
    lease = radiusd.json("pool", "reserve", "2001:db8:0:5::/64")
    assert (lease["address"], lease["state"], lease["pool"], lease["kind"]) == (
        "2001:db8:0:5::/64", "reserved", "main", "ipv6-wan",
    )  # fmt: skip
    assert radiusd.json("pool", "show", "main")["reserved"] == 2
    assert "10.64.0.3" in radiusd.refused("pool", "reserve", "10.64.0.3", "--user", "bob")
    assert "not in any pool" in radiusd.refused("pool", "reserve", "10.99.0.1")
    assert "not an IP address" in radiusd.refused("pool", "reserve", "10.64.0.300")
    assert "not an IP address" in radiusd.refused("pool", "reserve", "2001:db8::1/48")  # host bits
    assert radiusd.ok("pool", "unreserve", "10.64.0.3") == "unreserved 10.64.0.3 in pool 'main'\n"
    assert "not reserved" in radiusd.refused("pool", "unreserve", "10.64.0.3")
    assert radiusd.json("pool", "unreserve", "2001:db8:0:5::/64")["state"] == "free"
    assert radiusd.json("pool", "show", "main")["reserved"] == 0


def test_lease_list_filters_and_release(radiusd: Cli) -> None:
    radiusd.ok("pool", "add", "main", "--range", "10.64.0.0/29")
    radiusd.ok("pool", "add", "other", "--range", "10.65.0.0/29")
    seed_lease(radiusd.url, "10.64.0.2", "alice", "main")
    seed_lease(radiusd.url, "10.65.0.3", "bob", "other", state="offered")
    radiusd.ok("subscriber", "add", "carol", "--password", "pw")
    radiusd.ok("pool", "reserve", "10.64.0.5", "--user", "carol")

    leases = radiusd.json("lease", "list")
    assert [(x["address"], x["username"], x["pool"], x["state"]) for x in leases] == [
        ("10.64.0.2", "alice", "main", "leased"),
        ("10.64.0.5", "carol", "main", "reserved"),
        ("10.65.0.3", "bob", "other", "offered"),
    ]
    for x in leases:
        assert list(x)[:5] == ["address", "username", "pool", "kind", "state"] and "expires" in x
    assert dt.datetime.fromisoformat(leases[0]["expires"]) > dt.datetime.now(dt.UTC)
    assert leases[1]["expires"] is None
    assert [x["address"] for x in radiusd.json("lease", "list", "--pool", "main")] == [
        "10.64.0.2",
        "10.64.0.5",
    ]
    assert [x["address"] for x in radiusd.json("lease", "list", "--user", "bob")] == ["10.65.0.3"]
    assert radiusd.json("lease", "list", "--pool", "other", "--user", "alice") == []
    table = radiusd.ok("lease", "list")
    assert "10.64.0.2" in table and "alice" in table and "leased" in table

    assert radiusd.json("pool", "show", "main")["allocated"] == 1
    assert (
        radiusd.ok("lease", "release", "10.64.0.2") == "released 10.64.0.2 of pool 'main' (held by 'alice')\n"
    )
    assert radiusd.json("lease", "list", "--user", "alice")[0]["state"] == "released"
    assert radiusd.json("pool", "show", "main")["allocated"] == 0
    assert "no live lease" in radiusd.refused("lease", "release", "10.64.0.2")
    assert "no live lease" in radiusd.refused("lease", "release", "10.64.0.5")  # reserved, not in use
    assert "not an IP address" in radiusd.refused("lease", "release", "nope")
    assert radiusd.json("lease", "release", "10.65.0.3")["state"] == "released"


def test_lease_history(radiusd: Cli) -> None:
    radiusd.ok("pool", "add", "main", "--range", "10.64.0.0/29")
    seed_history(radiusd.url, "10.64.0.5")
    every = radiusd.json("lease", "history", "10.64.0.5")
    assert [h["username"] for h in every] == ["bob", "bob", "carol", "alice"]  # newest first
    assert {(h["username"], h["source"]) for h in every} == {
        ("bob", "assignment"), ("bob", "session"), ("carol", "session"), ("alice", "assignment"),
    }  # fmt: skip
    for h in every:
        assert list(h)[:5] == ["address", "username", "started", "ended", "source"]
    alice = every[-1]
    assert (alice["address"], alice["pool"], alice["session"]) == ("10.64.0.5", "main", "sess-alice")
    assert dt.datetime.fromisoformat(alice["started"]) == T0
    assert dt.datetime.fromisoformat(alice["ended"]) == T0 + dt.timedelta(hours=1)

    def at(when: str) -> list[str]:
        return sorted(h["username"] for h in radiusd.json("lease", "history", "10.64.0.5", "--at", when))

    assert at("2026-03-01T12:30:00Z") == ["alice"]
    assert at("2026-03-01T15:30:00+02:00") == ["carol"]  # 13:30 UTC
    assert at("2026-03-01 13:30") == ["carol"]  # no offset: UTC
    assert at("2026-03-01T13:55:00") == []
    assert at("2026-03-02") == ["bob", "bob"]
    assert at("2026-02-28") == []

    table = radiusd.ok("lease", "history", "10.64.0.5")
    assert "alice" in table and "carol" in table and "assignment" in table
    assert radiusd.ok("lease", "history", "10.64.0.6").startswith("nobody held 10.64.0.6 in ")
    assert radiusd.ok("lease", "history", "10.64.0.5", "--at", "2026-02-28").startswith(
        "nobody held 10.64.0.5 at 2026-02-28T00:00:00+00:00 in "
    )
    assert "--at" in radiusd.error("lease", "history", "10.64.0.5", "--at", "yesterday", code=2)
    assert "not an IP address" in radiusd.error("lease", "history", "10.64.0")


def test_lease_history_of_a_prefix(radiusd: Cli) -> None:
    radiusd.ok("pool", "add", "main", "--delegated", "2001:db8:100::/40/56")

    async def go(engine: AsyncEngine) -> None:
        from radiusd.store.models import RadiusSession

        async with engine.begin() as conn:
            await conn.execute(
                sa.insert(RadiusSession).values(
                    acct_unique_id="s6", acct_session_id="6", username="dave", nas_address="192.0.2.1",
                    delegated_ipv6_prefix="2001:db8:100:200::/56", started_at=T0, updated_at=T0,
                    stopped_at=None, status="open",
                )
            )  # fmt: skip

    on_db(radiusd.url, go)
    history = radiusd.json("lease", "history", "2001:db8:100:200::/56")
    assert [(h["username"], h["source"], h["ended"]) for h in history] == [("dave", "session", None)]


# --- the installed console script ---------------------------------------------------------------


def test_console_script(db_url: str) -> None:
    exe = shutil.which("radiusd")
    if exe is None:
        pytest.skip("the radiusd console script is not installed")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RADIUSD_")}
    env["RADIUSD_DATABASE_URL"] = db_url

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([exe, *args], capture_output=True, text=True, env=env, timeout=60, check=False)

    added = run("pool", "add", "main", "--range", "10.64.0.0/30", "--warn-at", "50", "--json")
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["ranges"][0]["total"] == 2
    assert run("pool", "reserve", "10.64.0.1").returncode == 0

    listed = run("pool", "list", "--json")
    assert listed.returncode == 0
    assert json.loads(listed.stdout)[0]["percent_used"] == 50.0
    assert listed.stderr == "warning: pool 'main' ipv4 is 50.0% used (threshold 50%)\n"

    overlap = run("pool", "add", "other", "--range", "10.64.0.0/24")
    assert (overlap.returncode, overlap.stdout) == (1, "")
    assert overlap.stderr.startswith("radiusd: error: ") and overlap.stderr.count("\n") == 1
    usage = run("pool", "add", "other")
    assert (usage.returncode, usage.stdout) == (2, "")
    assert usage.stderr.startswith("radiusd: error: give at least one") and usage.stderr.count("\n") == 1

    leases = run("lease", "list", "--json")
    assert leases.returncode == 0
    assert [(x["address"], x["state"]) for x in json.loads(leases.stdout)] == [("10.64.0.1", "reserved")]
    history = run("lease", "history", "10.64.0.1", "--json")
    assert (history.returncode, json.loads(history.stdout)) == (0, [])
    assert [p["name"] for p in json.loads(run("pool", "list", "--json").stdout)] == ["main"]


def test_messages_name_the_operators_pool(radiusd: Cli) -> None:
    # one pool "home" is three rows inside (home, home:wan, home:pd); no message shows them
    radiusd.ok("nas", "add", "lab", "--address", "192.0.2.7", "--secret", "s3cr3t-x")
    radiusd.ok(
        "pool", "add", "home", "--range", "10.9.0.0/29", "--ipv6-prefix", "2001:db8::/48",
        "--delegated", "2001:db8:100::/40/56", "--nas", "lab",
    )  # fmt: skip
    message = radiusd.error("nas", "remove", "lab")
    assert "pool(s) home" in message and ":wan" not in message and ":pd" not in message
    for user in ("alice", "bob"):  # a reservation names an existing subscriber
        radiusd.ok("subscriber", "add", user, "--password", f"pw-{user}-1")
    radiusd.ok("pool", "reserve", "2001:db8::/64", "--user", "alice")
    message = radiusd.error("pool", "reserve", "2001:db8::/64", "--user", "bob")
    assert "pool 'home' (IPv6 WAN prefixes)" in message and ":wan" not in message
