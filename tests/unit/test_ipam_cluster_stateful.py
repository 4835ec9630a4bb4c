"""Hypothesis stateful test: several IPAM nodes on one database (a model of its guarded writes).

Each node is a real :class:`IpamService` with its own memory and clock (skewed by up to a few
seconds); the database is :mod:`tests.ipam_db_model`, whose decisions the integration test
test_ipam_guard_model.py checks against PostgreSQL. Hypothesis interleaves logins at any node,
Accounting-Start/Stop at any node, the passing of time, sweeps, the delivery of other nodes'
writes (the lease feed) or its loss, node deaths and restarts, and region changes.

Properties: an Access-Accept carries only items whose stored row is live for that subscriber at
that moment (so no address is in two live subscribers' accepts); a login is rejected only when
the database has no claimable item for it; a node's memory, once it has taken in the database,
agrees with it on every item it has nothing pending for.
"""

from __future__ import annotations

import asyncio
import datetime as dt

import hypothesis.strategies as st
from hypothesis import settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from ipam import LeaseState
from ipam.groups import PoolConfig
from radiusd.config import Settings
from radiusd.model.events import AcctEvent, StatusType
from radiusd.policy.ipam_service import IpamService
from tests.ipam_assign import assign
from tests.ipam_db_model import IN_USE, Database, FakeNas, FakeRequest, ModelWriter, subscriber

USERS = [f"u{i}" for i in range(7)]
POOL = PoolConfig(1, "p", "ipv4", None, None, None, None, None, ["10.0.0.0/29"])  # .1-.6: 6 items
OFFER_TTL, STICKY_TTL = 30.0, 60.0


class ClusterMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.db = Database("p", now=1000.0)
        self.skews = [0.0, 2.0, -3.0]
        self.nodes = [self.new_node(i) for i in range(3)]
        self.accepted: dict[str, str] = {}  # user -> address of its last Access-Accept

    def teardown(self) -> None:
        self.loop.close()

    def new_node(self, index: int) -> IpamService:
        conf = Settings(offer_ttl=OFFER_TTL, sticky_ttl=STICKY_TTL, interim_grace=30.0,
                        interim_grace_factor=1.0)  # fmt: skip
        svc = IpamService(None, ModelWriter(self.db), conf, clock=lambda: self.db.now + self.skews[index])  # type: ignore[arg-type]
        configs = {"p": POOL}
        svc.alloc, _ = svc._build(configs, ())
        svc._set_configs(configs)
        svc.alloc.load(self.db.lease(a) for a in self.db.rows)
        return svc

    def run(self, coro: object) -> object:
        return self.loop.run_until_complete(coro)  # type: ignore[arg-type]

    def claimable(self, user: str) -> bool:
        """Whether the database has an item this user's claim could take that no sweep has to
        end first (an offer or lease past its expiry is handed out after the sweep, as on one
        node)."""
        for i in range(1, 7):
            row = self.db.rows.get(f"10.0.0.{i}")
            if row is None or row.owner == user or row.state not in (*IN_USE, "reserved"):
                return True
        return False

    @rule(node=st.integers(0, 2), user=st.sampled_from(USERS))
    def login(self, node: int, user: str) -> None:
        svc = self.nodes[node]
        out = self.run(assign(svc, FakeRequest(FakeNas()), subscriber(user), None, "p"))
        attrs = [v for code, v in out.attributes if code == 8]  # type: ignore[attr-defined]
        if out.reject_reason:  # type: ignore[attr-defined]
            assert not attrs
            # a reject with a claimable item left is explained only by a memory behind the database
            assert not self.claimable(user) or self.stale(svc), f"{user} rejected with a claimable item left"
            return
        (value,) = attrs
        address = ".".join(str(b) for b in value)
        row = self.db.rows[address]
        assert row.owner == user and row.state in IN_USE, f"accept of {address} for {user}, stored {row}"
        for other, given in self.accepted.items():
            if other != user and given == address:
                held = self.db.rows[address]
                assert held.owner != other  # the earlier holder's claim is over in the database
        self.accepted[user] = address

    @rule(node=st.integers(0, 2), user=st.sampled_from(USERS), stop=st.booleans())
    def accounting(self, node: int, user: str, stop: bool) -> None:
        address = self.accepted.get(user)
        if address is None:
            return
        svc = self.nodes[node]
        when = dt.datetime.fromtimestamp(self.db.now, dt.UTC)
        status = StatusType.STOP if stop else StatusType.START
        event = AcctEvent(status, "192.0.2.1", None, when, unique_id=f"{user}-s", username=user,
                          interim_interval=60, framed_ip=address)  # fmt: skip

        async def hooks() -> None:
            for op in svc.on_stop(event) if stop else svc.on_start(event):
                await svc.writer.submit(op)

        self.run(hooks())

    @rule(seconds=st.sampled_from([1.0, 10.0, 31.0, 61.0, 200.0]))
    def time_passes(self, seconds: float) -> None:
        self.db.now += seconds

    @rule(node=st.integers(0, 2))
    def sweep(self, node: int) -> None:
        self.run(self.nodes[node].sweep_once())

    def stale(self, svc: IpamService) -> bool:
        """Whether ``svc``'s memory differs from the database on some item."""
        for address in self.db.rows:
            mine, stored = svc.alloc.lookup(address), self.db.lease(address)
            if mine is None or (mine.owner, mine.state) != (stored.owner, stored.state):
                return True
        return False

    @rule(node=st.integers(0, 2))
    def feed_delivers(self, node: int) -> None:
        svc = self.nodes[node]
        svc.take_rows(self.db.lease(a) for a in self.db.rows)
        assert not self.stale(svc)  # nothing is pending between steps: memory now is the database

    @rule(node=st.integers(0, 2))
    def node_restarts(self, node: int) -> None:
        self.nodes[node] = self.new_node(node)

    @rule(node=st.integers(0, 2), count=st.integers(1, 3))
    def regions_change(self, node: int, count: int) -> None:
        self.nodes[node].prefer(node % count, count)

    @invariant()
    def no_claim_is_taken_from_its_holder(self) -> None:
        assert not self.db.stolen, self.db.stolen

    @invariant()
    def stored_rows_are_well_formed(self) -> None:
        for address, row in self.db.rows.items():
            assert row.state in ("offered", "leased", "released", "reserved"), (address, row)
            if row.state in IN_USE:
                assert row.owner is not None and row.expires is not None


ClusterMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
test_cluster_allocation = ClusterMachine.TestCase


def test_the_model_serves_a_plain_two_node_race() -> None:
    """Sanity check of the harness itself: a stale node loses its first claim and claims again."""
    machine = ClusterMachine()
    try:
        machine.login(0, "u0")
        machine.login(1, "u1")  # node 1 never heard of u0's claim
        assert machine.nodes[1].claims_lost == 1
        assert machine.accepted["u0"] != machine.accepted["u1"]
        assert machine.nodes[1].alloc.lookup(machine.accepted["u0"]).state is LeaseState.OFFERED  # type: ignore[union-attr]
    finally:
        machine.teardown()
