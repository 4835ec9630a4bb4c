"""``GET /metrics``: a prometheus_client Collector reading the daemon's live figures at scrape time.

Nothing here runs on the RADIUS path: the dispatcher keeps plain integers (radiusd.server.stats),
and this collector turns them into metric families only when Prometheus asks. A scrape costs
O(pools x ranges + NAS), whatever the number of subscribers, leases or sessions.

Metric names (all prefixed ``radiusd_``):

=====================================  =========  ==============================================
radiusd_requests_total                 counter    type, result (accept, reject, ...)
radiusd_drops_total                    counter    reason (unknown NAS, bad authenticator, ...)
radiusd_duplicates_total               counter    retransmissions answered from the cache
radiusd_request_duration_seconds       histogram  reply latency
radiusd_event_loop_lag_seconds         histogram  how late the event loop woke (radiusd.server.looplag)
radiusd_ip_pool_addresses              gauge      pool, kind, state (allocated|reserved|free|held)
radiusd_ip_pool_size                   gauge      pool, kind
radiusd_ip_pool_utilisation_ratio      gauge      pool, kind (allocated + reserved) / size
radiusd_ip_pool_warning                gauge      pool, kind: 1 at or above the pool's threshold
radiusd_ipam_allocations_total         counter    addresses handed out
radiusd_ipam_exhausted_total           counter    logins refused for lack of addresses
radiusd_ipam_ipv6_exhausted_total      counter    logins given IPv4 only (IPv6 side exhausted)
radiusd_ipam_claims_lost_total         counter    items claimed while another node held them (claimed again)
radiusd_sessions_open                  gauge      nas (name, else address)
radiusd_writer_queue_depth             gauge      operations waiting for the database
radiusd_writer_batches_total           counter    transactions committed
radiusd_writer_committed_ops_total     counter    operations committed
radiusd_writer_failed_batches_total    counter
radiusd_writer_refused_total           counter    operations refused (queue full)
radiusd_writer_healthy                 gauge      1 while the last commit succeeded
radiusd_nas_clients                    gauge      NAS known to the daemon
radiusd_nas_weak_secrets               gauge      NAS whose shared secret is under 16 characters
radiusd_subscribers                    gauge      subscribers in memory
radiusd_radsec_connections             gauge      nas: RadSec (TLS) connections open
radiusd_radsec_accepted_total          counter    RadSec connections mapped to a NAS
radiusd_radsec_radius11_total          counter    of those, connections that negotiated RADIUS/1.1 (ALPN)
radiusd_radsec_refused_total           counter    reason (unknown-certificate, handshake-failed, limits)
radiusd_radsec_closed_total            counter    reason (idle-timeout, bad-length, dropped, peer-closed)
radiusd_coa_requests_total             counter    kind (disconnect/coa), transport (udp/radsec), outcome
radiusd_eap_conversations_started_total  counter  EAP conversations begun (an Identity response)
radiusd_eap_conversations_completed_total counter  the method proved an identity (EAP-Success path)
radiusd_eap_conversations_failed_total   counter  answered with an EAP-Failure
radiusd_eap_conversations_expired_total  counter  forgotten after ``[eap] timeout`` idle
radiusd_eap_conversations_in_flight    gauge      conversations held now
radiusd_eap_buffered_bytes             gauge      incoming fragments held (``[eap] max_buffered``)
radiusd_eap_busy_total                 counter    steps dropped: the TLS pool was full
radiusd_eap_handshakes_total           counter    method, version (TLSv1.2|TLSv1.3), resumed
radiusd_db_table_rows                  gauge      table: history rows (PostgreSQL: estimate)
radiusd_db_table_bytes                 gauge      table: data + indexes
radiusd_db_table_oldest_seconds        gauge      table: Unix time of the oldest row
radiusd_db_table_newest_seconds        gauge      table: Unix time of the newest row
radiusd_db_table_retention_days        gauge      table: retention in force
radiusd_db_table_expected_bytes        gauge      table: size under retention at the current rate
radiusd_db_partition_rows              gauge      table, partition (PostgreSQL)
radiusd_db_partition_bytes             gauge      table, partition (PostgreSQL)
=====================================  =========  ==============================================

The ``radiusd_db_*`` figures are those of ``radiusd db stats`` as of the last storage
maintenance round (radiusd.store.retention, hourly), never queried at scrape time.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from ipam.groups import group_of
from ipam.report import pool_info
from radiusd.codec import shared_secret
from radiusd.eap.engine import EapService
from radiusd.eap.process import EapProcess
from radiusd.server.stats import LATENCY_BUCKETS, Stats

if TYPE_CHECKING:
    from .state import LiveState


class DaemonCollector(Collector):
    """Reads a running daemon's counters (see the module docstring for the names)."""

    def __init__(self, state: LiveState) -> None:
        self.state = state

    def collect(self) -> Iterator[Metric]:
        s = self.state
        stats = s.stats
        requests = CounterMetricFamily(
            "radiusd_requests", "RADIUS requests answered", labels=["type", "result"]
        )
        for (kind, result), n in sorted(stats.requests.items()):
            requests.add_metric([kind, result], n)
        yield requests
        drops = CounterMetricFamily("radiusd_drops", "RADIUS datagrams dropped", labels=["reason"])
        for reason, n in sorted(stats.drops.items()):
            drops.add_metric([reason], n)
        yield drops
        yield CounterMetricFamily(
            "radiusd_duplicates", "Retransmissions answered from the reply cache", value=stats.duplicates
        )
        yield _histogram(
            "radiusd_request_duration_seconds",
            "Time from datagram to reply",
            stats.latency_counts,
            stats.latency_sum,
        )
        yield _histogram(
            "radiusd_event_loop_lag_seconds",
            "How late the event loop woke for what was due (every datagram waited as long)",
            stats.loop_lag_counts,
            stats.loop_lag_sum,
        )
        yield from self._pools()
        yield from self._storage()
        ipam = s.ipam
        yield CounterMetricFamily("radiusd_ipam_allocations", "Addresses handed out", value=ipam.allocated)
        yield CounterMetricFamily(
            "radiusd_ipam_exhausted", "Logins refused for lack of addresses", value=ipam.exhausted
        )
        yield CounterMetricFamily(
            "radiusd_ipam_ipv6_exhausted",
            "Logins given IPv4 only: the IPv6 side of their pool was exhausted",
            value=ipam.ipv6_exhausted,
        )
        yield CounterMetricFamily(
            "radiusd_ipam_claims_lost",
            "Items another node held when this one claimed them (another was claimed before the reply)",
            value=ipam.claims_lost,
        )
        yield from self._sessions()
        w = s.writer
        yield GaugeMetricFamily(
            "radiusd_writer_queue_depth", "Operations waiting for the database", value=w.depth
        )
        yield CounterMetricFamily("radiusd_writer_batches", "Transactions committed", value=w.batches)
        yield CounterMetricFamily(
            "radiusd_writer_committed_ops", "Operations committed", value=w.committed_ops
        )
        yield CounterMetricFamily(
            "radiusd_writer_failed_batches", "Transactions failed", value=w.failed_batches
        )
        yield CounterMetricFamily(
            "radiusd_writer_refused", "Operations refused (queue full)", value=w.refused
        )
        yield GaugeMetricFamily("radiusd_writer_healthy", "1 while commits succeed", value=int(w.healthy))
        yield GaugeMetricFamily("radiusd_nas_clients", "NAS known to the daemon", value=len(s.registry))
        yield GaugeMetricFamily(
            "radiusd_nas_weak_secrets",
            f"NAS whose shared secret is shorter than {shared_secret.MIN_SECRET_LENGTH} characters",
            value=sum(1 for nas in s.registry.all() if shared_secret.is_weak(nas.secret)),
        )
        yield GaugeMetricFamily(
            "radiusd_subscribers", "Subscribers in memory", value=len(s.directory.subscribers)
        )
        yield from _radsec(stats)
        yield from _coa(stats)
        eap = getattr(s, "eap", None)  # DaemonState's (tests may pass states without it)
        engine = eap() if callable(eap) else None
        if engine is not None:
            yield from _eap(engine)

    def _storage(self) -> Iterator[Metric]:
        tables = getattr(self.state, "storage", None) or []
        families = {
            name: GaugeMetricFamily(f"radiusd_db_table_{name}", help_, labels=["table"])
            for name, help_ in (
                ("rows", "History rows (PostgreSQL: the planner's estimate)"),
                ("bytes", "Bytes of the table, its partitions and indexes"),
                ("oldest_seconds", "Unix time of the oldest row"),
                ("newest_seconds", "Unix time of the newest row"),
                ("retention_days", "Days the table's rows are kept"),
                ("expected_bytes", "Bytes the table settles at under its retention, at the current rate"),
            )
        }
        part_rows = GaugeMetricFamily("radiusd_db_partition_rows", "Rows of a partition (estimate)",
                                      labels=["table", "partition"])  # fmt: skip
        part_bytes = GaugeMetricFamily("radiusd_db_partition_bytes", "Bytes of a partition with its indexes",
                                       labels=["table", "partition"])  # fmt: skip
        for t in tables:
            values = {
                "rows": t.rows,
                "bytes": t.bytes,
                "oldest_seconds": t.oldest.timestamp() if t.oldest else None,
                "newest_seconds": t.newest.timestamp() if t.newest else None,
                "retention_days": t.retention_days,
                "expected_bytes": t.expected_bytes,
            }
            for name, value in values.items():
                if value is not None:
                    families[name].add_metric([t.table], value)
            for p in t.partitions:
                part_rows.add_metric([t.table, p.name], p.rows)
                if p.bytes is not None:
                    part_bytes.add_metric([t.table, p.name], p.bytes)
        yield from families.values()
        yield part_rows
        yield part_bytes

    def _pools(self) -> Iterator[Metric]:
        ipam = self.state.ipam
        labels = ["pool", "kind"]
        by_state = GaugeMetricFamily(
            "radiusd_ip_pool_addresses", "Pool items by state", labels=[*labels, "state"]
        )
        size = GaugeMetricFamily("radiusd_ip_pool_size", "Allocatable items of a pool", labels=labels)
        ratio = GaugeMetricFamily(
            "radiusd_ip_pool_utilisation_ratio", "Items in use or reserved / size", labels=labels
        )
        warning = GaugeMetricFamily(
            "radiusd_ip_pool_warning", "1 while a pool family is at or above its threshold", labels=labels
        )
        default = self.state.settings.utilisation_warning_pct
        for group in sorted({group_of(row) for row in ipam.configs}):
            info = pool_info(ipam.configs, ipam.alloc, group, default)
            for kind, fam in (("ipv4", info.ipv4), ("ipv6-wan", info.ipv6_wan), ("ipv6-pd", info.ipv6_pd)):
                if fam is None:
                    continue
                key = [group, kind]
                for name in ("allocated", "reserved", "free", "held"):
                    by_state.add_metric([*key, name], fam[name])
                size.add_metric(key, fam["total"])
                ratio.add_metric(key, fam["percent_used"] / 100.0)
                warning.add_metric(key, int(fam["warning"]))
        yield by_state
        yield size
        yield ratio
        yield warning

    def _sessions(self) -> Iterator[Metric]:
        s = self.state
        opened = GaugeMetricFamily("radiusd_sessions_open", "Open accounting sessions", labels=["nas"])
        for address, count in sorted(s.sessions.open_by_nas().items()):
            client = s.registry.get(address)
            opened.add_metric([client.name if client is not None else address], count)
        yield opened


def make_registry(state: LiveState) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DaemonCollector(state))
    return registry


def _coa(stats: Stats) -> Iterator[Metric]:
    """Disconnect-/CoA-Requests this daemon sent (API, console), UDP and RadSec alike."""
    family = CounterMetricFamily(
        "radiusd_coa_requests",
        "Disconnect-/CoA-Requests sent by this daemon, by outcome (ack, nak, timeout, error)",
        labels=["kind", "transport", "outcome"],
    )
    for (kind, transport, outcome), n in sorted(stats.coa.items()):
        family.add_metric([kind, transport, outcome], n)
    yield family


def _radsec(stats: Stats) -> Iterator[Metric]:
    """RadSec connections (radiusd.server.radsec); their packets' drops are in radiusd_drops."""
    open_ = GaugeMetricFamily("radiusd_radsec_connections", "RadSec (TLS) connections open", labels=["nas"])
    for nas, n in sorted(stats.radsec_open.items()):
        open_.add_metric([nas], n)
    yield open_
    yield CounterMetricFamily(
        "radiusd_radsec_accepted",
        "RadSec connections whose certificate named a NAS",
        value=stats.radsec_accepted,
    )
    yield CounterMetricFamily(
        "radiusd_radsec_radius11",
        "RadSec connections that negotiated RADIUS/1.1 (RFC 9765, ALPN radius/1.1)",
        value=stats.radsec_radius11,
    )
    for name, doc, counts in (
        ("radiusd_radsec_refused", "RadSec connections refused before reaching a NAS", stats.radsec_refused),
        ("radiusd_radsec_closed", "RadSec connections closed, by reason", stats.radsec_closed),
    ):
        family = CounterMetricFamily(name, doc, labels=["reason"])
        for reason, n in sorted(counts.items()):
            family.add_metric([reason], n)
        yield family


def _eap(engine: EapService) -> Iterator[Metric]:
    """EAP conversations (radiusd.eap.engine); their Access-Rejects are also in radiusd_requests."""
    engine.sweep()  # the idle ones go now, not at the next EAP packet (runs on the event loop)
    counts = engine.counts
    for name, key, doc in (
        ("started", "started", "EAP conversations begun (an EAP-Response/Identity without State)"),
        ("completed", "accepted", "EAP conversations whose method proved an identity"),
        ("failed", "rejected", "EAP conversations (or stray EAP packets) answered with an EAP-Failure"),
        ("expired", "expired", "EAP conversations forgotten after [eap] timeout without an answer"),
    ):
        yield CounterMetricFamily(f"radiusd_eap_conversations_{name}", doc, value=counts[key])
    yield GaugeMetricFamily(
        "radiusd_eap_conversations_in_flight", "EAP conversations held now", value=engine.in_flight
    )
    yield GaugeMetricFamily(
        "radiusd_eap_buffered_bytes",
        "octets of incoming EAP fragments held until their TLS message is whole ([eap] max_buffered)",
        value=engine.buffered,
    )
    yield CounterMetricFamily(
        "radiusd_eap_busy",
        "EAP steps dropped because the TLS thread pool or the EAP process was full",
        value=counts["busy"],
    )
    if isinstance(engine, EapProcess):
        yield CounterMetricFamily(
            "radiusd_eap_process_restarts",
            "EAP processes started again after one died (its conversations under way were lost)",
            value=engine.restarts,
        )
    hs = CounterMetricFamily(
        "radiusd_eap_handshakes",
        "TLS handshakes done in EAP methods",
        labels=["method", "version", "resumed"],
    )
    for (method, version, resumed), n in sorted(engine.handshakes.items()):
        hs.add_metric([method, version, "true" if resumed else "false"], n)
    yield hs


def _histogram(name: str, doc: str, counts: list[int], total: float) -> HistogramMetricFamily:
    """A histogram family from per-bucket counts in LATENCY_BUCKETS (+Inf last)."""
    cumulative = 0
    buckets: list[tuple[str, float]] = []
    for bound, n in zip((*LATENCY_BUCKETS, float("inf")), counts, strict=True):
        cumulative += n
        buckets.append(("+Inf" if bound == float("inf") else repr(bound), cumulative))
    hist = HistogramMetricFamily(name, doc)
    hist.add_metric([], buckets, sum_value=total)
    return hist
