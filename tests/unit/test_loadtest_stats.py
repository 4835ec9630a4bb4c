"""Latency histograms, percentiles, merging across workers and the report's keys."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from radiusd.loadtest.stats import BUCKETS, KINDS, KindStats, RunStats, bucket_of, bucket_value

JSON_KEYS = {"requests", "requests_per_second", "p50_ms", "p95_ms", "p99_ms", "max_ms", "timeouts", "rejects"}


@given(st.integers(min_value=0, max_value=10**9))
def test_bucket_within_a_few_percent(micros: int) -> None:
    index = bucket_of(micros)
    assert 0 <= index < BUCKETS
    assert abs(bucket_value(index) - micros) <= max(0.5, micros * 0.032)


def test_buckets_are_monotonic() -> None:
    values = [bucket_of(v) for v in range(0, 200_000, 7)]
    assert values == sorted(values)


def test_percentiles_close_to_exact() -> None:
    rng = random.Random(1)
    samples = [int(rng.lognormvariate(7, 1)) for _ in range(20_000)]
    k = KindStats()
    for s in samples:
        k.record(s)
    ordered = sorted(samples)
    for p in (50, 95, 99):
        exact = ordered[-(-len(ordered) * p // 100) - 1]
        assert abs(k.percentile_us(p) - exact) <= exact * 0.035 + 1
    assert k.percentile_us(100) == max(samples) or k.max_us == max(samples)
    assert k.max_us == max(samples)


def test_merge_equals_single() -> None:
    rng = random.Random(2)
    samples = [rng.randrange(1, 5_000_000) for _ in range(5000)]
    whole, a, b = RunStats(), RunStats(), RunStats()
    for i, s in enumerate(samples):
        whole.kinds[i % 4].record(s)
        (a if i % 3 else b).kinds[i % 4].record(s)
    a.elapsed, b.elapsed, whole.elapsed = 1.0, 2.0, 2.0
    merged = RunStats.from_state(a.to_state())
    merged.merge(RunStats.from_state(b.to_state()))
    assert merged.report() == whole.report()


def test_report_keys_and_rates() -> None:
    stats = RunStats(elapsed=2.0)
    stats.kinds[0].requests = 10
    stats.kinds[0].record(1500)
    stats.kinds[0].rejects = 3
    stats.kinds[2].timeouts = 4
    report = stats.report()
    assert list(report) == list(KINDS)
    for values in report.values():
        assert set(values) >= JSON_KEYS
    assert report["access"]["requests_per_second"] == 5.0
    assert report["access"]["max_ms"] == 1.5
    assert report["access"]["rejects"] == 3
    assert report["accounting_interim"]["timeouts"] == 4
    assert report["accounting_stop"]["p99_ms"] == 0.0
