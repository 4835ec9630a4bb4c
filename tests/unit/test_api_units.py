"""Admin API pieces without sockets or a database: tokens, bind parsing, the metrics collector,
input validation and the Grafana dashboard's metric names."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client import generate_latest
from pydantic import ValidationError

from ipam import Allocator, Pool
from ipam.groups import PoolConfig
from radiusd.api.metrics import make_registry
from radiusd.api.schemas import Page
from radiusd.api.server import parse_bind
from radiusd.model.request import NasClient
from radiusd.model.sessions import LiveSession
from radiusd.policy.sessions import SessionTable
from radiusd.server.nas import NasRegistry
from radiusd.server.stats import Stats
from radiusd.store.api_tokens import PREFIX, hash_token, new_token

ROOT = Path(__file__).resolve().parents[2]


def test_tokens_are_random_and_hashed() -> None:
    a, b = new_token(), new_token()
    assert a != b and a.startswith(PREFIX) and len(a) == len(PREFIX) + 43
    assert hash_token(a) == hash_token(a) != hash_token(b)
    assert re.fullmatch(r"[0-9a-f]{64}", hash_token(a))


@pytest.mark.parametrize(
    ("text", "expected"),
    [("127.0.0.1:8080", ("127.0.0.1", 8080)), ("[::1]:9", ("::1", 9)), ("0.0.0.0:0", ("0.0.0.0", 0))],
)
def test_parse_bind(text: str, expected: tuple[str, int]) -> None:
    assert parse_bind(text) == expected


@pytest.mark.parametrize("text", ["127.0.0.1", "host:port", ":"])
def test_parse_bind_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="ADDR:PORT"):
        parse_bind(text)


def _state() -> Any:
    stats = Stats()
    stats.observe("access", "accept", 0.0001)
    stats.observe("access", "accept", 0.02)
    stats.observe("accounting", "ok", 7.0)
    stats.drop("bad-authenticator")
    stats.observe_loop_lag(0.0002)
    stats.observe_loop_lag(0.15)
    alloc = Allocator([Pool("main", "ipv4", ["10.0.0.0/30"])])
    alloc.allocate("main", "alice", now=0.0)
    sessions = SessionTable()
    t = __import__("datetime").datetime(2026, 1, 1, tzinfo=__import__("datetime").UTC)
    sessions.load(
        [LiveSession(f"u{i}", f"s{i}", "bob", "192.0.2.1" if i else "192.0.2.99", t, t) for i in range(3)]
    )
    registry = NasRegistry([NasClient(1, "edge", "192.0.2.1", b"s")])
    return SimpleNamespace(
        stats=stats,
        settings=SimpleNamespace(utilisation_warning_pct=40.0),
        ipam=SimpleNamespace(
            alloc=alloc,
            configs={"main": PoolConfig(1, "main", "ipv4", None, None, None, None, None)},
            allocated=1,
            exhausted=2,
            ipv6_exhausted=7,
            claims_lost=8,
        ),
        sessions=sessions,
        registry=registry,
        writer=SimpleNamespace(
            depth=3, batches=4, committed_ops=5, failed_batches=0, refused=6, healthy=True
        ),
        directory=SimpleNamespace(subscribers={"alice": 1}),
    )


def test_collector_reads_live_figures() -> None:
    text = generate_latest(make_registry(_state())).decode()
    for line in (
        'radiusd_requests_total{result="accept",type="access"} 2.0',
        'radiusd_drops_total{reason="bad-authenticator"} 1.0',
        'radiusd_request_duration_seconds_bucket{le="0.0005"} 1.0',
        'radiusd_request_duration_seconds_bucket{le="0.025"} 2.0',
        'radiusd_request_duration_seconds_bucket{le="5.0"} 2.0',
        'radiusd_request_duration_seconds_bucket{le="+Inf"} 3.0',
        "radiusd_request_duration_seconds_count 3.0",
        'radiusd_event_loop_lag_seconds_bucket{le="0.0005"} 1.0',
        'radiusd_event_loop_lag_seconds_bucket{le="0.1"} 1.0',
        'radiusd_event_loop_lag_seconds_bucket{le="0.25"} 2.0',
        "radiusd_event_loop_lag_seconds_count 2.0",
        'radiusd_ip_pool_size{kind="ipv4",pool="main"} 2.0',
        'radiusd_ip_pool_addresses{kind="ipv4",pool="main",state="allocated"} 1.0',
        'radiusd_ip_pool_utilisation_ratio{kind="ipv4",pool="main"} 0.5',
        'radiusd_ip_pool_warning{kind="ipv4",pool="main"} 1.0',
        'radiusd_sessions_open{nas="edge"} 2.0',
        'radiusd_sessions_open{nas="192.0.2.99"} 1.0',
        "radiusd_writer_queue_depth 3.0",
        "radiusd_writer_refused_total 6.0",
        "radiusd_ipam_exhausted_total 2.0",
        "radiusd_ipam_ipv6_exhausted_total 7.0",
        "radiusd_ipam_claims_lost_total 8.0",
        "radiusd_subscribers 1.0",
    ):
        assert line in text, line


def test_page_and_validation() -> None:
    assert Page[int](items=[1], limit=1).model_dump() == {
        "items": [1],
        "limit": 1,
        "offset": 0,
        "next_cursor": None,
    }
    from radiusd.api.network import SiteIn

    with pytest.raises(ValidationError) as err:
        SiteIn.model_validate({"name": "a\u0000b"})
    assert err.value.errors()[0]["loc"] == ("name",)
    with pytest.raises(ValidationError):
        SiteIn.model_validate({"name": "\ud800"})


def test_dashboard_uses_only_exported_metrics() -> None:
    dashboard = json.loads((ROOT / "config" / "grafana-dashboard.json").read_text())
    exported = {
        m.name for m in make_registry(_state()).collect()
    }  # family names; counters are exported with _total, histograms with _bucket/_sum/_count
    used = set()
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            used |= set(re.findall(r"\b(radiusd_[a-z_]+)", target["expr"]))
    assert used
    suffix = re.compile(r"_(total|bucket|sum|count)$")
    for name in used:
        assert name in exported or suffix.sub("", name) in exported, name
    titles = " ".join(p["title"] for p in dashboard["panels"]).lower()
    for topic in ("requests", "latency", "drop", "pool", "sessions online per nas"):
        assert topic in titles


def test_collector_counts_nas_with_weak_secrets() -> None:
    state = _state()
    state.registry = NasRegistry(
        [
            NasClient(1, "short", "192.0.2.1", b"fifteen-chars15"),
            NasClient(2, "long", "192.0.2.2", b"sixteen-chars-16"),
            NasClient(3, "tiny", "192.0.2.3", b"x"),
        ]
    )
    text = generate_latest(make_registry(state)).decode()
    assert "radiusd_nas_weak_secrets 2.0" in text


def test_collector_exports_the_eap_engine_counters() -> None:
    """A conversation begun (EAP-Response/Identity, RFC 3748 §5.1) is started and in flight;
    a response with a State the engine does not hold is failed (RFC 3579 §2.6.3)."""
    from radiusd.eap import packet as eap
    from radiusd.eap.engine import EapEngine
    from radiusd.eap.settings import parse_eap

    engine = EapEngine(parse_eap({"methods": ["md5"], "allow_md5": True}))
    state = _state()
    text = generate_latest(make_registry(state)).decode()
    assert "radiusd_eap_" not in text  # a daemon without [eap] exports none
    state.eap = lambda: engine
    identity = eap.EapPacket(eap.RESPONSE, 7, eap.IDENTITY, b"alice").encode()
    started = engine.handle([(eap.EAP_MESSAGE, identity)], lambda _u: None, lambda _u: False)
    assert getattr(started, "kind", None) == "challenge"
    md5 = eap.EapPacket(eap.RESPONSE, 8, eap.MD5_CHALLENGE, bytes(17)).encode()
    stray = engine.handle(
        [(eap.EAP_MESSAGE, md5), (eap.STATE, b"not-ours")], lambda _u: None, lambda _u: False
    )
    assert getattr(stray, "kind", None) == "reject"
    text = generate_latest(make_registry(state)).decode()
    for line in (
        "radiusd_eap_conversations_started_total 1.0",
        "radiusd_eap_conversations_in_flight 1.0",
        "radiusd_eap_conversations_failed_total 1.0",
        "radiusd_eap_conversations_completed_total 0.0",
        "radiusd_eap_conversations_expired_total 0.0",
        "radiusd_eap_busy_total 0.0",
    ):
        assert line in text, line
    engine.close()
