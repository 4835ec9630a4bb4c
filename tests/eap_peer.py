"""A TTLS/PAP peer for tests without eapol_test: the standard library's TLS client over memory
BIOs, its flight sent in 100-octet fragments with the L and M bits (RFC 5216 §3.2), the
server's fragments acknowledged; ``step`` carries one EAP-Response (and the State) to the
server under test and returns its Outcome."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from pathlib import Path

from radiusd.eap import packet as eap
from radiusd.eap.engine import Outcome
from radiusd.eap.tls import FLAG_L, FLAG_M
from radiusd.eap.tunnels import encode_avp

Step = Callable[[bytes, bytes | None, int | None], Outcome]


def request_of(out: Outcome) -> eap.EapPacket:
    assert out.kind == "challenge", out
    return eap.decode(eap.join_eap_messages(out.attributes) or b"")


def state_of(out: Outcome) -> bytes:
    return next(v for t, v in out.attributes if t == 24)


def identity(ident: int, name: bytes = b"anonymous") -> bytes:
    return eap.EapPacket(eap.RESPONSE, ident, eap.IDENTITY, name).encode()


def ttls_pap(step: Step, ca: Path, user: bytes, password: bytes, mtu: int = 78) -> Outcome:
    """One EAP-TTLS/PAP authentication to its end (the last Outcome); every EAP-Request the
    server sends must fit ``mtu`` - 14 octets of TLS data."""
    ctx = ssl.create_default_context(cafile=str(ca))
    ctx.check_hostname = False
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    client = ctx.wrap_bio(incoming, outgoing, server_side=False)
    out = step(identity(1), None, mtu)
    state = state_of(out)
    sent_avps = False
    for _ in range(60):
        req = request_of(out)
        assert req.type == eap.TTLS and len(req.data) <= mtu - 14 + 5
        flags, body = req.data[0], req.data[1:]
        if flags & FLAG_L:
            body = body[4:]
        incoming.write(body)
        if flags & FLAG_M:  # acknowledge the server's fragment
            out = step(eap.EapPacket(eap.RESPONSE, req.identifier, eap.TTLS, b"\x00").encode(), state, mtu)
            continue
        try:
            client.do_handshake()
            if not sent_avps:
                client.write(encode_avp(1, user) + encode_avp(2, password + bytes(-len(password) % 16)))
                sent_avps = True
        except ssl.SSLWantReadError:
            pass
        flight = outgoing.read()
        if not flight:
            break
        chunks = [flight[i : i + 100] for i in range(0, len(flight), 100)]
        for n, chunk in enumerate(chunks):
            more = n < len(chunks) - 1
            head = bytes(((FLAG_L if n == 0 else 0) | (FLAG_M if more else 0),))
            head += len(flight).to_bytes(4, "big") if n == 0 else b""
            response = eap.EapPacket(eap.RESPONSE, request_of(out).identifier, eap.TTLS, head + chunk)
            out = step(response.encode(), state, mtu)
            if more:
                assert request_of(out).data == b"\x00"  # an ACK of our fragment
        if out.kind != "challenge":
            break
    return out
