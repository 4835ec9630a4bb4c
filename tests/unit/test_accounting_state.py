"""The accounting state machine, identity, counters and rollback, without sockets or a database."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
from collections.abc import Sequence
from typing import Any, ClassVar

import pytest

from radiusd.clock import ClockWatch
from radiusd.codec.codes import Code
from radiusd.codec.dictionary import default_dictionary
from radiusd.codec.packet import Packet
from radiusd.model.events import AcctEvent, OtherEvent, StatusType, unique_session_id
from radiusd.model.request import NasClient, Request
from radiusd.model.sessions import Change, LiveSession
from radiusd.model.writes import WriterBusy
from radiusd.policy.accounting import AccountingPolicy
from radiusd.policy.accounting_events import OtherStatusType, other_event, parse_event
from radiusd.policy.accounting_state import apply_event
from radiusd.policy.sessions import SessionTable

D = default_dictionary()
NAS = NasClient(id=7, name="bras-1", address="192.0.2.1", secret=b"s3cret")
T0 = 1_700_000_000.0


def request(received: float = T0, nas: NasClient = NAS, **attrs: Any) -> Request:
    p = Packet(Code.ACCOUNTING_REQUEST, 1, b"\x01" * 16, dictionary=D)
    for name, value in attrs.items():
        for v in value if isinstance(value, list) else [value]:
            p.add(name.replace("_", "-"), v)
    return Request(p, p.to_bytes(), nas, ("192.0.2.1", 1813), received)


def ev(status: str, *, received: float = T0, **attrs: Any) -> AcctEvent:
    base: dict[str, Any] = {"User_Name": "alice", "Acct_Session_Id": "s1", "NAS_Port": 3}
    base.update(attrs)
    return parse_event(request(received, Acct_Status_Type=status, **base), D)


def run(table: SessionTable, e: AcctEvent) -> Change:
    ch = table.begin()
    apply_event(table, e, ch)
    return ch


# -- identity, counters, time ---------------------------------------------------------------


def test_unique_id_is_md5_of_length_prefixed_fields() -> None:
    expected = hashlib.md5(b"9:192.0.2.12:s15:alice1:3").hexdigest()
    assert unique_session_id("192.0.2.1", b"s1", b"alice", 3) == expected
    # Class (RFC 2865 §5.25) joins the identity when present; field boundaries matter
    assert unique_session_id("192.0.2.1", b"s1", b"alice", 3, [b"c"]) != expected
    assert unique_session_id("192.0.2.1", b"s1a", b"lice", 3) != expected


def test_retransmission_with_new_delay_is_same_session_and_time() -> None:
    first = ev("Start", received=T0 + 2, Acct_Delay_Time=2)
    again = ev("Start", received=T0 + 7, Acct_Delay_Time=7)
    assert first.unique_id == again.unique_id
    assert first.event_time == again.event_time == dt.datetime.fromtimestamp(T0, dt.UTC)


def test_event_timestamp_wins_over_arrival() -> None:
    e = ev("Interim-Update", received=T0 + 100, Event_Timestamp=int(T0), Acct_Delay_Time=5)
    assert e.event_time == dt.datetime.fromtimestamp(T0, dt.UTC)


def test_gigawords_make_64_bit_counters() -> None:
    e = ev("Interim-Update", Acct_Input_Octets=5, Acct_Input_Gigawords=2, Acct_Output_Gigawords=1)
    assert e.input_octets == 2 * 2**32 + 5
    assert e.output_octets == 2**32
    assert e.status is StatusType.INTERIM_UPDATE


def test_class_and_attributes_parsed() -> None:
    e = ev(
        "Start",
        Class=b"plan-a",
        Framed_IP_Address="10.1.2.3",
        Framed_IPv6_Prefix="2001:db8:1::/64",
        NAS_Port_Type="Ethernet",
    )
    assert e.class_ == b"plan-a".hex()
    assert e.framed_ip == "10.1.2.3"
    assert e.framed_ipv6_prefix == "2001:db8:1::/64"
    assert e.nas_port_type == "Ethernet"
    assert e.unique_id == unique_session_id("192.0.2.1", b"s1", b"alice", 3, [b"plan-a"])


def test_invalid_requests_are_dropped_not_answered() -> None:
    policy, _ = make_policy()
    invalid = request(User_Name="a", Acct_Session_Id="x")
    assert policy.handle(invalid) is None and invalid.drop_reason == "invalid-accounting"  # no status type
    assert policy.handle(request(Acct_Status_Type="Start", User_Name="a")) is None  # no session id
    assert policy.dropped_invalid == 2


# -- state machine ---------------------------------------------------------------------------


def test_start_interim_stop_usage_and_rows() -> None:
    t = SessionTable()
    ch = run(t, ev("Start"))
    assert t.open_sessions("alice") == 1
    assert [u.sessions for u in ch.usage] == [1]
    ch = run(t, ev("Interim-Update", received=T0 + 60, Acct_Session_Time=60, Acct_Input_Octets=100))
    assert (ch.usage[0].input_octets, ch.usage[0].session_time, ch.usage[0].sessions) == (100, 60, 0)
    assert ch.interims[0].input_octets == 100
    ch = run(
        t,
        ev("Stop", received=T0 + 90, Acct_Session_Time=90, Acct_Input_Octets=150, Acct_Terminate_Cause=1),
    )
    s = ch.sessions[0]
    assert (s.status, s.terminate_cause, s.input_total) == ("closed", "User-Request", 150)
    assert ch.closed == [s]
    assert ch.usage[0].input_octets == 50
    assert t.open_sessions("alice") == 0


def test_retransmitted_interim_changes_nothing() -> None:
    t = SessionTable()
    run(t, ev("Start")).committed()
    run(t, ev("Interim-Update", received=T0 + 60, Acct_Session_Time=60, Acct_Input_Octets=9)).committed()
    ch = run(
        t,
        ev("Interim-Update", received=T0 + 63, Acct_Delay_Time=3, Acct_Session_Time=60, Acct_Input_Octets=9),
    )
    assert not ch.writes and not ch.depends


def test_stop_without_start_creates_closed_session() -> None:
    t = SessionTable()
    ch = run(t, ev("Stop", received=T0 + 100, Acct_Session_Time=100, Acct_Output_Octets=7))
    s = ch.sessions[0]
    assert s.status == "closed" and s.started_at == dt.datetime.fromtimestamp(T0, dt.UTC)
    assert ch.closed == [s] and ch.usage[0].sessions == 1 and ch.usage[0].output_octets == 7
    assert t.open_sessions("alice") == 0


def test_interim_without_start_creates_open_session() -> None:
    t = SessionTable()
    ch = run(t, ev("Interim-Update", received=T0 + 30, Acct_Session_Time=30, Acct_Input_Octets=5))
    assert ch.sessions[0].is_open and t.open_sessions("alice") == 1
    assert ch.usage[0].sessions == 1 and ch.usage[0].input_octets == 5


def test_interim_after_stop_does_not_reopen() -> None:
    t = SessionTable()
    run(t, ev("Start")).committed()
    run(t, ev("Stop", received=T0 + 60, Acct_Session_Time=60, Acct_Input_Octets=10)).committed()
    ch = run(t, ev("Interim-Update", received=T0 + 50, Acct_Session_Time=50, Acct_Input_Octets=8))
    assert not ch.writes
    assert t.open_sessions("alice") == 0 and t.get(ch_uid()).status == "closed"  # type: ignore[union-attr]


def ch_uid() -> str:
    return unique_session_id("192.0.2.1", b"s1", b"alice", 3)


def test_counter_reset_makes_new_baseline() -> None:
    t = SessionTable()
    run(
        t, ev("Interim-Update", received=T0 + 60, Acct_Session_Time=60, Acct_Input_Octets=4_000_000_000)
    ).committed()
    ch = run(t, ev("Interim-Update", received=T0 + 120, Acct_Session_Time=120, Acct_Input_Octets=500))
    s = ch.sessions[0]
    assert (s.input_octets, s.input_base, s.input_total) == (500, 4_000_000_000, 4_000_000_500)
    assert ch.usage[0].input_octets == 500
    assert ch.interims[0].input_octets == 4_000_000_500  # cumulative totals in the time series


def test_late_lower_interim_is_not_a_reset() -> None:
    t = SessionTable()
    run(t, ev("Interim-Update", received=T0 + 120, Acct_Session_Time=120, Acct_Input_Octets=900)).committed()
    ch = run(t, ev("Interim-Update", received=T0 + 60, Acct_Session_Time=60, Acct_Input_Octets=400))
    assert not ch.writes
    assert t.get(ch_uid()).input_total == 900  # type: ignore[union-attr]


def test_accounting_on_closes_the_nas_sessions_idempotently() -> None:
    t = SessionTable()
    run(t, ev("Start")).committed()
    run(t, ev("Start", Acct_Session_Id="s2", User_Name="bob")).committed()
    other = NasClient(id=8, name="bras-2", address="192.0.2.2", secret=b"x")
    run(
        t,
        parse_event(request(nas=other, Acct_Status_Type="Start", User_Name="carol", Acct_Session_Id="z"), D),
    )
    on = parse_event(request(T0 + 5, Acct_Status_Type="Accounting-On"), D)
    ch = run(t, on)
    assert sorted(s.username for s in ch.closed) == ["alice", "bob"]
    assert {s.terminate_cause for s in ch.closed} == {"NAS-Reboot"}
    assert t.open_sessions("carol") == 1
    ch.committed()
    assert not run(t, on).writes


def test_sweep_closes_stale_sessions_with_lost_service() -> None:
    policy, writer = make_policy()
    run(policy.table, ev("Start")).committed()
    run(policy.table, ev("Start", Acct_Session_Id="s2", Acct_Interim_Interval=3600)).committed()

    async def go() -> int:
        # default interval 300 s, k = 3, grace 30 s: stale after 930 s without news
        assert await policy.sweep_once(dt.datetime.fromtimestamp(T0 + 929, dt.UTC)) == 0
        now = dt.datetime.fromtimestamp(T0 + 931, dt.UTC)
        task = asyncio.ensure_future(policy.sweep_once(now))
        await asyncio.sleep(0)
        writer.resolve_all()
        return await task

    assert asyncio.run(go()) == 1
    closed = list(writer.ops[0].change.sessions)
    assert [s.terminate_cause for s in closed] == ["Lost-Service"]
    assert closed[0].stopped_at == dt.datetime.fromtimestamp(T0, dt.UTC)
    assert policy.table.open_sessions("alice") == 1  # s2 has a long interval


def test_a_wall_clock_step_makes_no_session_stale() -> None:
    """Sessions are judged on the time that passed, not on a step of the wall clock."""
    wall, mono = [T0 + 10.0], [0.0]
    w = FakeWriter()
    policy = AccountingPolicy(SessionTable(), w, Op, dictionary=D, interim_grace=30,
                              watch=ClockWatch(30.0, wall=lambda: wall[0], mono=lambda: mono[0]))  # fmt: skip
    run(policy.table, ev("Start")).committed()

    async def sweep() -> int:
        task = asyncio.ensure_future(policy.sweep_once(dt.datetime.fromtimestamp(wall[0], dt.UTC)))
        await asyncio.sleep(0)
        w.resolve_all()
        return await task

    wall[0] += 1200  # NTP steps the clock forward 20 minutes; 0 s passed
    assert asyncio.run(sweep()) == 0
    wall[0] += 900  # 900 s really pass: 900 + 10 < 930, still alive
    mono[0] += 900
    assert asyncio.run(sweep()) == 0
    wall[0] += 30  # 940 s of silence: stale
    mono[0] += 30
    assert asyncio.run(sweep()) == 1


# -- rollback ---------------------------------------------------------------------------------


def test_rollback_restores_and_cancels_stacked_changes_in_any_order() -> None:
    for order in ("forward", "reverse"):
        t = SessionTable()
        run(t, ev("Start")).committed()
        a = run(t, ev("Interim-Update", received=T0 + 60, Acct_Session_Time=60, Acct_Input_Octets=10))
        b = run(t, ev("Interim-Update", received=T0 + 120, Acct_Session_Time=120, Acct_Input_Octets=30))
        assert b.usage[0].input_octets == 20
        for c in (a, b) if order == "forward" else (b, a):
            c.rollback()
        assert a.cancelled and b.cancelled
        s = t.get(ch_uid())
        assert s is not None and s.input_total == 0 and s.session_time == 0
        assert t.pending(ch_uid()) == 0
        # the retransmissions are then computed afresh: the full usage, counted once
        a2 = run(t, ev("Interim-Update", received=T0 + 60, Acct_Session_Time=60, Acct_Input_Octets=10))
        b2 = run(t, ev("Interim-Update", received=T0 + 120, Acct_Session_Time=120, Acct_Input_Octets=30))
        assert a2.usage[0].input_octets + b2.usage[0].input_octets == 30


def test_rollback_of_first_sight_forgets_the_session() -> None:
    t = SessionTable()
    ch = run(t, ev("Start"))
    ch.rollback()
    assert t.get(ch_uid()) is None and t.open_sessions("alice") == 0


def test_duplicate_waits_on_pending_and_fails_with_it() -> None:
    t = SessionTable()
    a = run(t, ev("Start"))
    dup = run(t, ev("Start", received=T0 + 3, Acct_Delay_Time=3))
    assert not dup.writes and dup.depends
    a.rollback()
    assert dup.cancelled


# -- the handler with a fake writer -------------------------------------------------------------


class FakeWriter:
    def __init__(self) -> None:
        self.ops: list[Any] = []
        self.futs: list[asyncio.Future[None]] = []
        self.busy = False

    def submit(self, op: Any) -> asyncio.Future[None]:
        if self.busy:
            raise WriterBusy("full")
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.ops.append(op)
        self.futs.append(fut)
        return fut

    def resolve_all(self) -> None:
        for f in self.futs:
            if not f.done():
                f.set_result(None)

    def fail_all(self, upto: int | None = None) -> None:
        """Fail what is unsettled (up to ``ops[upto]``: one batch, not what was queued after it)."""
        for op, f in zip(self.ops[:upto], self.futs[:upto], strict=True):
            if not f.done():
                op.rolled_back()
                f.set_exception(ConnectionError("database away"))


class _FakeOp:
    """An Operation (radiusd.store.writer) for the fake writer, which never applies a batch."""

    order: ClassVar[int] = 0

    @classmethod
    async def apply_batch(cls, conn: Any, ops: Sequence[Any]) -> None:
        raise AssertionError("the fake writer never applies a batch")

    def rolled_back(self) -> None:
        pass


class Op(_FakeOp):
    order = 50

    def __init__(self, change: Change) -> None:
        self.change = change

    def rolled_back(self) -> None:
        self.change.rollback()


def make_policy() -> tuple[AccountingPolicy, FakeWriter]:
    w = FakeWriter()
    return AccountingPolicy(SessionTable(), w, Op, dictionary=D, interim_grace=30), w


def start_request(**extra: Any) -> Request:
    return request(Acct_Status_Type="Start", User_Name="alice", Acct_Session_Id="s1", NAS_Port=3, **extra)


def test_reply_only_after_commit() -> None:
    async def go() -> None:
        policy, w = make_policy()
        result = policy.handle(start_request())
        task = asyncio.ensure_future(result)  # type: ignore[arg-type]
        await asyncio.sleep(0)
        assert not task.done()
        w.resolve_all()
        reply = await task
        assert isinstance(reply, Packet) and reply.code == Code.ACCOUNTING_RESPONSE
        assert policy.table.pending(ch_uid()) == 0
        # a retransmission after the commit is answered at once, without a write
        again = policy.handle(start_request(Acct_Delay_Time=4))
        assert isinstance(again, Packet) and len(w.ops) == 1

    asyncio.run(go())


def test_commit_failure_sends_nothing_and_restores_memory() -> None:
    async def go() -> None:
        policy, w = make_policy()
        task = asyncio.ensure_future(policy.handle(start_request()))  # type: ignore[arg-type]
        dup = asyncio.ensure_future(policy.handle(start_request(Acct_Delay_Time=1)))  # type: ignore[arg-type]
        await asyncio.sleep(0)
        assert policy.table.open_sessions("alice") == 1
        w.fail_all()
        with pytest.raises(ConnectionError):
            await task
        with pytest.raises(ConnectionError):
            await dup
        assert policy.table.open_sessions("alice") == 0 and len(policy.table) == 0

    asyncio.run(go())


def test_writer_busy_drops_and_counts() -> None:
    async def go() -> None:
        policy, w = make_policy()
        w.busy = True
        refused = start_request()
        assert policy.handle(refused) is None and refused.drop_reason == "writer-busy"
        assert policy.dropped_busy == 1 and len(policy.table) == 0

    asyncio.run(go())


# -- Acct-Status-Types that are not session events ----------------------------------------------


def recorded(req: Request) -> OtherEvent:
    """The OtherEvent of ``req`` as the handler builds it: from what parse_event raises."""
    with pytest.raises(OtherStatusType) as raised:
        parse_event(req, D)
    return other_event(req, raised.value.status, raised.value.event_time, D)


def test_other_status_digest_ignores_only_what_a_retransmission_changes() -> None:
    """RFC 5080 §2.2.1: a retransmission changes the Identifier and Acct-Delay-Time, nothing else;
    a different Acct-Session-Id or Event-Timestamp is a different event."""

    def failed(received: float = T0, **attrs: Any) -> OtherEvent:
        base: dict[str, Any] = {"Acct_Status_Type": "Failed", "User_Name": "bob", "Acct_Session_Id": "x1"}
        base.update(attrs)
        return recorded(request(received, **base))

    first = failed(T0 + 2, Acct_Delay_Time=2)
    again = failed(T0 + 9, Acct_Delay_Time=9)
    assert first.digest == again.digest and first.event_time == again.event_time
    assert failed(Acct_Session_Id="x2").digest != first.digest
    assert failed(Event_Timestamp=int(T0)).digest != failed(Event_Timestamp=int(T0) + 60).digest
    assert (first.status_type, first.status_name, first.username, first.nas_address) == (
        15,
        "Failed",
        "bob",
        NAS.address,
    )
    assert 'User-Name = "bob"' in first.attributes.splitlines()
    assert recorded(request(Acct_Status_Type=9999, User_Name="bob")).status_name == "9999"


class EventOp(_FakeOp):
    order = 60

    def __init__(self, event: OtherEvent) -> None:
        self.event = event

    def rolled_back(self) -> None:
        pass


def test_other_status_is_recorded_then_answered_and_dropped_without_a_writer_for_it() -> None:
    async def go() -> None:
        w = FakeWriter()
        policy = AccountingPolicy(SessionTable(), w, Op, dictionary=D, make_event_op=EventOp)
        task = asyncio.ensure_future(policy.handle(request(Acct_Status_Type="Failed", User_Name="bob")))  # type: ignore[arg-type]
        await asyncio.sleep(0)
        assert not task.done() and [type(op) for op in w.ops] == [EventOp]  # answered only after the commit
        w.resolve_all()
        reply = await task
        assert isinstance(reply, Packet) and reply.code == Code.ACCOUNTING_RESPONSE
        assert policy.other_events == 1 and not list(policy.table.open_all())
        # the commit failed: no reply (the NAS retransmits)
        failing = asyncio.ensure_future(policy.handle(request(Acct_Status_Type=9, User_Name="bob")))  # type: ignore[arg-type]
        await asyncio.sleep(0)
        w.fail_all()
        with pytest.raises(ConnectionError):
            await failing
        # without make_event_op (the seam left out) the request is dropped as before
        bare, _ = make_policy()
        assert bare.handle(request(Acct_Status_Type="Failed", User_Name="bob")) is None
        assert bare.dropped_invalid == 1

    asyncio.run(go())


# -- commits whose outcome is unknown ------------------------------------------------------------


class Reload(_FakeOp):
    order = 0

    def __init__(self, unique_ids: list[str], xids: list[int]) -> None:
        self.unique_ids, self.xids = unique_ids, xids
        self.found: list[LiveSession] = []
        self.settled = True  # a test sets False: the lost transaction was still running

    def rolled_back(self) -> None:
        self.found = []


def test_sessions_in_doubt_wait_for_what_the_database_holds() -> None:
    """The writer lost its connection during the COMMIT of an Interim-Update (it may have
    committed): requests of that session are not answered until it is reread, then they are
    computed on the stored state, so the committed delta is not counted again."""

    async def go() -> None:
        w = FakeWriter()
        policy = AccountingPolicy(SessionTable(), w, Op, dictionary=D, make_reload_op=Reload)
        uid = ch_uid()
        start = asyncio.ensure_future(policy.handle(start_request()))  # type: ignore[arg-type]
        await asyncio.sleep(0)
        w.resolve_all()
        await start
        first = request(Acct_Status_Type="Interim-Update", User_Name="alice", Acct_Session_Id="s1",
                        NAS_Port=3, Acct_Session_Time=60, Acct_Input_Octets=1000)  # fmt: skip
        lost = asyncio.ensure_future(policy.handle(first))  # type: ignore[arg-type]
        await asyncio.sleep(0)
        committed = policy.table.get(uid)  # what the lost commit wrote
        assert committed is not None
        batch = len(w.ops)
        policy.commit_in_doubt(w.ops[-1:])  # as Writer.on_in_doubt, before the rollback
        w.fail_all(upto=batch)
        with pytest.raises(ConnectionError):
            await lost
        assert policy.in_doubt == 1 and [type(op) for op in w.ops[-1:]] == [Reload]
        assert policy.table.get(uid) is not committed  # rolled back in memory
        newer = request(Acct_Status_Type="Interim-Update", User_Name="alice", Acct_Session_Id="s1",
                        NAS_Port=3, Acct_Session_Time=120, Acct_Input_Octets=3000)  # fmt: skip
        assert policy.handle(newer) is None and policy.dropped_in_doubt == 1
        assert newer.drop_reason == "commit-in-doubt"
        on = request(Acct_Status_Type="Accounting-On")
        assert policy.handle(on) is None and policy.dropped_in_doubt == 2  # NAS resets wait too
        assert len(w.ops) == 3  # asked once: the Reload already queued
        reload = w.ops[-1]
        assert isinstance(reload, Reload) and reload.unique_ids == [uid]
        reload.found = [committed]
        w.resolve_all()
        await asyncio.sleep(0)
        assert policy.in_doubt == 0 and policy.table.get(uid) == committed
        again = asyncio.ensure_future(policy.handle(newer))  # type: ignore[arg-type]
        await asyncio.sleep(0)
        change = w.ops[-1].change
        assert [(u.input_octets, u.session_time) for u in change.usage] == [(2000, 60)]
        w.resolve_all()
        assert isinstance(await again, Packet)

    asyncio.run(go())


def test_failed_reread_keeps_the_doubt_and_is_asked_again() -> None:
    async def go() -> None:
        w = FakeWriter()
        policy = AccountingPolicy(SessionTable(), w, Op, dictionary=D, make_reload_op=Reload)
        lost = asyncio.ensure_future(policy.handle(start_request()))  # type: ignore[arg-type]
        await asyncio.sleep(0)
        policy.commit_in_doubt(w.ops[-1:])
        w.fail_all(upto=1)
        with pytest.raises(ConnectionError):
            await lost
        assert isinstance(w.ops[-1], Reload)
        w.fail_all()  # the database is still away
        await asyncio.sleep(0)
        assert policy.in_doubt == 1
        assert policy.handle(start_request(Acct_Delay_Time=3)) is None  # the retransmission
        assert isinstance(w.ops[-1], Reload) and len(w.ops) == 3
        w.resolve_all()  # read: no row, so the Start never committed
        await asyncio.sleep(0)
        assert policy.in_doubt == 0 and policy.table.get(ch_uid()) is None

    asyncio.run(go())


def test_sessions_put_in_doubt_during_a_reread_are_reread_next() -> None:
    async def go() -> None:
        w = FakeWriter()
        policy = AccountingPolicy(SessionTable(), w, Op, dictionary=D, make_reload_op=Reload)
        first = asyncio.ensure_future(policy.handle(start_request()))  # type: ignore[arg-type]
        other = request(Acct_Status_Type="Start", User_Name="bob", Acct_Session_Id="s2", NAS_Port=4)
        second = asyncio.ensure_future(policy.handle(other))  # type: ignore[arg-type]
        await asyncio.sleep(0)
        policy.commit_in_doubt(w.ops[:1])  # alice's batch
        w.fail_all(upto=2)
        policy.commit_in_doubt(w.ops[1:2])  # bob's, while alice's reread is queued
        await asyncio.gather(first, second, return_exceptions=True)
        assert policy.in_doubt == 2 and [type(op) for op in w.ops[2:]] == [Reload]  # one read at a time
        w.resolve_all()
        await asyncio.sleep(0)
        assert policy.in_doubt == 1 and [type(op) for op in w.ops[2:]] == [Reload, Reload]
        w.resolve_all()
        await asyncio.sleep(0)
        assert policy.in_doubt == 0

    asyncio.run(go())


def test_a_lost_transaction_still_running_keeps_the_doubt() -> None:
    """txid_status() said 'in progress' (SessionReloadOp read nothing): the sessions stay in
    doubt and the transaction id is asked about again with the next read."""

    async def go() -> None:
        w = FakeWriter()
        policy = AccountingPolicy(SessionTable(), w, Op, dictionary=D, make_reload_op=Reload)
        lost = asyncio.ensure_future(policy.handle(start_request()))  # type: ignore[arg-type]
        await asyncio.sleep(0)
        w.ops[0].xid = 4242  # as AccountingOp.apply_batch sets it on PostgreSQL
        policy.commit_in_doubt(w.ops[:1])
        w.fail_all(upto=1)
        await asyncio.gather(lost, return_exceptions=True)
        reload = w.ops[-1]
        assert isinstance(reload, Reload) and reload.xids == [4242]
        reload.settled = False
        w.resolve_all()
        await asyncio.sleep(0)
        assert policy.in_doubt == 1
        assert policy.handle(start_request(Acct_Delay_Time=2)) is None
        again = w.ops[-1]
        assert isinstance(again, Reload) and again is not reload and again.xids == [4242]
        w.resolve_all()
        await asyncio.sleep(0)
        assert policy.in_doubt == 0

    asyncio.run(go())


def test_closed_sessions_kept_in_memory_are_bounded() -> None:
    """At most ``closed_max`` closed sessions stay in memory, the oldest closed forgotten first;
    open ones and those with a write pending are never forgotten."""
    t = SessionTable(closed_max=3)
    for i in range(6):
        run(t, ev("Start", Acct_Session_Id=f"c{i}")).committed()
        run(t, ev("Stop", Acct_Session_Id=f"c{i}", Acct_Session_Time=5)).committed()
    run(t, ev("Start", Acct_Session_Id="open")).committed()
    pending = run(t, ev("Start", Acct_Session_Id="late"))  # not committed yet
    run(t, ev("Stop", Acct_Session_Id="late", Acct_Session_Time=1))
    assert t.prune_closed(dt.datetime.fromtimestamp(T0, dt.UTC)) == 4  # c0-c3 go, c4, c5 stay
    kept = sorted(s.acct_session_id for s in t._sessions.values())
    assert kept == ["c4", "c5", "late", "open"]
    pending.committed()
