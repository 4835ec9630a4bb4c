"""A plan's rate limit (``10M/20M``) in each vendor's own reply attributes.

The plan stores the rate the MikroTik way, ``RX/TX`` seen from the router: RX is what the
router receives from the subscriber (upload), TX what it sends (download), each a number
with an optional k, M or G (powers of 1000, bits per second), optionally followed by
MikroTik's burst and priority fields, which only MikroTik reads. Each router plugin turns
it into the attributes its NAS understands; a NAS of another vendor would ignore or,
worse, reject them, so nothing here is sent to a NAS that did not ask for it.

Vendors that apply named policies (Cisco, Juniper) get names derived from the rate, e.g.
``RATE-10M-IN`` / ``RATE-20M-OUT``; define policies of those names on the BNG.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

Pairs = list[tuple[str, Any]]

_RATE = re.compile(r"(\d+(?:\.\d+)?)([kKmMgG]?)")
_SCALE = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9}
_MAX_INTEGER = 0xFFFFFFFF  # RADIUS integer attributes are 32-bit (RFC 2865 §5)


@dataclass(frozen=True, slots=True)
class RateLimit:
    """Upload and download rates in bit/s, with their text as the plan wrote it."""

    up: int
    down: int
    up_text: str
    down_text: str

    @property
    def up_kbps(self) -> int:
        return max(1, self.up // 1000)

    @property
    def down_kbps(self) -> int:
        return max(1, self.down // 1000)


def _bits(text: str) -> int:
    m = _RATE.fullmatch(text)
    if m is None:
        raise ValueError(f"{text!r} is not a rate like 10M")
    return int(float(m.group(1)) * _SCALE[m.group(2).lower()])


def parse(rate_limit: str) -> RateLimit:
    """``RX/TX[ ...]`` as a :class:`RateLimit`; ValueError for anything else."""
    first = rate_limit.split()[0] if rate_limit.strip() else ""
    rx, sep, tx = first.partition("/")
    if not sep:
        raise ValueError(f"rate limit {rate_limit!r} is not RX/TX like 10M/20M")
    return RateLimit(up=_bits(rx), down=_bits(tx), up_text=rx.upper(), down_text=tx.upper())


def _capped(bits: int) -> int:
    return min(bits, _MAX_INTEGER)


def mikrotik(rate_limit: str) -> Pairs:
    """RouterOS reads the whole string, bursts included (Mikrotik-Rate-Limit, 14988/8)."""
    parse(rate_limit)
    return [("Mikrotik-Rate-Limit", rate_limit)]


def cisco(rate_limit: str) -> Pairs:
    """ISG / ASR 9000 BNG: subscriber QoS policies by name in Cisco-AVPair (9/1)."""
    r = parse(rate_limit)
    return [
        ("Cisco-AVPair", f"subscriber:sub-qos-policy-in=RATE-{r.up_text}-IN"),
        ("Cisco-AVPair", f"subscriber:sub-qos-policy-out=RATE-{r.down_text}-OUT"),
    ]


def wispr(rate_limit: str) -> Pairs:
    """WISPr-Bandwidth-Max-Up/Down (14122/7, 14122/8), bits per second."""
    r = parse(rate_limit)
    return [("WISPr-Bandwidth-Max-Up", _capped(r.up)), ("WISPr-Bandwidth-Max-Down", _capped(r.down))]


def juniper(rate_limit: str) -> Pairs:
    """Junos / ERX subscriber management: input and output policies by name (4874/10, 4874/11)."""
    r = parse(rate_limit)
    return [
        ("ERX-Ingress-Policy-Name", f"RATE-{r.up_text}-IN"),
        ("ERX-Egress-Policy-Name", f"RATE-{r.down_text}-OUT"),
    ]


def huawei(rate_limit: str) -> Pairs:
    """Huawei-Input/Output-Average-Rate (2011/2, 2011/5), bit/s; input is the user's upload."""
    r = parse(rate_limit)
    return [
        ("Huawei-Input-Average-Rate", _capped(r.up)),
        ("Huawei-Output-Average-Rate", _capped(r.down)),
    ]


def nokia(rate_limit: str) -> Pairs:
    """SR OS: Alc-Subscriber-QoS-Override (6527/126), kbit/s: ingress queue 1 PIR and the
    egress aggregate rate of the subscriber."""
    r = parse(rate_limit)
    return [
        ("Alc-Subscriber-QoS-Override", f"i:q:1:pir={r.up_kbps}"),
        ("Alc-Subscriber-QoS-Override", f"e:r:rate={r.down_kbps}"),
    ]


def accel_ppp(rate_limit: str) -> Pairs:
    """accel-ppp's shaper reads Filter-Id (its default ``attr``) as ``down/up`` in kbit/s."""
    r = parse(rate_limit)
    return [("Filter-Id", f"{r.down_kbps}/{r.up_kbps}")]


def cambium(rate_limit: str) -> Pairs:
    """Cambium ePMP: the subscriber module's maximum uplink and downlink rates, kbit/s
    (Cambium-ePMP-Max-Burst-Uplink-Rate 17713/26, -Downlink-Rate 17713/27)."""
    r = parse(rate_limit)
    return [
        ("Cambium-ePMP-Max-Burst-Uplink-Rate", r.up_kbps),
        ("Cambium-ePMP-Max-Burst-Downlink-Rate", r.down_kbps),
    ]
