"""Hypothesis stateful test of the accounting state machine on its own (radiusd.policy.accounting_state).

No handler, writer, socket or clock: events are made directly, with their own event times, and
run through :func:`apply_event` on a :class:`SessionTable`. Properties (RFC 2866, RFC 2869 §5.1-5.2):

- usage is conserved: for every session, the usage deltas committed add up to its totals
  (base + counter) and its session time, whatever resets, late or reordered reports arrive;
- no delta is negative, and a session's totals and time-series points never go down;
- a retransmission (the same event again) adds no usage and no time-series row;
- a closed session never reopens; Accounting-On/Off closes every open session of its NAS only;
- a rolled-back change restores the table exactly (states and per-user open counts);
- the sweep's choice (:func:`stale_sessions`) is exactly the open sessions older than their limit.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import hypothesis.strategies as st
from hypothesis import given, settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from radiusd.model.events import NAS_REBOOT, AcctEvent, StatusType, unique_session_id
from radiusd.model.sessions import CLOSED, LiveSession
from radiusd.policy.accounting_state import apply_event, lost_service, stale_sessions
from radiusd.policy.sessions import SessionTable

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
NASES = ["192.0.2.1", "192.0.2.2"]
#: (NAS, Acct-Session-Id, user): a few sessions, two per NAS, two users
SESSIONS = [
    (NASES[0], "a1", "alice"),
    (NASES[0], "b1", "bob"),
    (NASES[1], "a2", "alice"),
    (NASES[1], "b2", "bob"),
]
SESSION_STATUSES = [StatusType.START, StatusType.INTERIM_UPDATE, StatusType.STOP]


def uid(i: int) -> str:
    nas, sid, user = SESSIONS[i]
    return unique_session_id(nas, sid.encode(), user.encode(), 1)


def event(
    i: int, status: StatusType, at: float, session_time: int, octets_in: int, octets_out: int
) -> AcctEvent:
    nas, sid, user = SESSIONS[i]
    return AcctEvent(
        status, nas, 1, T0 + dt.timedelta(seconds=at), uid(i), sid, user, 1,
        session_time=session_time, input_octets=octets_in, output_octets=octets_out,
        input_packets=octets_in // 1000, output_packets=octets_out // 1000,
    )  # fmt: skip


@dataclass
class Usage:
    """What the committed usage deltas of one session add up to."""

    input_octets: int = 0
    output_octets: int = 0
    session_time: int = 0
    points: list[tuple[int, int]] = field(default_factory=list)  # (input total, output total)


def snapshot(table: SessionTable) -> dict[str, LiveSession | None]:
    return {uid(i): table.get(uid(i)) for i in range(len(SESSIONS))}


class AccountingMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.table = SessionTable()
        self.usage: dict[str, Usage] = {}
        self.closed: set[str] = set()
        self.last: AcctEvent | None = None

    def _apply(self, ev: AcctEvent) -> None:
        before = {u: s for u, s in snapshot(self.table).items()}
        change = self.table.begin()
        apply_event(self.table, ev, change)
        for d in change.usage:
            assert d.input_octets >= 0 and d.output_octets >= 0 and d.session_time >= 0
            u = self.usage.setdefault(d.point.unique_id if d.point else "", Usage())
            u.input_octets += d.input_octets
            u.output_octets += d.output_octets
            u.session_time += d.session_time
        for p in change.interims:
            self.usage.setdefault(p.unique_id, Usage()).points.append((p.input_octets, p.output_octets))
        for s in change.sessions:
            old = before.get(s.unique_id)
            if old is not None:
                assert s.input_total >= old.input_total and s.output_total >= old.output_total
                assert s.session_time >= old.session_time
                assert old.is_open or not s.is_open, "a closed session reopened"
        change.committed()
        for s in change.sessions:
            if not s.is_open:
                self.closed.add(s.unique_id)
        self.last = ev

    @rule(
        i=st.integers(0, len(SESSIONS) - 1),
        status=st.sampled_from(SESSION_STATUSES),
        at=st.floats(0, 86_400),
        session_time=st.integers(0, 100_000),
        octets_in=st.integers(0, 2**40),
        octets_out=st.integers(0, 2**40),
    )
    def session_event(
        self, i: int, status: StatusType, at: float, session_time: int, octets_in: int, octets_out: int
    ) -> None:
        self._apply(event(i, status, at, session_time, octets_in, octets_out))

    @rule(
        i=st.integers(0, len(SESSIONS) - 1),
        at=st.floats(0, 86_400),
        dt_time=st.integers(1, 600),
        d_in=st.integers(0, 2**32),
        d_out=st.integers(0, 2**32),
        reset=st.booleans(),
    )
    def interim_that_advances(
        self, i: int, at: float, dt_time: int, d_in: int, d_out: int, reset: bool
    ) -> None:
        """An Interim-Update building on what is known (counters up, or reset to a small value)."""
        cur = self.table.get(uid(i))
        base_in, base_out, t = (cur.input_octets, cur.output_octets, cur.session_time) if cur else (0, 0, 0)
        new_in, new_out = (d_in, d_out) if reset else (base_in + d_in, base_out + d_out)
        self._apply(event(i, StatusType.INTERIM_UPDATE, at, t + dt_time, new_in, new_out))

    @rule()
    def retransmission(self) -> None:
        """The same request again (a NAS retransmits): no usage, no time-series row."""
        if self.last is None:
            return
        change = self.table.begin()
        before = snapshot(self.table)
        apply_event(self.table, self.last, change)
        assert change.usage == [] and change.interims == []
        if self.last.status not in (StatusType.ACCOUNTING_ON, StatusType.ACCOUNTING_OFF):
            after = self.table.get(self.last.unique_id)
            old = before[self.last.unique_id]
            assert after is not None and old is not None
            assert (after.input_total, after.output_total, after.status) == (
                old.input_total, old.output_total, old.status
            )  # fmt: skip
        change.committed()

    @rule(nas=st.sampled_from(NASES), on=st.booleans(), at=st.floats(0, 86_400))
    def nas_reset(self, nas: str, on: bool, at: float) -> None:
        status = StatusType.ACCOUNTING_ON if on else StatusType.ACCOUNTING_OFF
        others = {u: s for u, s in snapshot(self.table).items() if s is not None and s.nas_address != nas}
        self._apply(AcctEvent(status, nas, 1, T0 + dt.timedelta(seconds=at)))
        assert self.table.open_of_nas(nas) == []
        for u, s in others.items():
            assert self.table.get(u) == s, "Accounting-On/Off touched another NAS's session"
        for after in snapshot(self.table).values():
            if after is not None and after.nas_address == nas and after.unique_id not in others:
                assert not after.is_open

    @rule(
        i=st.integers(0, len(SESSIONS) - 1),
        status=st.sampled_from(SESSION_STATUSES),
        at=st.floats(0, 86_400),
        session_time=st.integers(0, 100_000),
        octets=st.integers(0, 2**40),
    )
    def rolled_back(self, i: int, status: StatusType, at: float, session_time: int, octets: int) -> None:
        """A change whose commit failed: undone, the table is exactly as before."""
        before = snapshot(self.table)
        opened = {user: self.table.open_sessions(user) for user in ("alice", "bob")}
        change = self.table.begin()
        apply_event(self.table, event(i, status, at, session_time, octets, octets), change)
        change.rollback()
        assert snapshot(self.table) == before
        assert {user: self.table.open_sessions(user) for user in ("alice", "bob")} == opened

    @invariant()
    def usage_is_conserved(self) -> None:
        for i in range(len(SESSIONS)):
            s = self.table.get(uid(i))
            u = self.usage.get(uid(i), Usage())
            if s is None:
                assert u == Usage()
                continue
            assert (u.input_octets, u.output_octets) == (s.input_total, s.output_total)
            assert u.session_time == s.session_time
            assert u.points == sorted(u.points), "a time-series total went down"

    @invariant()
    def closed_stays_closed(self) -> None:
        for u in self.closed:
            s = self.table.get(u)
            assert s is not None and s.status == CLOSED

    @invariant()
    def open_counts_match(self) -> None:
        for user in ("alice", "bob"):
            live = [
                s for s in snapshot(self.table).values() if s is not None and s.is_open and s.username == user
            ]
            assert self.table.open_sessions(user) == len(live)


TestAccountingMachine = AccountingMachine.TestCase
TestAccountingMachine.settings = settings(max_examples=150, stateful_step_count=30, deadline=None)


@given(
    ages=st.lists(st.tuples(st.floats(0, 10_000), st.sampled_from([None, 60, 300])), min_size=1, max_size=8),
    now=st.floats(0, 20_000),
    skip=st.sets(st.integers(0, 7)),
)
def test_stale_sessions_are_exactly_those_past_their_limit(
    ages: list[tuple[float, int | None]], now: float, skip: set[int]
) -> None:
    sessions = [
        LiveSession(
            f"u{i}",
            f"s{i}",
            "alice",
            NASES[0],
            T0,
            T0 + dt.timedelta(seconds=updated),
            interim_interval=interval,
        )
        for i, (updated, interval) in enumerate(ages)
    ]

    def limit(s: LiveSession) -> float:
        return 3 * (s.interim_interval or 300) + 120

    at = T0 + dt.timedelta(seconds=now)
    skipped = {f"u{i}" for i in skip}
    found = stale_sessions(sessions, at, limit, skip=skipped)
    assert found == [
        s for s in sessions if (at - s.updated_at).total_seconds() > limit(s) and s.unique_id not in skipped
    ]
    # a clock step since a session's last update does not count towards its age
    assert stale_sessions(sessions, at, limit, stepped=lambda _t: 1e9) == []
    for s in found:
        closed = lost_service(s)
        assert (
            closed.status == CLOSED
            and closed.stopped_at == s.updated_at
            and closed.terminate_cause != NAS_REBOOT
        )
