"""Bad input over a real socket to ``radiusd serve``: dropped and counted, nothing written.

One test per class of bad input, on SQLite and PostgreSQL. Every bad request is aimed where
it would write something if it were taken: a login of a subscriber whose plan allocates an
address from a pool, or an Accounting-Request Start. Each test ends with the same checks:

- the bad datagram gets no answer (or, where the protocol asks for one, an Access-Reject);
- the drop is counted under its reason (``radiusd_drops_total`` on the admin API's
  /metrics) and logged with that reason (``packet.dropped``; a reject: ``auth.reject``, or
  ``access.rejected`` for one the access policy did not make);
- nothing was written: no lease, no session, no accounting row, no IP assignment;
- the daemon still answers good requests on both ports.

The unknown-source flood sends 50,000 datagrams from 127.0.0.2 and reads the daemon's VmRSS
from /proc before and after.
"""

from __future__ import annotations

import functools
import hashlib
import json
import socket
import time
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from radiusd.codec.codes import Code
from radiusd.codec.dictionary import default_dictionary
from radiusd.codec.packet import Packet, decode, encode_request
from tests.integration.conftest import HOST, DaemonProcess, UdpPeer, rss_kb, wait_until
from tests.integration.test_accounting_daemon import query

SECRET = "bad-input-s3cret"
S = SECRET.encode()
POOL_USER, POOL_PW = "pooled", "pw-Pooled-1"
PLAIN_USER, PLAIN_PW = "plain", "pw-Plain-1"
NOISY_USER = "noisy"  # a plan with reply attributes and no pool: an Access-Accept writes nothing
D = default_dictionary()
NO_REPLY_WAIT = 0.6  # seconds a bad request is given to (wrongly) get an answer
STRANGER = "127.0.0.2"
FLOOD = 50_000
RSS_GROWTH_CAP_KB = 4096

WRITES = {
    "leases": "SELECT COUNT(*) FROM ipv4_ips WHERE state IN ('offered', 'leased')",
    "assignments": "SELECT COUNT(*) FROM service_ip_assignments",
    "sessions": "SELECT COUNT(*) FROM radius_sessions",
    "interims": "SELECT COUNT(*) FROM radius_interim_updates",
    "accounting": "SELECT COUNT(*) FROM radius_accounting",
}


def seed(d: DaemonProcess) -> None:
    d.cli("nas", "add", "lo", "--address", HOST, "--secret", SECRET)
    d.cli("pool", "add", "bad-pool", "--range", "10.66.0.0/24")
    d.cli(
        "plan", "add", "pooled", "--pool", "bad-pool", "--rate-limit", "10M/10M", "--session-timeout", "3600"
    )
    d.cli("subscriber", "add", POOL_USER, "--password", POOL_PW, "--plan", "pooled")
    d.cli("subscriber", "add", PLAIN_USER, "--password", PLAIN_PW)
    d.cli("plan", "add", "noisy", "--rate-limit", "10M/10M", "--reply", "Reply-Message=" + "welcome " * 12)
    d.cli("subscriber", "add", NOISY_USER, "--password", PLAIN_PW, "--plan", "noisy")
    token = d.cli("api-token", "create", "bad-input", "--read-only", "--json").stdout
    d.token = json.loads(token)["token"]  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def daemon(module_db_url: str, daemon_factory: Callable[..., DaemonProcess]) -> Iterator[DaemonProcess]:
    """The module's daemon with the admin API on a free port (for /metrics)."""
    yield daemon_factory(module_db_url, args=("--api-bind", f"{HOST}:{free_tcp_port()}"), seed=seed)


def free_tcp_port() -> int:
    """A free TCP port on loopback (--api-bind takes no port 0)."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


# -- observing the daemon -------------------------------------------------------------------------


def metrics(d: DaemonProcess) -> dict[str, float]:
    """``{'drops:REASON': n, 'requests:TYPE:RESULT': n, 'duplicates': n}`` from /metrics."""
    host, port = d.bound["api"][0][:2]
    req = urllib.request.Request(
        f"http://{host}:{port}/metrics",
        headers={"Authorization": f"Bearer {d.token}"},  # type: ignore[attr-defined]
    )
    with urllib.request.urlopen(req, timeout=5) as resp:
        text = resp.read().decode()
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("radiusd_drops_total{"):
            reason = line.split('reason="', 1)[1].split('"', 1)[0]
            out[f"drops:{reason}"] = float(line.rsplit(" ", 1)[1])
        elif line.startswith("radiusd_requests_total{"):
            labels = dict(part.split("=") for part in line[line.index("{") + 1 : line.index("}")].split(","))
            out[f"requests:{labels['type'].strip(chr(34))}:{labels['result'].strip(chr(34))}"] = float(
                line.rsplit(" ", 1)[1]
            )
        elif line.startswith("radiusd_duplicates_total "):
            out["duplicates"] = float(line.rsplit(" ", 1)[1])
    return out


def writes(d: DaemonProcess) -> dict[str, int]:
    return {name: int(query(d.url, sql)[0][0]) for name, sql in WRITES.items()}


# -- packets ------------------------------------------------------------------------------------------


def access(
    user: str = POOL_USER,
    password: str | None = POOL_PW,
    *,
    ident: int = 1,
    message_auth: bool = True,
    extra: list[tuple[int, bytes]] = (),  # type: ignore[assignment]
    hidden: bytes | None = None,
    chap: bool = False,
) -> bytes:
    p = Packet(Code.ACCESS_REQUEST, ident, dictionary=D)
    p.add("User-Name", user).add("NAS-IP-Address", HOST).add("NAS-Port", 1)
    if password is not None:
        p.set_user_password(password.encode(), S)
    if hidden is not None:
        p.authenticator = p.authenticator if p.authenticator != bytes(16) else bytes(range(16))
        p.add_raw(2, hidden)
    if chap:
        if p.authenticator == bytes(16):
            p.authenticator = bytes(range(16))
        pw = (password or POOL_PW).encode()
        p.add_raw(3, b"\x07" + hashlib.md5(b"\x07" + pw + p.authenticator).digest())
    for t, v in extra:
        p.add_raw(t, v)
    return encode_request(p, S, message_auth=message_auth)


def accounting(status: str = "Start", user: str = POOL_USER, sid: str = "bad-1", **kw: Any) -> bytes:
    p = Packet(Code.ACCOUNTING_REQUEST, kw.pop("ident", 1), dictionary=D)
    p.add("Acct-Status-Type", status).add("User-Name", user).add("Acct-Session-Id", sid)
    p.add("NAS-IP-Address", HOST).add("NAS-Port", 1).add("Framed-IP-Address", "10.66.0.200")
    return encode_request(p, S, message_auth=kw.pop("message_auth", False))


def with_length(data: bytes, n: int) -> bytes:
    return data[:2] + n.to_bytes(2, "big") + data[4:]


def resign_ma(data: bytes) -> bytes:
    """Recompute an Access-Request's Message-Authenticator after an edit (so only the edit is bad)."""
    import hmac

    from radiusd.codec.scanning import message_authenticator_offset

    off = message_authenticator_offset(data)
    assert off
    zeroed = data[:off] + bytes(16) + data[off + 16 :]
    return data[:off] + hmac.new(S, zeroed, "md5").digest() + data[off + 16 :]


# -- the common ending ------------------------------------------------------------------------------


class Probe:
    """Send bad datagrams, then check counters, logs, database and that good requests work."""

    def __init__(self, d: DaemonProcess) -> None:
        self.d = d
        self.before = metrics(d)
        self.writes = writes(d)
        self.peer = UdpPeer()

    def _grew(self, key: str, n: int) -> bool:
        """Whether the counter ``key`` of /metrics went up by at least ``n`` since the start."""
        return metrics(self.d).get(key, 0) - self.before.get(key, 0) >= n

    def _logged(self, field: str, text: str) -> list[dict[str, Any]]:
        """The daemon's log events whose ``field`` contains ``text``."""
        return [e for e in self.d.events() if text in str(e.get(field, ""))]

    def port(self, which: str) -> int:
        return self.d.auth_port if which == "auth" else self.d.acct_port

    def no_answer(self, data: bytes, which: str = "auth") -> None:
        reply = self.peer.exchange(data, self.port(which), timeout=NO_REPLY_WAIT)
        assert reply is None, f"a bad request was answered: {reply.hex()}"

    def rejected(self, data: bytes) -> None:
        reply = self.peer.exchange(data, self.d.auth_port, timeout=3)
        assert reply is not None, "no Access-Reject"
        assert reply[0] == Code.ACCESS_REJECT, f"code {reply[0]} instead of Access-Reject"

    def finish(
        self, drops: dict[str, int] | None = None, rejects: int = 0, log: dict[str, str] | None = None
    ) -> None:
        d = self.d
        for reason, n in (drops or {}).items():
            key = f"drops:{reason}"
            got = wait_until(functools.partial(self._grew, key, n), 3)
            after = metrics(d)
            assert got, f"drops {reason}: +{after.get(key, 0) - self.before.get(key, 0)}, expected +{n}"
            assert after.get(key, 0) - self.before.get(key, 0) == n, (reason, after, self.before)
            d.wait_event("packet.dropped", reason=reason)
        if rejects:
            key = "requests:access:reject"
            assert wait_until(lambda: metrics(d).get(key, 0) - self.before.get(key, 0) == rejects, 3)
        for field, text in (log or {}).items():
            found = wait_until(functools.partial(self._logged, field, text), 3)
            assert found, f"no log event with {field} containing {text!r}"
        after = metrics(d)
        answered = {k: v - self.before.get(k, 0) for k, v in after.items() if k.startswith("requests:")}
        unexpected = {k: v for k, v in answered.items() if v and k != "requests:access:reject"}
        assert not unexpected, f"bad requests were answered: {unexpected}"
        assert writes(d) == self.writes, "something was written for a bad request"
        self.good()
        self.peer.__exit__()

    def good(self) -> None:
        """A good PAP login (no pool: writes nothing) and a Status-Server on the acct port."""
        reply = self.peer.exchange(access(PLAIN_USER, PLAIN_PW, ident=200), self.d.auth_port, timeout=3)
        assert reply is not None and reply[0] == Code.ACCESS_ACCEPT, "the daemon stopped answering logins"
        status = Packet(Code.STATUS_SERVER, 201, dictionary=D)
        reply = self.peer.exchange(encode_request(status, S), self.d.acct_port, timeout=3)
        assert reply is not None and reply[0] == Code.ACCOUNTING_RESPONSE, "the acct port stopped answering"


# -- one test per class of bad input -----------------------------------------------------------------


def test_truncated_packets(daemon: DaemonProcess) -> None:
    p = Probe(daemon)
    good = access()
    p.no_answer(good[:19])  # shorter than a header
    p.no_answer(good[: len(good) - 5])  # Length says more than the datagram holds
    p.no_answer(accounting()[:30], "acct")
    p.finish({"too-short": 1, "truncated": 2})


def test_oversized_packets(daemon: DaemonProcess) -> None:
    p = Probe(daemon)
    good = access()
    big = good + b"\x21\x02" * ((5000 - len(good)) // 2)
    p.no_answer(with_length(big, len(big)))  # Length over 4096
    p.no_answer(with_length(good, 4097))  # Length over 4096, short datagram
    p.no_answer(with_length(good, 19))  # Length under the header
    p.finish({"bad-length": 3})


def test_bad_attribute_lengths(daemon: DaemonProcess) -> None:
    p = Probe(daemon)
    good = access()
    i = 20 + good[21]  # User-Name, after the Message-Authenticator our encoder puts first
    for bad in (0, 1):
        p.no_answer(good[: i + 1] + bytes((bad,)) + good[i + 2 :])
    overrun = bytearray(good)
    overrun[i + 1] = 250  # User-Name claims to run past the packet
    p.no_answer(bytes(overrun))
    p.no_answer(with_length(good + b"\x01", len(good) + 1))  # one stray octet: a 1-octet attribute header
    p.finish({"bad-attribute-length": 2, "attribute-overrun": 2})


def test_malformed_vsas(daemon: DaemonProcess) -> None:
    """Malformed Vendor-Specific attributes are kept raw and never used (RFC 6929 §2.8): a login
    whose proof sits only in a broken MS-CHAP2-Response VSA is rejected, nothing is written,
    and an Accounting-Request Start with broken VSAs is still dropped if its authenticator is bad."""
    p = Probe(daemon)
    broken = [
        (26, b"\x00\x00\x01\x37" + b"\x19\x50" + bytes(49)),  # MS-CHAP2-Response: sub-length overruns
        (26, b"\x00\x00\x01\x37" + b"\x19\x01"),  # sub-length 1
        (26, b"\x00\x00\x01"),  # shorter than a vendor id
        (26, b"\x00\x00\x01\x37\x0b\x12" + bytes(14) + b"\x19\x00"),  # MS-CHAP-Challenge + length-0 sub
    ]
    p.rejected(access(password=None, extra=broken))
    p.rejected(access(password=None, extra=broken[:1], ident=2))
    acct = accounting(sid="bad-vsa")
    acct = with_length(acct + b"\x1a\x07\x00\x00\x00\x09\x01", len(acct) + 7)  # VSA, unsigned edit
    p.no_answer(acct, "acct")
    p.finish({"bad-authenticator": 1}, rejects=2)


def test_wrong_code_for_the_port(daemon: DaemonProcess) -> None:
    p = Probe(daemon)
    p.no_answer(accounting(sid="wrong-port"), "auth")  # Accounting-Request on the auth port
    p.no_answer(access(), "acct")  # Access-Request on the acct port
    accept = bytearray(access(ident=3))
    accept[0] = Code.ACCESS_ACCEPT  # a reply code sent to a server
    p.no_answer(bytes(accept), "auth")
    p.finish({"unexpected-code": 3})


def test_message_authenticator_wrong_missing_duplicated(daemon: DaemonProcess) -> None:
    p = Probe(daemon)
    good = access()
    wrong = bytearray(good)
    wrong[30] ^= 0x01  # one bit of the HMAC (Message-Authenticator is the first attribute)
    p.no_answer(bytes(wrong))
    p.no_answer(access(message_auth=False, ident=4))  # this NAS must send it (BlastRADIUS)
    twice = good + good[20:38]
    p.no_answer(resign_ma(with_length(twice, len(twice))))
    acct = bytearray(accounting(sid="ma-wrong", message_auth=True))
    ma = acct.find(b"\x50\x12", 20)
    acct[ma + 5] ^= 1  # a wrong Message-Authenticator under a correct Request Authenticator
    body = bytes(acct[:4]) + bytes(16) + bytes(acct[20:])
    acct[4:20] = hashlib.md5(body + S).digest()
    p.no_answer(bytes(acct), "acct")
    p.finish({"bad-message-authenticator": 3, "missing-message-authenticator": 1})


def test_accounting_request_with_wrong_authenticator(daemon: DaemonProcess) -> None:
    p = Probe(daemon)
    good = bytearray(accounting(sid="wrong-auth"))
    good[10] ^= 0x01
    p.no_answer(bytes(good), "acct")
    other = Packet(Code.ACCOUNTING_REQUEST, 9, dictionary=D)
    other.add("Acct-Status-Type", "Start").add("User-Name", POOL_USER).add("Acct-Session-Id", "wrong-secret")
    p.no_answer(encode_request(other, b"not-the-secret"), "acct")
    p.finish({"bad-authenticator": 2})


def test_user_password_too_long_or_not_multiple_of_16(daemon: DaemonProcess) -> None:
    """RFC 2865 §5.2: 16..128 octets, a multiple of 16. Answered with Access-Reject, nothing written."""
    p = Probe(daemon)
    p.rejected(access(password=None, hidden=bytes(144), ident=5))  # longer than 128
    p.rejected(access(password=None, hidden=bytes(17), ident=6))  # not a multiple of 16
    p.rejected(access(password=None, hidden=bytes(8), ident=7))  # shorter than 16
    p.finish(rejects=3, log={"reason": "User-Password is malformed"})


def test_both_or_neither_user_password_and_chap_password(daemon: DaemonProcess) -> None:
    p = Probe(daemon)
    p.rejected(access(chap=True, ident=8))  # both
    p.rejected(access(password=None, ident=9))  # neither (nor any MS-CHAP proof)
    p.finish(rejects=2, log={"reason": "both User-Password and CHAP-Password"})


def test_thousands_of_attributes(daemon: DaemonProcess) -> None:
    """2,000+ attributes up to 4096 octets: handled in bounded time, never half-done.

    Thousands of Proxy-State make the echoing reply overflow 4096 octets: dropped as
    reply-too-large (this used to raise out of the datagram handler). One attribute too many
    (Length 4097) is bad-length. A plain login with 2,000 harmless attributes is answered.
    """
    p = Probe(daemon)
    base = access(PLAIN_USER, PLAIN_PW, ident=10)
    room = (4096 - len(base)) // 2
    noisy = access(NOISY_USER, PLAIN_PW, ident=11)
    fill = (4096 - len(noisy)) // 2
    proxy_states = resign_ma(with_length(noisy + b"\x21\x02" * fill, len(noisy) + 2 * fill))
    assert len(proxy_states) > 4090 and decode(proxy_states)
    p.no_answer(proxy_states)
    over = base + b"\x21\x02" * (room + 1)
    p.no_answer(resign_ma(with_length(over + b"\x00" * ((4097 - len(over)) % 2), 4097)))
    started = time.monotonic()
    filler = resign_ma(with_length(base + b"\xe0\x02" * room, len(base) + 2 * room))  # type 224, unassigned
    reply = p.peer.exchange(filler, daemon.auth_port, timeout=3)
    assert reply is not None and reply[0] == Code.ACCESS_ACCEPT, "a valid 4 KiB request was not answered"
    assert time.monotonic() - started < 1.0
    p.before["requests:access:accept"] = p.before.get("requests:access:accept", 0) + 1
    p.finish({"reply-too-large": 1, "bad-length": 1})


def test_flood_from_an_unknown_address(daemon: DaemonProcess) -> None:
    """50,000 datagrams from 127.0.0.2 (no NAS there): dropped before decoding, memory flat."""
    assert daemon.proc is not None
    p = Probe(daemon)
    pid = daemon.proc.pid
    rss_before = rss_kb(pid)
    good = access()
    junk = [good, b"\x01", good[:25], accounting(sid="flood"), bytes(4096)]
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((STRANGER, 0))
    started = time.monotonic()
    try:
        for i in range(FLOOD):
            sock.sendto(junk[i % len(junk)], (HOST, daemon.auth_port if i % 2 else daemon.acct_port))
            if i % 500 == 499:
                time.sleep(0.005)  # stay under the socket buffer: count what the daemon saw
        reply = sock.recv(4096) if _readable(sock, 0.3) else None
    finally:
        sock.close()
    seconds = time.monotonic() - started
    assert reply is None, "the daemon answered an unknown source"
    counted = wait_until(
        lambda: (
            metrics(daemon).get("drops:unknown-nas", 0) - p.before.get("drops:unknown-nas", 0) >= FLOOD * 0.9
            and True
        ),
        10,
    )
    got = metrics(daemon).get("drops:unknown-nas", 0) - p.before.get("drops:unknown-nas", 0)
    rss_after = rss_kb(pid)
    print(
        f"\nunknown-source flood: {FLOOD} datagrams in {seconds:.2f} s, {int(got)} counted as unknown-nas; "
        f"daemon VmRSS {rss_before} -> {rss_after} kB ({rss_after - rss_before:+d} kB)"
    )
    assert counted, f"only {got} of {FLOOD} counted as unknown-nas"
    assert got <= FLOOD
    assert rss_after - rss_before < RSS_GROWTH_CAP_KB, f"VmRSS grew {rss_after - rss_before} kB"
    # dropped before decoding: no decode reason was counted, one rate-limited log line
    after = metrics(daemon)
    decoded = {
        k: v - p.before.get(k, 0)
        for k, v in after.items()
        if k.startswith("drops:") and k != "drops:unknown-nas"
    }
    assert not any(decoded.values()), decoded
    lines = [
        e
        for e in daemon.events("packet.dropped", reason="unknown-nas")
        if e["source"].startswith(STRANGER + ":")
    ]
    assert 1 <= len(lines) <= 2, f"{len(lines)} log lines for one flooding source"
    p.before = after
    p.finish()


def _readable(sock: socket.socket, timeout: float) -> bool:
    import select

    return bool(select.select([sock], [], [], timeout)[0])
