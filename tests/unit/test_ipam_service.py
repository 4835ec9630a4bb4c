"""IpamService without sockets or a database: a fake writer decides whether each
commit succeeds, so the rollback path, exhaustion and the accounting hooks are exercised."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from typing import Any

import pytest
from structlog.testing import capture_logs

from ipam import LeaseState
from ipam.groups import PoolConfig
from ipam.owners import SLOT_SEP
from radiusd.clock import ClockWatch
from radiusd.config import Settings
from radiusd.model.events import AcctEvent, StatusType
from radiusd.policy.directory import SubscriberView
from radiusd.policy.ipam_service import IpamService, encode_item
from radiusd.store.lease_ops import LeaseOp
from tests.ipam_assign import assign


class FakeWriter:
    def __init__(self) -> None:
        self.fail = False
        self.ops: list[LeaseOp] = []

    def submit(self, op: Any) -> asyncio.Future[None]:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.fail:
            op.rolled_back()
            fut.set_exception(RuntimeError("commit failed"))
        else:
            self.ops.append(op)
            fut.set_result(None)
        return fut


class FakeNas:
    id = 7
    name = "bras"


class FakeRequest:
    nas = FakeNas()

    def __init__(self) -> None:
        self.notes: list[str] = []

    def note(self, message: str) -> None:
        self.notes.append(message)


def sub(name: str, *, static: str | None = None, simultaneous: int | None = None) -> SubscriberView:
    return SubscriberView(name, None, "active", None, None, static, None, None, simultaneous, None)


def service(
    ranges: list[str],
    *,
    v6: bool = False,
    v6_range: str = "2001:db8::/48/56",
    exclude: list[str] | None = None,
    **settings: Any,
) -> tuple[IpamService, FakeWriter]:
    writer = FakeWriter()
    conf = Settings(offer_ttl=30, sticky_ttl=600, **settings)
    svc = IpamService(None, writer, conf, clock=lambda: 1000.0)  # type: ignore[arg-type]
    configs = {"p": PoolConfig(1, "p", "ipv4", None, None, None, None, None, ranges, exclude or [])}
    if v6:
        configs["p:pd"] = PoolConfig(2, "p:pd", "ipv6-pd", None, None, None, None, 56, [v6_range])
    svc.alloc, _ = svc._build(configs, ())
    svc._set_configs(configs)
    return svc, writer


def event(status: StatusType, user: str, ip: str) -> AcctEvent:
    return AcctEvent(
        status, "192.0.2.1", 7, dt.datetime.now(dt.UTC), unique_id=f"{user}-s", username=user, framed_ip=ip
    )


async def test_assign_waits_for_commit_and_writes_row_and_history() -> None:
    svc, writer = service(["10.0.0.0/30"], v6=True)
    out = await assign(svc, FakeRequest(), sub("alice"), None, "p")
    assert out.reject_reason == ""
    assert out.attributes[0] == (8, bytes([10, 0, 0, 1]))
    assert out.attributes[1] == (123, bytes([0, 56]) + bytes.fromhex("20010db8000000"))
    (op,) = writer.ops
    assert op.v4[0]["address"] == "10.0.0.1" and op.v4[0]["state"] == "offered" and op.v4[0]["router_id"] == 7
    assert [h["username"] for h in op.started] == ["alice", "alice"]
    assert svc.alloc.lookup("10.0.0.1").state is LeaseState.OFFERED  # type: ignore[union-attr]


async def test_failed_commit_gives_the_address_back() -> None:
    svc, writer = service(["10.0.0.0/30"])
    writer.fail = True
    with pytest.raises(RuntimeError):
        await assign(svc, FakeRequest(), sub("alice"), None, "p")
    assert svc.alloc.usage()["p"].allocated == 0
    writer.fail = False
    got = [await assign(svc, FakeRequest(), sub(u), None, "p") for u in ("bob", "carol")]
    assert sorted(g.attributes[0][1][3] for g in got) == [1, 2]  # both addresses usable again


async def test_a_static_address_excluded_from_its_pool_is_sent_as_configured() -> None:
    """A static address inside a pool's range but excluded from it (a gateway, an address an
    older import left out) is never handed out by the pool: the subscriber gets it as
    configured, not a dynamic address instead, and nothing is leased."""
    svc, writer = service(["10.0.0.0/29"], exclude=["10.0.0.5"])
    request = FakeRequest()
    out = await assign(svc, request, sub("sam", static="10.0.0.5"), None, None)
    assert out.reject_reason == "" and out.attributes == [(8, bytes([10, 0, 0, 5]))]
    assert writer.ops == [] and svc.alloc.usage()["p"].allocated == 0
    assert any("excluded from pool 'p'" in n for n in request.notes), request.notes
    # a static address the pool does hand out is still reserved and leased, as before
    svc.alloc.reserve("10.0.0.3", "ann")  # what reserve_statics does at start
    kept = await assign(svc, FakeRequest(), sub("ann", static="10.0.0.3"), None, None)
    assert kept.attributes[0] == (8, bytes([10, 0, 0, 3])) and len(writer.ops) == 1


async def test_exhaustion_is_a_reject_never_a_duplicate() -> None:
    svc, _ = service(["10.0.0.0/30"])  # two addresses
    got = [await assign(svc, FakeRequest(), sub(u), None, "p") for u in ("a", "b", "c")]
    assert got[0].attributes != got[1].attributes
    assert "exhausted" in got[2].reject_reason
    assert (await assign(svc, FakeRequest(), sub("x"), None, "nope")).reject_reason


async def test_exhausted_ipv6_side_gives_ipv4_only_by_default() -> None:
    """A dual-stack pool whose prefixes are all out: the subscriber still gets its IPv4 address
    (counted and noted), never a prefix someone else holds."""
    svc, writer = service(["10.0.0.0/29"], v6=True, v6_range="2001:db8::/55/56")  # two /56
    got = [await assign(svc, FakeRequest(), sub(u), None, "p") for u in ("a", "b", "c")]
    assert [len(g.attributes) for g in got] == [2, 2, 1] and got[2].reject_reason == ""
    assert got[2].attributes[0][0] == 8  # Framed-IP-Address only
    assert got[0].attributes[1] != got[1].attributes[1]
    assert any("exhausted: IPv4 only" in n for n in got[2].notes)
    assert svc.ipv6_exhausted == 1 and svc.exhausted == 0
    assert [len(op.v4) + len(op.v6) for op in writer.ops] == [2, 2, 1]


async def test_exhausted_ipv6_side_rejects_when_configured() -> None:
    svc, _ = service(["10.0.0.0/29"], v6=True, v6_range="2001:db8::/55/56", ipv6_exhausted="reject")
    got = [await assign(svc, FakeRequest(), sub(u), None, "p") for u in ("a", "b", "c")]
    assert "exhausted" in got[2].reject_reason and svc.exhausted == 1 and svc.ipv6_exhausted == 0
    assert svc.alloc.usage()["p"].allocated == 2  # the third login's IPv4 address went back


def test_ipv6_exhausted_setting_takes_only_its_words(tmp_path: Any) -> None:
    from radiusd.config import ConfigError, load_settings

    assert load_settings(ipv6_exhausted="reject").ipv6_exhausted == "reject"
    assert Settings().ipv6_exhausted == "ipv4-only"
    with pytest.raises(ConfigError, match="ipv6_exhausted"):
        load_settings(ipv6_exhausted="maybe")


async def test_simultaneous_use_slots_get_their_own_address() -> None:
    svc, _ = service(["10.0.0.0/29"])
    one = await assign(svc, FakeRequest(), sub("alice", simultaneous=2), None, "p")
    two = await assign(svc, FakeRequest(), sub("alice", simultaneous=2), None, "p")
    assert one.attributes != two.attributes
    owners = {lease.owner for lease in svc.alloc.dump() if lease.state is LeaseState.OFFERED}
    assert owners == {"alice", f"alice{SLOT_SEP}2"}
    # accounting maps the slot back to the username
    ip = ".".join(str(b) for b in two.attributes[0][1])
    assert svc.on_start(event(StatusType.START, "alice", ip))
    assert svc.alloc.lookup(ip).state is LeaseState.LEASED  # type: ignore[union-attr]


async def test_hooks_confirm_renew_release_adopt_conflict() -> None:
    svc, _ = service(["10.0.0.0/29"])
    await assign(svc, FakeRequest(), sub("alice"), None, "p")
    (op,) = svc.on_start(event(StatusType.START, "alice", "10.0.0.1"))
    assert isinstance(op, LeaseOp) and op.v4[0]["state"] == "leased" and not op.started
    lease = svc.alloc.lookup("10.0.0.1")
    assert lease is not None and lease.state is LeaseState.LEASED and lease.expires == 1000 + 3 * 300 + 120
    assert svc.on_interim(event(StatusType.INTERIM_UPDATE, "alice", "10.0.0.1"))
    # a session on an address the server did not hand out: adopted when free ...
    (adopted,) = svc.on_start(event(StatusType.START, "bob", "10.0.0.5"))
    assert adopted.v4[0]["owner"] == "bob" and adopted.started[0]["username"] == "bob"  # type: ignore[attr-defined]
    # ... a conflict (logged, nothing written) when somebody holds it
    assert svc.on_start(event(StatusType.START, "carol", "10.0.0.5")) == []
    assert svc.conflicts == 1
    (stop,) = svc.on_stop(event(StatusType.STOP, "alice", "10.0.0.1"))
    assert stop.v4[0]["state"] == "released" and stop.ended[0]["a"] == "10.0.0.1"  # type: ignore[attr-defined]
    assert stop.v4[0]["guard"] == "release"  # type: ignore[attr-defined]
    assert svc.on_stop(event(StatusType.STOP, "alice", "10.0.0.1")) == []  # retransmission
    (reset,) = svc.on_nas_reset("192.0.2.1", event(StatusType.ACCOUNTING_ON, "", ""))
    assert [r["address"] for r in reset.v4] == ["10.0.0.5"]  # type: ignore[attr-defined]


async def test_without_pools_the_hooks_return_nothing_and_a_new_pool_is_served() -> None:
    """A NAS handing out its own addresses: no pool, no lease work per accounting request;
    once a pool exists the same hooks adopt the address (the check is made per call)."""
    svc, _ = service(["10.0.0.0/29"])
    full = svc.alloc
    svc.alloc, _ = svc._build({}, ())
    assert not svc.alloc.has_pools() and full.has_pools()
    for status in (StatusType.START, StatusType.INTERIM_UPDATE, StatusType.STOP):
        hook = {StatusType.START: svc.on_start, StatusType.INTERIM_UPDATE: svc.on_interim}.get(
            status, svc.on_stop
        )
        assert hook(event(status, "bob", "10.0.0.5")) == []
    assert svc.conflicts == 0
    svc.alloc = full
    (adopted,) = svc.on_start(event(StatusType.START, "bob", "10.0.0.5"))
    assert adopted.v4[0]["owner"] == "bob"  # type: ignore[attr-defined]


async def test_a_swept_session_releases_its_lease_only_if_no_node_renewed_it() -> None:
    svc, _ = service(["10.0.0.0/29"])
    await assign(svc, FakeRequest(), sub("alice"), None, "p")
    svc.on_start(event(StatusType.START, "alice", "10.0.0.1"))
    swept = dataclasses.replace(event(StatusType.STOP, "alice", "10.0.0.1"), swept=True)
    (op,) = svc.on_stop(swept)
    assert op.v4[0]["guard"] == "expire"  # type: ignore[attr-defined]
    (start,) = svc.on_start(event(StatusType.START, "alice", "10.0.0.1"))
    assert start.v4[0]["guard"] == "hold"  # type: ignore[attr-defined]


async def test_failed_hook_write_is_rewritten_by_the_sweep() -> None:
    svc, writer = service(["10.0.0.0/29"])
    await assign(svc, FakeRequest(), sub("alice"), None, "p")
    (op,) = svc.on_start(event(StatusType.START, "alice", "10.0.0.1"))
    op.rolled_back()
    writer.ops.clear()
    await svc.sweep_once()
    assert [o.v4[0]["state"] for o in writer.ops] == ["leased"]


async def test_sweep_expires_unconfirmed_offers() -> None:
    now = [1000.0]
    svc, writer = service(["10.0.0.0/30"])
    svc.clock = lambda: now[0]
    await assign(svc, FakeRequest(), sub("alice"), None, "p")
    now[0] += 31
    assert await svc.sweep_once() == 1
    assert writer.ops[-1].v4[0]["state"] == "released" and writer.ops[-1].ended
    assert svc.check_utilisation() == []


def test_encode_item() -> None:
    assert encode_item("ipv4", "100.64.0.1") == bytes([100, 64, 0, 1])
    assert encode_item("ipv6-wan", "2001:db8:0:1::/64") == bytes([0, 64]) + bytes.fromhex("20010db800000001")


def test_utilisation_warning_names_the_operators_pool_and_family() -> None:
    from structlog.testing import capture_logs

    svc, _ = service(["10.0.0.0/30"], v6=True, v6_range="2001:db8::/55/56", utilisation_warning_pct=50)
    svc.alloc.reserve("2001:db8::/56")  # 1 of the 2 delegated prefixes: 50 %
    with capture_logs() as logs:
        assert svc.check_utilisation() == ["p:pd"]
    [line] = [e for e in logs if e["event"] == "ipam.utilisation-high"]
    assert (line["pool"], line["kind"], line["percent_used"]) == ("p", "ipv6-pd", 50.0)


async def test_a_wall_clock_step_expires_nothing() -> None:
    """A forward step of 20 minutes is not time passing: every lease keeps the time it had left."""
    wall, mono = [1000.0], [50.0]
    svc, _ = service(["10.0.0.0/29"])
    svc.clock = lambda: wall[0]
    svc.watch = ClockWatch(30.0, wall=lambda: wall[0], mono=lambda: mono[0])
    await assign(svc, FakeRequest(), sub("alice"), None, "p")
    svc.on_start(event(StatusType.START, "alice", "10.0.0.1"))  # leased for 3 x 300 + 120 s
    wall[0] += 1200  # NTP steps the clock; no time passed
    with capture_logs() as logs:
        assert await svc.sweep_once() == 0
    assert [e["event"] for e in logs if e["event"] == "clock.jump"] == ["clock.jump"]
    lease = svc.alloc.lookup("10.0.0.1")
    assert lease is not None and lease.state is LeaseState.LEASED and lease.expires == 1000 + 1020 + 1200
    wall[0] += 1021  # now the lease's time is really up
    mono[0] += 1021
    assert await svc.sweep_once() == 1


async def test_start_without_ipv6_attributes_confirms_every_item_of_the_accept() -> None:
    svc, _ = service(["10.0.0.0/29"], v6=True)
    out = await assign(svc, FakeRequest(), sub("alice"), None, "p")
    assert len(out.attributes) == 2  # an address and a delegated prefix
    pd = next(lease for lease in svc.alloc.by_owner("alice") if lease.pool == "p:pd")
    (op,) = svc.on_start(event(StatusType.START, "alice", "10.0.0.1"))  # the NAS reports IPv4 only
    assert {r["prefix"] for r in op.v6} == {pd.address}  # type: ignore[attr-defined]
    held = svc.alloc.lookup(pd.address)
    assert held is not None and held.state is LeaseState.LEASED
    assert held.expires == 1000 + 3 * 300 + 120  # renewed with the session, not left to offer_ttl


async def test_a_nas_reporting_its_own_prefix_leaves_the_offered_one_alone() -> None:
    svc, _ = service(["10.0.0.0/29"], v6=True)
    await assign(svc, FakeRequest(), sub("alice"), None, "p")
    offered = next(lease for lease in svc.alloc.by_owner("alice") if lease.pool == "p:pd")
    other = "2001:db8:0:ff00::/56"
    ev = dataclasses.replace(event(StatusType.START, "alice", "10.0.0.1"), delegated_ipv6_prefix=other)
    svc.on_start(ev)
    mine = svc.alloc.lookup(other)
    assert mine is not None and mine.state is LeaseState.LEASED and mine.owner == "alice"
    assert svc.alloc.lookup(offered.address).state is not LeaseState.LEASED  # type: ignore[union-attr]
