"""The NAS clients the daemon accepts packets from, keyed by source address.

A packet whose source is not here is dropped before it is decoded. The registry is
replaced or patched in place when the change feed says the NAS list changed, so a
``radiusd nas add`` takes effect without a restart.

A NAS may be a subnet (``10.0.0.0/24``, as clients.conf allows for a cluster of BNGs). The
lookup tries the exact address first (one dict lookup, the usual case), then the subnets by
longest prefix: one dict lookup per distinct prefix length, whatever the number of subnets.
A source matched by a subnet gets the subnet's client with ``address`` set to that source
(cached), so sessions, and the CoA sent for them, name the router that actually spoke.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import replace

from radiusd.model.request import NasClient

#: Most source addresses matched through subnets remembered (a cache, cleared on reload).
MATCH_CACHE = 65536


class NasRegistry:
    def __init__(self, clients: list[NasClient] | None = None) -> None:
        self._by_address: dict[str, NasClient] = {}
        # (version, prefix length) -> {network int: client}, longest prefixes first
        self._subnets: list[tuple[int, int, dict[int, NasClient]]] = []
        self._matched: dict[str, NasClient | None] = {}
        #: RadSec clients by certificate fingerprint, and by subject key (:func:`subject_key`)
        self._by_fingerprint: dict[str, NasClient] = {}
        self._by_subject: dict[frozenset[tuple[str, str]], NasClient] = {}
        self.replace_all(clients or [])

    def __len__(self) -> int:
        return len(self._by_address)

    def get(self, source_address: str) -> NasClient | None:
        """The NAS for a datagram's source address: exact match (mapped IPv4 tolerated), else
        the longest subnet containing it."""
        nas = self._by_address.get(source_address)
        if nas is None and source_address.startswith("::ffff:"):
            source_address = source_address[7:]
            nas = self._by_address.get(source_address)
        if nas is None and self._subnets:
            nas = self._match(source_address)
        return nas

    def _match(self, source: str) -> NasClient | None:
        if source in self._matched:
            return self._matched[source]
        version = 6 if ":" in source else 4
        try:
            packed = socket.inet_pton(socket.AF_INET6 if version == 6 else socket.AF_INET, source)
        except OSError:
            return None
        value, bits = int.from_bytes(packed, "big"), len(packed) * 8
        found: NasClient | None = None
        for v, plen, nets in self._subnets:
            if v != version:
                continue
            client = nets.get(value >> (bits - plen) << (bits - plen))
            if client is not None:
                found = replace(client, address=source, network=client.address)
                break
        if len(self._matched) >= MATCH_CACHE:
            self._matched.clear()
        self._matched[source] = found
        return found

    def by_name(self, name: str) -> NasClient | None:
        for nas in self._by_address.values():
            if nas.name == name:
                return nas
        return None

    def replace_all(self, clients: list[NasClient]) -> None:
        self._by_address = {c.address: c for c in clients}
        groups: dict[tuple[int, int], dict[int, NasClient]] = {}
        for c in clients:
            if c.is_subnet:
                net = ipaddress.ip_network(c.address, strict=False)
                groups.setdefault((net.version, net.prefixlen), {})[int(net.network_address)] = c
        self._subnets = sorted(((v, p, nets) for (v, p), nets in groups.items()), key=lambda t: -t[1])
        self._matched = {}
        self._by_fingerprint = {c.radsec_fingerprint: c for c in clients if c.radsec and c.radsec_fingerprint}
        self._by_subject = {
            subject_key(c.radsec_subject): c for c in clients if c.radsec and c.radsec_subject
        }

    def by_certificate(
        self, fingerprint: str, subjects: list[frozenset[tuple[str, str]]]
    ) -> NasClient | None:
        """The RadSec client a TLS peer's certificate names: by its SHA-256 fingerprint first,
        else by the first of ``subjects`` (the whole subject, then each CN and DNS name, as
        :func:`radiusd.server.radsec_tls.certificate_identity` lists them) that a NAS has."""
        nas = self._by_fingerprint.get(fingerprint)
        if nas is not None:
            return nas
        for key in subjects:
            nas = self._by_subject.get(key)
            if nas is not None:
                # a NAS that also pins a fingerprint accepts only that certificate
                return nas if nas.radsec_fingerprint in (None, fingerprint) else None
        return None

    def radsec_count(self) -> int:
        return sum(1 for c in self._by_address.values() if c.radsec)

    def all(self) -> list[NasClient]:
        return list(self._by_address.values())


def subject_key(subject: str) -> frozenset[tuple[str, str]]:
    """What a stored subject matches, order and case aside: ``CN=a,O=b`` and ``/O=b/CN=a``
    give the same key; a bare name ``a`` is ``CN=a`` (the certificate side also offers each
    DNS subjectAltName as a CN key)."""
    text = subject.strip()
    if "=" not in text:
        return frozenset({("cn", text.lower())})
    pairs = []
    for part in text.strip("/").replace("/", ",").split(","):
        key, _, value = part.partition("=")
        pairs.append((key.strip().lower(), value.strip().lower()))
    return frozenset(pairs)
