"""Accounting-On/Off with several nodes, without a database: the policy adds the operation that
closes the NAS's other sessions in the database and takes what it closed into memory; the IPAM
service releases the NAS's stored leases its memory did not hold (radiusd.store.nas_reset)."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import replace

from ipam import Lease, LeaseState
from radiusd.codec.packet import Packet
from radiusd.model.events import AcctEvent, StatusType
from radiusd.model.sessions import CLOSED, LiveSession
from radiusd.policy.accounting import AccountingPolicy
from radiusd.policy.sessions import SessionTable
from radiusd.store.lease_ops import LeaseOp
from tests.ipam_assign import assign
from tests.unit.test_accounting_state import T0, D, FakeWriter, Op, _FakeOp, request, start_request
from tests.unit.test_ipam_service import FakeRequest, event, service, sub

WHEN = dt.datetime.fromtimestamp(T0 + 60, dt.UTC)


class ResetOp(_FakeOp):
    order = 55

    def __init__(self, ev: AcctEvent, started_before: dt.datetime) -> None:
        self.ev = ev
        self.started_before = started_before
        self.closed: list[LiveSession] = []


def elsewhere(uid: str, user: str) -> LiveSession:
    """A session of the same NAS that another node wrote and closed, as the database returns it."""
    return LiveSession(
        uid, uid, user, "192.0.2.1", WHEN - dt.timedelta(hours=1), WHEN, router_id=7, stopped_at=WHEN,
        terminate_cause="NAS-Reboot", status=CLOSED, rev=3,
    )  # fmt: skip


def policy() -> tuple[AccountingPolicy, FakeWriter, list[ResetOp]]:
    made: list[ResetOp] = []

    def make(ev: AcctEvent, started_before: dt.datetime) -> ResetOp:
        made.append(ResetOp(ev, started_before))
        return made[-1]

    w = FakeWriter()
    return AccountingPolicy(SessionTable(), w, Op, dictionary=D, make_reset_op=make), w, made


def test_accounting_on_adds_the_database_closure_and_takes_its_sessions_into_memory() -> None:
    async def go() -> None:
        p, w, made = policy()
        started = asyncio.ensure_future(p.handle(start_request()))  # type: ignore[arg-type]
        await asyncio.sleep(0)
        w.resolve_all()
        await started
        on = asyncio.ensure_future(p.handle(request(T0 + 60, Acct_Status_Type="Accounting-On")))  # type: ignore[arg-type]
        await asyncio.sleep(0)
        (reset,) = made
        assert w.ops[-1] is reset and reset.ev.status is StatusType.ACCOUNTING_ON
        assert reset.started_before == WHEN == reset.ev.event_time
        assert not p.table.open_of_nas("192.0.2.1")  # memory closed its own at once
        assert isinstance(w.ops[-2], Op) and [s.username for s in w.ops[-2].change.closed] == ["alice"]
        reset.closed = [elsewhere("b-1", "bob")]  # what the transaction closed besides
        w.resolve_all()
        assert isinstance(await on, Packet)
        bob = p.table.get("b-1")
        assert bob is not None and (bob.status, bob.terminate_cause, bob.rev) == (CLOSED, "NAS-Reboot", 3)
        assert p.table.open_sessions("bob") == 0 and p.table.pending("b-1") == 0

    asyncio.run(go())


def test_a_failed_commit_takes_nothing_and_sends_no_reply() -> None:
    async def go() -> None:
        p, w, made = policy()
        on = asyncio.ensure_future(p.handle(request(T0 + 60, Acct_Status_Type="Accounting-Off")))  # type: ignore[arg-type]
        await asyncio.sleep(0)
        (reset,) = made
        reset.closed = [elsewhere("b-1", "bob")]
        w.fail_all()
        assert (await asyncio.gather(on, return_exceptions=True))[0] is not None
        assert p.table.get("b-1") is None

    asyncio.run(go())


def test_sessions_started_after_the_nas_sent_it_are_spared_even_with_a_wrong_clock() -> None:
    """A NAS without a battery-backed clock sends Accounting-On before its clock is set: the
    sessions to close are those started before it was sent by this server's clock."""

    async def go() -> None:
        p, w, made = policy()
        on = request(T0 + 65, Acct_Status_Type="Accounting-On", Event_Timestamp=0, Acct_Delay_Time=5)
        p.handle(on)
        (reset,) = made
        assert reset.ev.event_time == dt.datetime.fromtimestamp(0, dt.UTC)  # stopped_at, as told
        assert reset.started_before == WHEN  # arrival less Acct-Delay-Time
        later = request(T0 + 65, Acct_Status_Type="Accounting-On", Event_Timestamp=int(T0 + 600))
        p.handle(later)
        assert made[-1].started_before == dt.datetime.fromtimestamp(T0 + 600, dt.UTC)  # the later
        w.resolve_all()

    asyncio.run(go())


def test_a_session_with_a_write_pending_here_is_left_to_that_write() -> None:
    table = SessionTable()
    p = AccountingPolicy(table, FakeWriter(), Op, dictionary=D)
    mine = replace(elsewhere("b-1", "bob"), status="open", stopped_at=None, terminate_cause=None, rev=2)
    change = table.begin()
    change.put(mine)  # a request of this node on that session, not committed yet
    p.doubt.take_closed([elsewhere("b-1", "bob")])
    now = table.get("b-1")
    assert now is not None and now.is_open  # its commit (or its loss and reread) decides
    p.doubt.sessions.add("b-2")  # in doubt: its reread decides
    p.doubt.take_closed([elsewhere("b-2", "carol")])
    assert table.get("b-2") is None


async def test_the_stored_leases_memory_did_not_hold_are_released() -> None:
    svc, _ = service(["10.0.0.0/29"])
    await assign(svc, FakeRequest(), sub("alice"), None, "p")
    svc.on_start(event(StatusType.START, "alice", "10.0.0.1"))  # alice's lease, known here
    known = svc.alloc.lookup("10.0.0.1")
    assert known is not None
    bob = Lease("p", "10.0.0.3", LeaseState.LEASED, "bob", 2000.0, "7", "bob-s")  # another node's
    carol = Lease("p", "10.0.0.4", LeaseState.OFFERED, "carol", 1030.0, "7", None)
    op = svc._release_stored("192.0.2.1", [known, bob, carol])
    assert isinstance(op, LeaseOp)
    assert sorted((r["address"], r["state"], r["guard"]) for r in op.v4) == [
        ("10.0.0.3", "released", "release"),
        ("10.0.0.4", "released", "release"),
    ]
    assert sorted(e["a"] for e in op.ended) == ["10.0.0.3", "10.0.0.4"]
    for address, owner in (("10.0.0.3", "bob"), ("10.0.0.4", "carol")):
        held = svc.alloc.lookup(address)
        assert held is not None and (held.state, held.owner) == (LeaseState.RELEASED, owner)  # sticky hold
    still = svc.alloc.lookup("10.0.0.1")
    assert still is not None and still.state is LeaseState.LEASED  # memory held it live as stored
    assert svc._release_stored("192.0.2.1", [still]) is None


async def test_on_nas_reset_reads_the_stored_leases_only_on_postgresql() -> None:
    svc, _ = service(["10.0.0.0/29"])
    assert svc.on_nas_reset("192.0.2.1", event(StatusType.ACCOUNTING_ON, "", "")) == []  # no engine

    class Engine:
        class dialect:
            name = "postgresql"

    svc.engine = Engine()  # type: ignore[assignment]
    (op,) = svc.on_nas_reset("192.0.2.1", event(StatusType.ACCOUNTING_ON, "", ""))
    assert type(op).__name__ == "NasLeasesOp" and op.router_id == 7  # type: ignore[attr-defined]
