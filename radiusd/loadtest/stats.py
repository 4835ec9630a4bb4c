"""Counters and latency histograms per packet type, their merge across workers, and the report.

A latency is recorded in a fixed-size log-linear histogram of whole microseconds (HDR style):
values below 64 µs have their own bucket, above that each power of two is split into 32
buckets, so a percentile is within about 3 % of the true value, a sample costs one list
increment, and merging the histograms of several worker processes is an element-wise sum.
The maximum is kept exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

KINDS = ("access", "accounting_start", "accounting_interim", "accounting_stop")
ACCESS, START, INTERIM, STOP = range(4)

_SUB_BITS = 5  # 32 buckets per power of two above 64 µs
_LINEAR = 1 << (_SUB_BITS + 1)  # 64
BUCKETS = 1024  # covers more than 10^9 µs; larger values land in the last bucket


def bucket_of(micros: int) -> int:
    """The histogram bucket of a latency in whole microseconds."""
    if micros < _LINEAR:
        return micros if micros > 0 else 0
    shift = micros.bit_length() - _SUB_BITS - 1
    index = (shift << _SUB_BITS) + (micros >> shift)
    return index if index < BUCKETS else BUCKETS - 1


def bucket_value(index: int) -> float:
    """The middle of bucket ``index``, in microseconds."""
    if index < _LINEAR:
        return float(index)
    shift = (index >> _SUB_BITS) - 1
    mantissa = index - (shift << _SUB_BITS)
    low = mantissa << shift
    return low + ((1 << shift) - 1) / 2


@dataclass
class KindStats:
    """What happened to the requests of one packet type."""

    requests: int = 0  # first transmissions (retransmissions not counted)
    responses: int = 0  # requests answered with a valid reply
    timeouts: int = 0  # requests still unanswered after every retransmission
    rejects: int = 0  # Access-Reject replies
    retransmissions: int = 0
    max_us: int = 0
    histogram: list[int] = field(default_factory=lambda: [0] * BUCKETS)

    def record(self, micros: int) -> None:
        """Count a valid reply that came ``micros`` after the first transmission."""
        self.responses += 1
        self.histogram[bucket_of(micros)] += 1
        if micros > self.max_us:
            self.max_us = micros

    def merge(self, other: KindStats) -> None:
        """Add ``other`` (e.g. another worker's) into this one."""
        self.requests += other.requests
        self.responses += other.responses
        self.timeouts += other.timeouts
        self.rejects += other.rejects
        self.retransmissions += other.retransmissions
        self.max_us = max(self.max_us, other.max_us)
        hist = self.histogram
        for i, n in enumerate(other.histogram):
            if n:
                hist[i] += n

    def percentile_us(self, p: float) -> float:
        """The ``p``-th percentile (0-100) of the recorded latencies, in µs (0 when none)."""
        total = self.responses
        if total == 0:
            return 0.0
        rank = max(1, -(-total * p // 100))  # ceil(total * p / 100), at least the first sample
        seen = 0
        for i, n in enumerate(self.histogram):
            seen += n
            if seen >= rank:
                return min(bucket_value(i), float(self.max_us))
        return float(self.max_us)  # pragma: no cover - the counts add up to responses

    def to_state(self) -> dict[str, Any]:
        """A plain, picklable form (for the result pipe of a worker process)."""
        return {
            "requests": self.requests,
            "responses": self.responses,
            "timeouts": self.timeouts,
            "rejects": self.rejects,
            "retransmissions": self.retransmissions,
            "max_us": self.max_us,
            "histogram": {i: n for i, n in enumerate(self.histogram) if n},
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> KindStats:
        stats = cls(
            requests=state["requests"],
            responses=state["responses"],
            timeouts=state["timeouts"],
            rejects=state["rejects"],
            retransmissions=state["retransmissions"],
            max_us=state["max_us"],
        )
        for i, n in state["histogram"].items():
            stats.histogram[int(i)] = n
        return stats


@dataclass
class RunStats:
    """The statistics of one run (or of one worker): one :class:`KindStats` per packet type."""

    kinds: list[KindStats] = field(default_factory=lambda: [KindStats() for _ in KINDS])
    elapsed: float = 0.0  # seconds from the first request to the last completion
    sessions: int = 0  # sessions started
    bad_replies: int = 0  # replies failing the authenticator checks, or matching nothing in flight
    interrupted: bool = False  # stopped by SIGINT: requests then in flight are in no column

    def merge(self, other: RunStats) -> None:
        """Add another worker's statistics (the run lasts as long as the longest worker)."""
        for mine, theirs in zip(self.kinds, other.kinds, strict=True):
            mine.merge(theirs)
        self.elapsed = max(self.elapsed, other.elapsed)
        self.sessions += other.sessions
        self.bad_replies += other.bad_replies
        self.interrupted = self.interrupted or other.interrupted

    def to_state(self) -> dict[str, Any]:
        return {
            "kinds": [k.to_state() for k in self.kinds],
            "elapsed": self.elapsed,
            "sessions": self.sessions,
            "bad_replies": self.bad_replies,
            "interrupted": self.interrupted,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> RunStats:
        return cls(
            kinds=[KindStats.from_state(k) for k in state["kinds"]],
            elapsed=state["elapsed"],
            sessions=state["sessions"],
            bad_replies=state["bad_replies"],
            interrupted=state.get("interrupted", False),
        )

    def report(self) -> dict[str, dict[str, Any]]:
        """The ``--json`` object: per packet type, requests, rates, latency (ms), timeouts, rejects."""
        elapsed = self.elapsed if self.elapsed > 0 else 0.0
        out: dict[str, dict[str, Any]] = {}
        for name, k in zip(KINDS, self.kinds, strict=True):
            out[name] = {
                "requests": k.requests,
                "requests_per_second": round(k.requests / elapsed, 1) if elapsed else 0.0,
                "p50_ms": _ms(k.percentile_us(50)),
                "p95_ms": _ms(k.percentile_us(95)),
                "p99_ms": _ms(k.percentile_us(99)),
                "max_ms": _ms(float(k.max_us)),
                "timeouts": k.timeouts,
                "rejects": k.rejects,
                "responses": k.responses,
                "retransmissions": k.retransmissions,
            }
        return out

    def summary(self) -> dict[str, Any]:
        """Totals across packet types (the last row of the table)."""
        requests = sum(k.requests for k in self.kinds)
        return {
            "requests": requests,
            "requests_per_second": round(requests / self.elapsed, 1) if self.elapsed else 0.0,
            "elapsed_s": round(self.elapsed, 3),
            "sessions": self.sessions,
            "timeouts": sum(k.timeouts for k in self.kinds),
            "rejects": sum(k.rejects for k in self.kinds),
            "retransmissions": sum(k.retransmissions for k in self.kinds),
            "bad_replies": self.bad_replies,
            "interrupted": self.interrupted,
        }


def _ms(micros: float) -> float:
    return round(micros / 1000.0, 3)
