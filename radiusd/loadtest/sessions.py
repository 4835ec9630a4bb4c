"""Simulated subscribers: the users file, and the datagrams of one session as a NAS sends them.

A session is Access-Request (PAP, CHAP or MS-CHAPv2, Message-Authenticator first by default)
-> Accounting-Start -> K x Interim-Update -> Stop, carrying the Framed-IP-Address of the
Access-Accept (or a synthetic one from 100.64.0.0/10 when the server gave none), any Class
echoed (RFC 2865 §5.25), a unique Acct-Session-Id and counters that grow at every update.
Simulated sessions are marked: their Acct-Session-Id starts ``radiusd-loadtest-`` (exports
leave them out unless ``--include-loadtest``), and their simulated time ends when the run
does (Event-Timestamps in the past, never in the future).

Datagrams are assembled here from pre-encoded attribute bytes rather than through
:class:`radiusd.codec.Packet`: the generator builds tens of thousands per second, and the
constant part of each (NAS attributes, User-Name, the session's accounting attributes) is
encoded once. The authenticator arithmetic is the codec's (:mod:`radiusd.codec.crypto`); the
unit tests decode every datagram built here with the codec and check it.
"""

from __future__ import annotations

import os
import socket
import struct
import time
from collections.abc import Iterable
from dataclasses import dataclass
from hashlib import md5

from radiusd.codec import mschap
from radiusd.codec import vsa as codec_vsa
from radiusd.codec.attributes_gen import (
    ACCT_INPUT_GIGAWORDS,
    ACCT_INPUT_OCTETS,
    ACCT_INPUT_PACKETS,
    ACCT_OUTPUT_GIGAWORDS,
    ACCT_OUTPUT_OCTETS,
    ACCT_OUTPUT_PACKETS,
    ACCT_SESSION_ID,
    ACCT_SESSION_TIME,
    ACCT_STATUS_TYPE,
    ACCT_TERMINATE_CAUSE,
    CALLING_STATION_ID,
    CHAP_PASSWORD,
    CLASS,
    EVENT_TIMESTAMP,
    FRAMED_IP_ADDRESS,
    FRAMED_PROTOCOL,
    MS_CHAP2_RESPONSE,
    MS_CHAP_CHALLENGE,
    NAS_IDENTIFIER,
    NAS_IP_ADDRESS,
    NAS_PORT,
    NAS_PORT_TYPE,
    SERVICE_TYPE,
    USER_NAME,
    USER_PASSWORD,
    VENDOR_MICROSOFT,
)
from radiusd.codec.crypto import ZERO16, hide_user_password, hmac_md5, verify_response
from radiusd.codec.scanning import verify_message_authenticator
from radiusd.store.reports import LOADTEST_SESSION_PREFIX
from radiusd.store.subscriber_csv import CsvError, read_subscriber_rows

ACCESS_REQUEST, ACCESS_ACCEPT, ACCESS_REJECT = 1, 2, 3
ACCOUNTING_REQUEST, ACCOUNTING_RESPONSE = 4, 5
STATUS_START, STATUS_STOP, STATUS_INTERIM = 1, 2, 3

AUTH_METHODS = ("pap", "chap", "mschapv2")

MICROSOFT = VENDOR_MICROSOFT

_HEADER = struct.Struct("!BBH")
_U32 = struct.Struct("!BBI")
_MA_ZERO = b"\x50\x12" + ZERO16
# Acct-Status-Type, Acct-Session-Time, Acct-Input/Output-Octets, -Packets, -Gigawords,
# Event-Timestamp: one pack call per accounting datagram.
_ACCT_COUNTERS = struct.Struct("!" + "BBI" * 9)
_TERMINATE_USER_REQUEST = _U32.pack(ACCT_TERMINATE_CAUSE, 6, 1)  # Acct-Terminate-Cause = User-Request

INTERIM_SECONDS = 60  # simulated time between updates (Acct-Session-Time grows by this)
#: Acct-Session-Id prefix that marks simulated sessions (exports leave them out by default)
SESSION_PREFIX = LOADTEST_SESSION_PREFIX.encode()
OCTETS_IN_PER_STEP = 3_000_000_017  # > 2^31: exercises Gigawords after two updates
OCTETS_OUT_PER_STEP = 700_000_003
PACKETS_PER_STEP = 1_000_003


class UsersError(ValueError):
    """The users file cannot be used (one-line message)."""


@dataclass(frozen=True)
class User:
    """One subscriber of the users file."""

    username: str
    password: str


def read_users(lines: Iterable[str]) -> list[User]:
    """Users from CSV ``lines`` with the columns of ``radiusd subscriber import``."""
    try:
        rows = read_subscriber_rows(lines)
    except CsvError as exc:
        raise UsersError(str(exc)) from None
    if not rows:
        raise UsersError("the users file has no subscribers")
    return [User(row["username"], row["password"]) for row in rows]


def attr(type_code: int, value: bytes) -> bytes:
    """One encoded attribute."""
    if len(value) > 253:
        raise ValueError(f"attribute {type_code} value of {len(value)} octets is too long")
    return bytes((type_code, len(value) + 2)) + value


# MS-CHAPv2 request attributes (RFC 2548 §2.1.2, §2.3.2), through the codec's one VSA encoder
_MS_CHAP_CHALLENGE = codec_vsa.encoder("MS-CHAP-Challenge", MICROSOFT, MS_CHAP_CHALLENGE, None)
_MS_CHAP2_RESPONSE = codec_vsa.encoder("MS-CHAP2-Response", MICROSOFT, MS_CHAP2_RESPONSE, None)


def synthetic_ip(index: int) -> bytes:
    """A distinct address of 100.64.0.0/10 (shared address space, RFC 6598) per session index."""
    n = (100 << 24) | (64 << 16) | (index & 0x3FFFFF)
    return n.to_bytes(4, "big")


@dataclass(frozen=True)
class Profile:
    """What every session of a run shares: secret, method, NAS identity, interims."""

    secret: bytes
    auth: str = "pap"
    message_authenticator: bool = True
    interims: int = 1
    nas_ip: bytes = b"\x7f\x00\x00\x01"
    nas_identifier: bytes = b"radiusd-loadtest"
    run_id: int = 0  # makes Acct-Session-Id unique across runs

    def nas_attributes(self) -> bytes:
        return b"".join(
            (
                attr(NAS_IP_ADDRESS, self.nas_ip),
                attr(NAS_IDENTIFIER, self.nas_identifier),
                _U32.pack(NAS_PORT_TYPE, 6, 5),  # Virtual (PPPoE)
                _U32.pack(SERVICE_TYPE, 6, 2),  # Framed
                _U32.pack(FRAMED_PROTOCOL, 6, 1),  # PPP
            )
        )


class UserKeys:
    """Per-user constants, computed on first use: encoded User-Name, password octets, NT hash."""

    __slots__ = ("name", "name_attr", "nt_hash", "password")

    def __init__(self, user: User) -> None:
        self.name = user.username.encode()
        self.name_attr = attr(USER_NAME, self.name)
        self.password = user.password.encode()
        self.nt_hash: bytes | None = None


class Session:
    """One simulated subscriber session; ``step`` 0 is access, 1 start, 2..K+1 interims, K+2 stop."""

    __slots__ = ("acct_attrs", "framed_ip", "index", "keys", "started_at", "step")

    def __init__(self, index: int, keys: UserKeys) -> None:
        self.index = index
        self.keys = keys
        self.step = 0
        self.framed_ip = b""
        self.acct_attrs = b""
        self.started_at = 0


class SessionBuilder:
    """Builds the datagrams of sessions for one :class:`Profile`."""

    def __init__(self, profile: Profile) -> None:
        if profile.auth not in AUTH_METHODS:
            raise ValueError(f"unknown authentication method {profile.auth!r}")
        self.profile = profile
        self.secret = profile.secret
        self.nas = profile.nas_attributes()
        self.last_step = profile.interims + 2

    def kind_of(self, step: int) -> int:
        """The packet type (stats index: access, start, interim, stop) sent at ``step``."""
        if step == 0:
            return 0
        if step == 1:
            return 1
        return 3 if step == self.last_step else 2

    # -- Access-Request -------------------------------------------------------------------

    def access_request(self, session: Session, identifier: int) -> tuple[bytes, bytes]:
        """``(datagram, request authenticator)`` of the session's Access-Request."""
        keys = session.keys
        secret = self.secret
        auth = os.urandom(16)
        method = self.profile.auth
        if method == "pap":
            cred = attr(USER_PASSWORD, hide_user_password(keys.password, secret, auth))
        elif method == "chap":
            ident = identifier  # any octet; the identifier is as good as another
            digest = md5(bytes((ident,)) + keys.password + auth).digest()
            cred = attr(CHAP_PASSWORD, bytes((ident,)) + digest)  # challenge = the authenticator
        else:
            cred = self._mschapv2(keys, auth)
        calling = b"02-00-%02X-%02X-%02X-%02X" % tuple((session.index & 0xFFFFFFFF).to_bytes(4, "big"))
        body = b"".join(
            (
                _MA_ZERO if self.profile.message_authenticator else b"",
                keys.name_attr,
                cred,
                self.nas,
                _U32.pack(NAS_PORT, 6, session.index & 0xFFFFFFFF),
                attr(CALLING_STATION_ID, calling),
            )
        )
        header = _HEADER.pack(ACCESS_REQUEST, identifier, 20 + len(body))
        if self.profile.message_authenticator:
            mac = hmac_md5(secret, header + auth + body)
            body = b"\x50\x12" + mac + body[18:]
        return header + auth + body, auth

    def _mschapv2(self, keys: UserKeys, auth: bytes) -> bytes:
        if keys.nt_hash is None:
            keys.nt_hash = mschap.nt_password_hash(keys.password.decode())
        challenge = auth  # 16 unpredictable octets already at hand
        peer = md5(auth).digest()
        nt_response = mschap.generate_nt_response(challenge, peer, keys.name, keys.nt_hash)
        response = b"\x01\x00" + peer + bytes(8) + nt_response  # ident, flags, peer, reserved, NT
        (challenge_vsa,) = _MS_CHAP_CHALLENGE(challenge)
        (response_vsa,) = _MS_CHAP2_RESPONSE(response)
        return attr(*challenge_vsa) + attr(*response_vsa)

    def accept(self, session: Session, reply: bytes) -> None:
        """Take the Framed-IP-Address and Class values of an Access-Accept into the session."""
        framed = b""
        classes: list[bytes] = []
        i, n = 20, len(reply)
        while i + 2 <= n:
            t, length = reply[i], reply[i + 1]
            if length < 2:
                break
            if t == FRAMED_IP_ADDRESS and length == 6:
                framed = reply[i + 2 : i + 6]
            elif t == CLASS:
                classes.append(reply[i : i + length])
            i += length
        session.framed_ip = framed or synthetic_ip(session.index)
        # the simulated session ends now: no Event-Timestamp (hence stop time) in the future
        session.started_at = int(time.time()) - INTERIM_SECONDS * (self.last_step - 1)
        sid = b"%s%08x%08x" % (SESSION_PREFIX, self.profile.run_id & 0xFFFFFFFF, session.index & 0xFFFFFFFF)
        session.acct_attrs = b"".join(
            (
                session.keys.name_attr,
                attr(ACCT_SESSION_ID, sid),
                attr(FRAMED_IP_ADDRESS, session.framed_ip),
                self.nas,
                _U32.pack(NAS_PORT, 6, session.index & 0xFFFFFFFF),
                *classes,
            )
        )

    # -- Accounting-Request ---------------------------------------------------------------

    def accounting_request(self, session: Session, identifier: int) -> tuple[bytes, bytes]:
        """``(datagram, request authenticator)`` of the session's current accounting step."""
        step = session.step
        if step == 1:
            status, k = STATUS_START, 0
        elif step == self.last_step:
            status, k = STATUS_STOP, step - 1
        else:
            status, k = STATUS_INTERIM, step - 1
        inp = OCTETS_IN_PER_STEP * k
        out = OCTETS_OUT_PER_STEP * k
        pkts = PACKETS_PER_STEP * k
        counters = _ACCT_COUNTERS.pack(
            ACCT_STATUS_TYPE, 6, status,
            ACCT_SESSION_TIME, 6, INTERIM_SECONDS * k,
            ACCT_INPUT_OCTETS, 6, inp & 0xFFFFFFFF,
            ACCT_OUTPUT_OCTETS, 6, out & 0xFFFFFFFF,
            ACCT_INPUT_GIGAWORDS, 6, inp >> 32,
            ACCT_OUTPUT_GIGAWORDS, 6, out >> 32,
            ACCT_INPUT_PACKETS, 6, pkts & 0xFFFFFFFF,
            ACCT_OUTPUT_PACKETS, 6, pkts & 0xFFFFFFFF,
            EVENT_TIMESTAMP, 6, session.started_at + INTERIM_SECONDS * k,
        )  # fmt: skip
        body = counters + session.acct_attrs
        if status == STATUS_STOP:
            body += _TERMINATE_USER_REQUEST
        header = _HEADER.pack(ACCOUNTING_REQUEST, identifier, 20 + len(body))
        auth = md5(header + ZERO16 + body + self.secret).digest()
        return header + auth + body, auth


def reply_valid(data: bytes, request_auth: bytes, secret: bytes) -> bool:
    """The reply's Response Authenticator, and its Message-Authenticator when present, check out."""
    if len(data) < 20 or ((data[2] << 8) | data[3]) > len(data):
        return False
    if not verify_response(data, request_auth, secret):
        return False
    if data[0] == ACCOUNTING_RESPONSE:
        return True
    ok = verify_message_authenticator(data, secret, authenticator=request_auth)
    return ok is None or ok


def parse_server(text: str, default_port: int = 1812) -> tuple[str, int]:
    """``HOST[:PORT]`` (``[v6]:PORT`` for IPv6) -> ``(address, port)``; the host is resolved."""
    text = text.strip()
    host, port = text, default_port
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ValueError(f"bad server {text!r} (expected [ADDRESS]:PORT)")
        if rest:
            port = _port(rest[1:], text)
    elif text.count(":") == 1:
        host, _, p = text.partition(":")
        port = _port(p, text)
    if not host:
        raise ValueError(f"bad server {text!r}: no host")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    except socket.gaierror as exc:
        raise ValueError(f"cannot resolve {host!r}: {exc.strerror}") from None
    return str(infos[0][4][0]), port


def _port(text: str, whole: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"bad port in {whole!r}")
    return int(text)
