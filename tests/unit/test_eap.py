"""EAP without sockets: the packet codec (RFC 3748 §4, RFC 3579 §3.1 vectors), the ``[eap]``
settings, and the conversation engine driven by a real TLS client (the standard ``ssl``
module over memory BIOs) through EAP-TTLS/PAP with small fragments both ways."""

from __future__ import annotations

import asyncio
import ssl
import struct
from pathlib import Path

import pytest

from radiusd.eap import packet as eap
from radiusd.eap.certs import make_test_pki
from radiusd.eap.engine import EapEngine, Outcome
from radiusd.eap.settings import parse_eap
from radiusd.eap.tls import FLAG_L, FLAG_M, FLAG_S
from radiusd.eap.tunnels import decode_avps, encode_avp, result_tlv
from radiusd.model.credentials import Credential, make_credential
from tests.eap_peer import identity, request_of, state_of, ttls_pap

# -- codec --------------------------------------------------------------------------------


def test_rfc3748_identity_response_round_trip() -> None:
    raw = bytes.fromhex("0207000a01616c696365")  # Response, Identifier 7, Length 10, Identity "alice"
    pkt = eap.decode(raw)
    assert (pkt.code, pkt.identifier, pkt.type, pkt.data) == (2, 7, 1, b"alice")
    assert pkt.encode() == raw
    assert pkt.describe() == "EAP-Response id 7 Identity (5 octets)"


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (b"\x02\x07\x00", "at least 4"),
        (b"\x02\x07\x00\x0b\x01alice", "Length 11 but 10"),  # RFC 3579 §2.1: no padding
        (b"\x03\x07\x00\x05\x00", "longer than 4"),
        (b"\x09\x07\x00\x04", "code 9 unknown"),
        (b"\x02\x07\x00\x04", "without a Type"),
    ],
)
def test_malformed_eap_is_refused_with_the_reason(raw: bytes, why: str) -> None:
    with pytest.raises(eap.EapError, match=why):
        eap.decode(raw)


def test_eap_message_split_at_253_and_joined_in_order() -> None:
    """RFC 3579 §3.1: a long EAP packet spans several EAP-Message attributes, in order."""
    big = bytes(range(256)) * 3
    parts = eap.split_eap_message(big)
    assert [len(v) for _, v in parts] == [253, 253, 253, 9]
    assert eap.join_eap_messages([(1, b"x"), *parts, (24, b"s")]) == big
    assert eap.join_eap_messages([(1, b"x")]) is None


def test_success_failure_and_nak() -> None:
    assert eap.success(9) == b"\x03\x09\x00\x04"  # RFC 3748 §4.2
    assert eap.failure(9) == b"\x04\x09\x00\x04"
    assert eap.nak_types(bytes((21, 0, 13))) == [21, 13]


def test_avps_round_trip_with_vendor_and_padding() -> None:
    """RFC 5281 §10.1: AVP header, V bit with Vendor-Id, padding to 4 octets not in Length."""
    raw = encode_avp(1, b"alice") + encode_avp(11, b"c" * 16, 311)
    assert len(raw) == 16 + 28
    assert raw[:8] == struct.pack("!IB", 1, 0x40) + (13).to_bytes(3, "big")
    assert decode_avps(raw) == {(0, 1): b"alice", (311, 11): b"c" * 16}
    with pytest.raises(eap.EapError):
        decode_avps(raw[:-20])


def test_result_tlv() -> None:
    assert result_tlv(struct.pack("!HHH", 0x8003, 2, 1)) == 1
    assert result_tlv(b"\x00\x07\x00\x00" + struct.pack("!HHH", 3, 2, 2)) == 2
    assert result_tlv(b"\x80") == 0


# -- settings -----------------------------------------------------------------------------


def test_settings_defaults_and_refusals(tmp_path: Path) -> None:
    assert not parse_eap({}).enabled
    s = parse_eap(
        {"cert": "c", "key": "k", "ca": "a", "methods": ["peap", "tls"], "plan_methods": {"iot": ["tls"]}}
    )
    assert s.methods == (eap.PEAP, eap.TLS) and s.default_method == eap.PEAP
    assert s.methods_for_plan("iot") == (eap.TLS,) and s.methods_for_plan("gold") == s.methods
    with pytest.raises(ValueError, match="allow_md5"):
        parse_eap({"methods": ["md5"]})
    assert parse_eap({"methods": ["md5"], "allow_md5": True}).methods == (eap.MD5_CHALLENGE,)
    with pytest.raises(ValueError, match="cert and key"):
        parse_eap({"methods": ["peap"]})
    with pytest.raises(ValueError, match="ca is needed"):
        parse_eap({"cert": "c", "key": "k", "methods": ["tls"]})
    with pytest.raises(ValueError, match="unknown setting 'certificate'"):
        parse_eap({"certificate": "c"})
    with pytest.raises(ValueError, match="default_method"):
        parse_eap({"cert": "c", "key": "k", "methods": ["ttls"], "default_method": "peap"})


# -- the engine ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_test_pki(tmp_path_factory.mktemp("pki"))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


USERS = {"alice": make_credential("s3cret pass", "cleartext")}


def lookup(name: str) -> Credential | None:
    return USERS.get(name)


def engine(pki: dict[str, Path], clock: Clock | None = None, **extra: object) -> EapEngine:
    section = {
        "cert": str(pki["server.pem"]),
        "key": str(pki["server.key"]),
        "ca": str(pki["ca.pem"]),
        **extra,
    }
    return EapEngine(parse_eap(section), clock=clock or Clock())


def step(e: EapEngine, eap_packet: bytes, state: bytes | None = None, mtu: int | None = None) -> Outcome:
    attrs = [(79, v) for _, v in eap.split_eap_message(eap_packet)] + ([(24, state)] if state else [])

    async def run() -> Outcome:
        out = e.handle(attrs, lookup, USERS.__contains__, mtu)
        return out if isinstance(out, Outcome) else await out  # a TLS step runs on the pool

    return asyncio.run(run())


def test_identity_starts_the_default_method_and_nak_switches(pki: dict[str, Path]) -> None:
    e = engine(pki)
    out = step(e, identity(5))
    req = request_of(out)
    assert (req.identifier, req.type, req.data) == (6, eap.PEAP, bytes((FLAG_S,)))
    nak = eap.EapPacket(eap.RESPONSE, 6, eap.NAK, bytes((eap.TTLS,))).encode()
    req2 = request_of(step(e, nak, state_of(out)))
    assert (req2.identifier, req2.type) == (7, eap.TTLS)


def test_nak_to_a_method_not_allowed_is_rejected(pki: dict[str, Path]) -> None:
    e = engine(pki, methods=["peap"])
    out = step(e, identity(1))
    rej = step(
        e, eap.EapPacket(eap.RESPONSE, 2, eap.NAK, bytes((eap.MD5_CHALLENGE,))).encode(), state_of(out)
    )
    assert rej.kind == "reject" and "not allowed" in rej.reason
    assert eap.join_eap_messages(rej.attributes) == eap.failure(2)
    assert not e.conversations


def test_unknown_state_stale_identifier_and_expiry(pki: dict[str, Path]) -> None:
    clock = Clock()
    e = engine(pki, clock, timeout=30)
    assert step(e, identity(1, b"x"), b"no such state").kind == "reject"
    out = step(e, identity(1))
    state = state_of(out)
    stale = step(e, eap.EapPacket(eap.RESPONSE, 1, eap.PEAP, b"\x00").encode(), state)
    assert stale.kind == "drop"  # RFC 3748 §4.1: a response to an older request is discarded
    clock.now += 31
    step(e, identity(9))  # any new conversation sweeps the idle ones
    assert state not in e.conversations and e.counts["expired"] == 1
    late = step(e, eap.EapPacket(eap.RESPONSE, 2, eap.PEAP, b"\x00").encode(), state)
    assert late.kind == "reject" and "unknown or expired" in late.reason


def test_max_conversations(pki: dict[str, Path]) -> None:
    e = engine(pki, max_conversations=2)
    assert step(e, identity(1)).kind == "challenge"
    assert step(e, identity(1)).kind == "challenge"
    full = step(e, identity(1))
    assert full.kind == "reject" and "max_conversations" in full.reason


def test_fragments_are_bounded_per_message_and_over_all_conversations(pki: dict[str, Path]) -> None:
    """RFC 5216 §2.1.5: fragments with the M bit are acknowledged (an EAP-Request with Flags
    only) while held; a message announced beyond 64 kB, one longer than announced, or a
    fragment past ``max_buffered`` over all conversations is rejected with an EAP-Failure,
    and what the conversation held is released."""
    clock = Clock()
    e = engine(pki, clock, max_buffered=5000, timeout=30)

    def begin() -> tuple[bytes, int]:
        out = step(e, identity(1))
        return state_of(out), request_of(out).identifier

    def fragment(ident: int, state: bytes, size: int, total: int | None = None) -> Outcome:
        head = bytes((FLAG_M | (FLAG_L if total is not None else 0),))
        head += total.to_bytes(4, "big") if total is not None else b""
        return step(e, eap.EapPacket(eap.RESPONSE, ident, eap.PEAP, head + bytes(size)).encode(), state)

    (s1, i1), (s2, i2) = begin(), begin()
    ack = fragment(i1, s1, 2000, total=60000)
    assert request_of(ack).data == b"\x00"  # an ACK: Flags only, version 0
    i1 = request_of(ack).identifier
    i2 = request_of(fragment(i2, s2, 2000, total=60000)).identifier
    assert e.buffered == 4000
    over = fragment(i1, s1, 1500)  # 4000 + 1500 > 5000
    assert over.kind == "reject" and "max_buffered" in over.reason
    assert eap.join_eap_messages(over.attributes) == eap.failure(i1)
    assert e.buffered == 2000 and s1 not in e.conversations
    s3, i3 = begin()
    huge = fragment(i3, s3, 100, total=70000)
    assert huge.kind == "reject" and "at most 65536" in huge.reason
    longer = fragment(i2, s2, 2000, total=60000)  # a second L: the first total stands
    i2 = request_of(longer).identifier
    s4, i4 = begin()
    liar = fragment(i4, s4, 900, total=800)
    assert liar.kind == "reject" and "announced" in liar.reason
    assert e.buffered == 4000
    clock.now += 31  # the peer walks away halfway: what it held goes with it
    e.sweep()
    assert e.buffered == 0 and not e.conversations and e.counts["expired"] == 1


def test_first_packet_must_be_identity_and_a_request_is_refused(pki: dict[str, Path]) -> None:
    e = engine(pki)
    assert "Identity" in step(e, eap.EapPacket(eap.RESPONSE, 1, eap.PEAP, b"\x00").encode()).reason
    assert step(e, eap.EapPacket(eap.REQUEST, 1, eap.IDENTITY, b"").encode()).kind == "reject"
    assert "malformed" in step(e, b"\x02\x01\x00").reason


def test_md5_needs_the_setting_and_checks_the_response(pki: dict[str, Path]) -> None:
    import hashlib

    e = engine(pki, methods=["md5"], allow_md5=True)
    out = step(e, identity(3, b"alice"))
    req = request_of(out)
    assert req.type == eap.MD5_CHALLENGE and req.data[0] == 16
    good = hashlib.md5(bytes((req.identifier,)) + b"s3cret pass" + req.data[1:17]).digest()
    ok = step(
        e,
        eap.EapPacket(eap.RESPONSE, req.identifier, eap.MD5_CHALLENGE, b"\x10" + good).encode(),
        state_of(out),
    )
    assert ok.kind == "accept" and ok.username == "alice" and ok.msk is None
    out = step(e, identity(3, b"alice"))
    req = request_of(out)
    bad = step(
        e,
        eap.EapPacket(eap.RESPONSE, req.identifier, eap.MD5_CHALLENGE, b"\x10" + bytes(16)).encode(),
        state_of(out),
    )
    assert bad.kind == "reject" and "wrong password" in bad.reason


@pytest.mark.parametrize("password", [b"s3cret pass", b"wrong"])
def test_ttls_pap_with_a_real_tls_client_and_small_fragments(pki: dict[str, Path], password: bytes) -> None:
    """The standard library's TLS client, over memory BIOs, through the engine: fragments of
    64 octets out (Framed-MTU 78) and the client's flight sent in 100-octet fragments with
    the L and M bits (RFC 5216 §3.2); the inner PAP AVPs decide."""
    e = engine(pki, methods=["ttls"])
    out = ttls_pap(lambda data, state, mtu: step(e, data, state, mtu), pki["ca.pem"], b"alice", password)
    if password == b"wrong":
        assert out.kind == "reject" and "wrong password" in out.reason
    else:
        assert out.kind == "accept" and out.username == "alice"
        assert out.msk is not None and len(out.msk) == 64
        assert eap.join_eap_messages(out.attributes) == eap.success(request_of_last(out))
    assert not e.conversations


def request_of_last(out: Outcome) -> int:
    return (eap.join_eap_messages(out.attributes) or b"\x00\x00")[1]


def test_reload_keeps_the_old_certificate_when_the_new_one_is_bad(
    pki: dict[str, Path], tmp_path: Path
) -> None:
    e = engine(pki)
    before = e.tls
    assert before is not None
    bad = parse_eap(
        {"cert": str(tmp_path / "missing.pem"), "key": str(pki["server.key"]), "ca": str(pki["ca.pem"])}
    )
    with pytest.raises(ValueError, match="does not exist"):
        e.reload(bad)
    assert e.tls is before and e.tls.files.cert == str(pki["server.pem"])


# -- CLI and config -----------------------------------------------------------------------


def test_test_cert_writes_a_pki_with_private_keys_0600(tmp_path: Path) -> None:
    import json
    import stat

    from click.testing import CliRunner
    from cryptography import x509

    from radiusd.cli.main import cli

    out = tmp_path / "pki"
    result = CliRunner().invoke(cli, ["eap", "test-cert", "--out", str(out), "--client", "bob", "--json"])
    assert result.exit_code == 0, result.output
    files = json.loads(result.stdout)
    assert set(files) == {"ca.pem", "ca.key", "server.pem", "server.key", "client.pem", "client.key",
                          "revoked.pem", "revoked.key", "crl.pem"}  # fmt: skip
    for name, path in files.items():
        mode = stat.S_IMODE(Path(path).stat().st_mode)
        assert mode == 0o600 if name.endswith(".key") else not mode & 0o002, (name, oct(mode))
    client = x509.load_pem_x509_certificate(Path(files["client.pem"]).read_bytes())
    revoked = x509.load_pem_x509_certificate(Path(files["revoked.pem"]).read_bytes())
    crl = x509.load_pem_x509_crl(Path(files["crl.pem"]).read_bytes())
    assert crl.get_revoked_certificate_by_serial_number(revoked.serial_number) is not None
    assert crl.get_revoked_certificate_by_serial_number(client.serial_number) is None
    from radiusd.eap.methods import certificate_names

    assert certificate_names(client) == ["bob", "bob@radiusd.lab"]
    blocked = tmp_path / "file"
    blocked.write_text("")
    bad = CliRunner().invoke(cli, ["eap", "test-cert", "--out", str(blocked / "x")])
    assert (
        bad.exit_code == 1
        and bad.stderr.startswith("radiusd: error: cannot write into")
        and bad.stderr[-1] == "\n"
    )


def test_eap_section_in_the_config_file(tmp_path: Path, pki: dict[str, Path]) -> None:
    """The [eap] table beside [radiusd]; relative file names are relative to the file."""
    from radiusd.config import load_settings
    from radiusd.eap.build import build_engine

    (tmp_path / "server.pem").write_bytes(pki["server.pem"].read_bytes())
    conf = tmp_path / "radiusd.toml"
    key = pki["server.key"]
    conf.write_text(
        f'[radiusd]\nreject_delay = 0\n\n[eap]\ncert = "server.pem"\nkey = "{key}"\nmethods = "peap, ttls"\n'
    )
    settings = load_settings(conf)
    assert settings.eap["cert"] == str(tmp_path / "server.pem")
    e = build_engine(settings.eap)
    assert e is not None and e.settings.methods == (eap.PEAP, eap.TTLS)
    e.close()
    assert build_engine(load_settings(None).eap) is None
    conf.write_text('[eap]\ncert = "missing.pem"\nkey = "missing.key"\n')
    with pytest.raises(ValueError, match=r"missing\.pem does not exist"):
        build_engine(load_settings(conf).eap)


def test_serve_refuses_a_bad_eap_section_in_one_line(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from radiusd.cli.main import cli

    conf = tmp_path / "radiusd.toml"
    conf.write_text('[radiusd]\ndata_dir = "."\n\n[eap]\nmethods = ["peap", "md5"]\ncert = "a"\nkey = "b"\n')
    result = CliRunner().invoke(cli, ["--config", str(conf), "serve", "--auth-port", "0", "--acct-port", "0"])
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("radiusd: error: [eap] methods: md5 sends no keys and protects nothing")


def test_nas_methods_choose_what_is_offered_and_what_a_nak_may_get(pki: dict[str, Path]) -> None:
    e = engine(pki, nas_methods={"lobby": ["ttls"]})
    attrs = [(79, identity(1))]

    async def begin(nas: str) -> Outcome:
        out = e.handle(attrs, lookup, USERS.__contains__, None, nas)
        assert isinstance(out, Outcome)
        return out

    assert request_of(asyncio.run(begin("lobby"))).type == eap.TTLS  # peap is the default elsewhere
    out = asyncio.run(begin("core"))
    assert request_of(out).type == eap.PEAP
    lobby = asyncio.run(begin("lobby"))
    nak = eap.EapPacket(eap.RESPONSE, 2, eap.NAK, bytes((eap.PEAP,))).encode()
    refused = step(e, nak, state_of(lobby))
    assert refused.kind == "reject" and "not allowed" in refused.reason
    with pytest.raises(ValueError, match=r"nas_methods\.x"):
        parse_eap({"cert": "c", "key": "k", "methods": ["peap"], "nas_methods": {"x": ["ttls"]}})


def test_a_private_key_others_may_read_is_logged(pki: dict[str, Path], tmp_path: Path) -> None:
    from structlog.testing import capture_logs

    key = tmp_path / "server.key"
    key.write_bytes(pki["server.key"].read_bytes())
    key.chmod(0o644)
    with capture_logs() as logs:
        EapEngine(parse_eap({"cert": str(pki["server.pem"]), "key": str(key)})).close()
        key.chmod(0o600)
        EapEngine(parse_eap({"cert": str(pki["server.pem"]), "key": str(key)})).close()
    assert [(e["event"], e["mode"]) for e in logs if e["event"] == "eap.key-readable"] == [
        ("eap.key-readable", "0o644")
    ]


def test_only_the_client_hello_goes_to_the_pool_and_a_full_pool_drops_it_whole(pki: dict[str, Path]) -> None:
    """The ClientHello's answer (the private-key operation) is the one step on the TLS pool;
    when the pool is full it is dropped (``eap-busy``) before anything reaches OpenSSL, so
    the access point's retransmission of the same packet starts the handshake afresh."""
    import threading

    from radiusd.eap.engine import BUSY

    e = engine(pki, methods=["ttls"], workers=1, queue_max=1)
    ctx = ssl.create_default_context(cafile=str(pki["ca.pem"]))
    ctx.check_hostname = False
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    client = ctx.wrap_bio(incoming, outgoing, server_side=False)
    with pytest.raises(ssl.SSLWantReadError):
        client.do_handshake()
    hello = outgoing.read()

    async def run() -> None:
        start = e.handle([(79, identity(1))], lookup, USERS.__contains__)
        assert isinstance(start, Outcome)
        state = state_of(start)
        ident = request_of(start).identifier
        response = eap.EapPacket(eap.RESPONSE, ident, eap.TTLS, b"\x00" + hello).encode()
        attrs = [*eap.split_eap_message(response), (24, state)]
        release = threading.Event()
        blocker = e.pool.submit(release.wait)  # the one place in the queue is taken
        assert blocker is not None
        dropped = e.handle(attrs, lookup, USERS.__contains__)
        assert isinstance(dropped, Outcome) and dropped.kind == "drop" and dropped.reason == BUSY
        assert e.counts["busy"] == 1
        release.set()
        await blocker
        answered = e.handle(attrs, lookup, USERS.__contains__)  # the retransmission
        assert not isinstance(answered, Outcome)  # a future: the pool signs
        out = await answered
        flight = request_of(out).data
        assert flight[0] & FLAG_L and flight[5] == 22 and flight[10] == 2  # a ServerHello record
        # the ACK of the flight's first fragment is answered at once, on the loop
        ack = eap.EapPacket(eap.RESPONSE, request_of(out).identifier, eap.TTLS, b"\x00").encode()
        nxt = e.handle([(79, ack), (24, state)], lookup, USERS.__contains__)
        assert isinstance(nxt, Outcome) and nxt.kind == "challenge"

    asyncio.run(run())
    e.close()
