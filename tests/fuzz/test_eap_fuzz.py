"""Hypothesis fuzz of EAP parsing: the EAP packet codec, the EAP-TLS framing and the TLS
records behind it, the TTLS AVPs and the PEAP TLVs. The oracle: a clean refusal
(:class:`EapError`, or a method's failure Step) or a result; never another exception.
"""

from __future__ import annotations

import contextlib
import ssl

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from radiusd.eap import packet as eap
from radiusd.eap.certs import make_test_pki
from radiusd.eap.methods import EapTlsMethod, MethodContext, Step, TlsBased
from radiusd.eap.settings import parse_eap
from radiusd.eap.tls import TlsContexts
from radiusd.eap.tunnels import PeapMethod, TtlsMethod, decode_avps, result_tlv

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def contexts(tmp_path_factory: pytest.TempPathFactory) -> TlsContexts:
    pki = make_test_pki(tmp_path_factory.mktemp("pki"))
    files = parse_eap(
        {"cert": str(pki["server.pem"]), "key": str(pki["server.key"]), "ca": str(pki["ca.pem"])}
    ).tls_files()
    assert files is not None
    return TlsContexts(files)


@FUZZ
@given(st.binary(max_size=300))
def test_eap_decode(data: bytes) -> None:
    try:
        pkt = eap.decode(data)
    except eap.EapError:
        return
    assert pkt.encode() == data
    pkt.describe()


@FUZZ
@given(st.binary(max_size=300))
def test_avps_and_tlvs(data: bytes) -> None:
    try:
        decode_avps(data)
    except eap.EapError:
        pass
    assert result_tlv(data) >= 0


def _handshake_record(body: bytes) -> bytes:
    """A TLS handshake record around ``body`` (the parser gets past the record layer)."""
    return b"\x16\x03\x03" + len(body).to_bytes(2, "big") + body


# EAP-TLS Type-Data: flags (any bits), maybe a length, then TLS bytes: random, or a record
# header with random contents, or a ClientHello header with a random body
type_data = st.one_of(
    st.binary(max_size=400),
    st.tuples(st.integers(0, 255), st.binary(max_size=300)).map(lambda t: bytes((t[0],)) + t[1]),
    st.binary(max_size=300).map(
        lambda b: b"\x00" + _handshake_record(b"\x01" + len(b).to_bytes(3, "big") + b)
    ),
    st.tuples(st.binary(min_size=4, max_size=4), st.binary(max_size=300)).map(
        lambda t: b"\xc0" + t[0] + t[1]
    ),
)


@pytest.mark.parametrize("method", [EapTlsMethod, PeapMethod, TtlsMethod])
@FUZZ
@given(steps=st.lists(type_data, min_size=1, max_size=4))
def test_tls_methods_refuse_garbage_cleanly(contexts: TlsContexts, method: type, steps: list[bytes]) -> None:
    ctx = MethodContext(lambda _u: None, lambda _u: False, contexts, fragment=200)
    m = method(ctx, "anonymous")
    m.start()
    for data in steps:
        try:
            out = m.process(1, data)
        except eap.EapError:
            return
        assert isinstance(out, Step)
        if out.kind != "request":
            assert out.kind == "failure", out  # garbage never authenticates anybody
            return


def _established(contexts: TlsContexts, method: type[TlsBased]) -> TlsBased:
    """A TTLS or PEAP method whose TLS tunnel is up, driven by the standard library's client."""
    ctx = MethodContext(lambda _u: None, lambda _u: False, contexts, fragment=4000)
    m = method(ctx, "anonymous")
    out = m.start()
    client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client_ctx.check_hostname = False
    client_ctx.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    client = client_ctx.wrap_bio(incoming, outgoing)
    while not m.tunnel.handshake_done:
        assert out.kind == "request", out
        incoming.write(out.data[1:])
        with contextlib.suppress(ssl.SSLWantReadError):
            client.do_handshake()
        out = m.process(1, b"\x00" + outgoing.read())
    return m


# what a peer may send once the tunnel is up: Type-Data with application-data records of
# random contents (our decryption fails them), or raw garbage
tunnel_data = st.one_of(
    st.binary(max_size=300).map(lambda b: b"\x00\x17\x03\x03" + len(b).to_bytes(2, "big") + b),
    st.binary(max_size=300),
)


@pytest.mark.parametrize("method", [PeapMethod, TtlsMethod])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=tunnel_data)
def test_records_inside_the_tunnel_are_refused_cleanly(
    contexts: TlsContexts, method: type, data: bytes
) -> None:
    m = _established(contexts, method)
    try:
        out = m.process(2, data)
    except eap.EapError:
        return
    assert out.kind in ("request", "failure"), out
