"""The tunnelled methods: PEAPv0 with inner EAP-MSCHAPv2 (draft-josefsson-pppext-eap-tls-eap,
MS-PEAP; draft-kamath-pppext-eap-mschapv2) and EAP-TTLSv0 with inner PAP or MS-CHAPv2
(RFC 5281 §11.2.1, §11.2.4). The outer identity is never used: the inner one is the user.
"""

from __future__ import annotations

import os
import struct

from radiusd.policy.credentials import verify_mschap2, verify_pap

from . import packet as eap
from .methods import Step, TlsBased, failed, request

MICROSOFT = 311
# PEAP Result TLV (MS-PEAP §2.2.8.1): mandatory bit, type 3, length 2, status
RESULT_TLV = 0x8003
RESULT_SUCCESS = 1
RESULT_FAILURE = 2
# EAP-MSCHAPv2 op-codes (draft-kamath-pppext-eap-mschapv2 §2)
MS_CHALLENGE, MS_RESPONSE, MS_SUCCESS, MS_FAILURE = 1, 2, 3, 4


class PeapMethod(TlsBased):
    """PEAPv0. Inside the tunnel the EAP header is left out, except for the Extensions
    packet that carries the Result TLV (MS-PEAP §3.1.5.6)."""

    type = eap.PEAP
    name = "PEAP"

    def start(self) -> Step:
        self.phase = "identity"
        self.inner_id = int.from_bytes(os.urandom(1), "big")
        self.user = ""
        return super().start()

    def after_handshake(self, first: bool, records: bool) -> Step:
        t = self.tunnel
        out = t.pending()  # TLS 1.2: our ChangeCipherSpec and Finished; TLS 1.3: tickets
        if first and out and not t.tls13:
            # the peer acknowledges, then phase 2 starts (wpa_supplicant refuses a phase 2
            # request in the flight that carries our Finished)
            return self.send(out)
        app = t.read_app()
        step = self._inner(app)
        if step.kind != "request":
            return step
        t.send_app(step.data)
        return self.send(out + t.pending())

    def _next_id(self) -> int:
        self.inner_id = (self.inner_id + 1) & 0xFF
        return self.inner_id

    def _inner(self, app: bytes) -> Step:  # noqa: C901  (one branch per phase of the inner conversation, in order)
        if self.phase == "identity":
            if app:
                return failed("PEAP: the peer spoke before phase 2 began")
            self.phase = "identity-sent"
            return request(bytes((eap.IDENTITY,)))
        if not app:
            return failed(f"PEAP: nothing tunnelled where phase 2 expected a response ({self.phase})")
        if self.phase == "identity-sent":
            if app[0] != eap.IDENTITY:
                return failed("PEAP: phase 2 did not answer the Identity request")
            self.user = app[1:].decode("utf-8", "replace")
            self.note(f"inner identity {self.user!r} (outer {self.outer_identity!r} not used)")
            self.challenge = os.urandom(16)
            self.ms_id = self._next_id()
            name = b"radiusd"
            body = (
                struct.pack("!BBHB", MS_CHALLENGE, self.ms_id, 5 + 16 + len(name), 16) + self.challenge + name
            )
            self.phase = "challenge-sent"
            return request(bytes((eap.MSCHAPV2,)) + body)
        if self.phase == "challenge-sent":
            if app[0] == eap.NAK:
                return failed("PEAP: the peer refused inner MSCHAPv2 (Nak)")
            if app[0] != eap.MSCHAPV2 or len(app) < 55 or app[1] != MS_RESPONSE or app[5] != 49:
                return failed("PEAP: malformed EAP-MSCHAPv2 response")
            value = app[6:55]  # Peer-Challenge(16) Reserved(8) NT-Response(24) Flags(1)
            name = app[55:]
            cred = self.ctx.credential(self.user)
            if cred is None:
                return failed(f"PEAP: unknown user {self.user!r}")
            result = verify_mschap2(cred, name, self.challenge, bytes((app[2], 0)) + value[:48])
            if not result.ok:
                return failed(f"PEAP/MSCHAPv2: {result.reason}")
            self.note(f"inner MSCHAPv2: {result.reason}")
            assert result.success_value is not None
            auth = result.success_value[1:]
            self.phase = "success-sent"
            return request(
                bytes((eap.MSCHAPV2,)) + struct.pack("!BBH", MS_SUCCESS, app[2], 4 + len(auth)) + auth
            )
        if self.phase == "success-sent":
            if app[:2] != bytes((eap.MSCHAPV2, MS_SUCCESS)):
                return failed("PEAP: the peer did not acknowledge MSCHAPv2 success")
            self.phase = "result-sent"
            tlv = struct.pack("!HHH", RESULT_TLV, 2, RESULT_SUCCESS)
            return request(eap.EapPacket(eap.REQUEST, self._next_id(), eap.EXTENSIONS, tlv).encode())
        if self.phase == "result-sent":
            try:
                pkt = eap.decode(app)
            except eap.EapError as exc:
                return failed(f"PEAP: Result TLV response: {exc}")
            if pkt.type != eap.EXTENSIONS or result_tlv(pkt.data) != RESULT_SUCCESS:
                return failed("PEAP: the peer did not confirm success (Result TLV)")
            return Step(
                "success", username=self.user, msk=self.tunnel.msk(eap.PEAP, b"client EAP encryption")
            )
        return failed(f"PEAP: unexpected phase {self.phase}")


def result_tlv(data: bytes) -> int:
    """The status of the Result TLV among the TLVs of an Extensions packet (0 when none)."""
    pos = 0
    while pos + 4 <= len(data):
        tlv_type, length = struct.unpack_from("!HH", data, pos)
        value = data[pos + 4 : pos + 4 + length]
        if tlv_type & 0x3FFF == 3 and len(value) == 2:
            return int.from_bytes(value, "big")
        pos += 4 + length
    return 0


# -- TTLS -------------------------------------------------------------------------------------

AVP_V = 0x80
AVP_M = 0x40


def decode_avps(data: bytes) -> dict[tuple[int, int], bytes]:
    """Diameter AVPs (RFC 5281 §10.1): ``(vendor, code) -> value``; each padded to 4 octets."""
    out: dict[tuple[int, int], bytes] = {}
    pos = 0
    while pos < len(data):
        if pos + 8 > len(data):
            raise eap.EapError("TTLS: truncated AVP header")
        code, flags = struct.unpack_from("!IB", data, pos)
        length = int.from_bytes(data[pos + 5 : pos + 8], "big")
        head = 12 if flags & AVP_V else 8
        if length < head or pos + length > len(data):
            raise eap.EapError(f"TTLS: AVP {code} of length {length}")
        vendor = int.from_bytes(data[pos + 8 : pos + 12], "big") if flags & AVP_V else 0
        out[(vendor, code)] = data[pos + head : pos + length]
        pos += (length + 3) & ~3
    return out


def encode_avp(code: int, value: bytes, vendor: int = 0) -> bytes:
    flags = AVP_M | (AVP_V if vendor else 0)
    head = 12 if vendor else 8
    raw = struct.pack("!IB", code, flags) + (head + len(value)).to_bytes(3, "big")
    if vendor:
        raw += vendor.to_bytes(4, "big")
    raw += value
    return raw + bytes(-len(raw) % 4)


class TtlsMethod(TlsBased):
    """EAP-TTLSv0 (RFC 5281): the peer speaks first inside the tunnel, in AVPs."""

    type = eap.TTLS
    name = "TTLS"
    context = "fresh"  # no resumption: see radiusd.eap.tls.TlsContexts

    def start(self) -> Step:
        self.phase = "avps"
        self.user = ""
        return super().start()

    def after_handshake(self, first: bool, records: bool) -> Step:
        t = self.tunnel
        out = t.pending()
        app = t.read_app()
        if not app:
            if self.phase == "mschap2-ok":
                return self._success()
            if out:
                return self.send(out)
            return request(t.ack())  # the tunnel is up: the peer's AVPs are next
        try:
            avps = decode_avps(app)
        except eap.EapError as exc:
            return failed(str(exc))
        step = self._inner(avps)
        if step.kind != "request":
            return step
        t.send_app(step.data)
        return self.send(out + t.pending())

    def _success(self) -> Step:
        return Step("success", username=self.user, msk=self.tunnel.msk(eap.TTLS, b"ttls keying material"))

    def _inner(self, avps: dict[tuple[int, int], bytes]) -> Step:
        raw_user = avps.get((0, 1))
        if raw_user is None:
            return failed("TTLS: no User-Name inside the tunnel")
        self.user = raw_user.decode("utf-8", "replace")
        self.note(f"inner identity {self.user!r} (outer {self.outer_identity!r} not used)")
        cred = self.ctx.credential(self.user)
        if cred is None:
            return failed(f"TTLS: unknown user {self.user!r}")
        password = avps.get((0, 2))
        if password is not None:
            result = verify_pap(cred, password.rstrip(b"\x00"))
            if not result.ok:
                return failed(f"TTLS/PAP: {result.reason}")
            self.note(f"inner PAP: {result.reason}")
            return self._success()
        challenge = avps.get((MICROSOFT, 11))
        response = avps.get((MICROSOFT, 25))
        if challenge is not None and response is not None:
            # the challenge is not the peer's to choose (RFC 5281 §11.1)
            implicit = self.tunnel.export(b"ttls challenge", 17)
            if challenge != implicit[:16] or len(response) != 50 or response[0] != implicit[16]:
                return failed("TTLS/MSCHAPv2: the challenge is not the one the tunnel implies")
            result = verify_mschap2(cred, raw_user, challenge, response)
            if not result.ok:
                return failed(f"TTLS/MSCHAPv2: {result.reason}")
            self.note(f"inner MSCHAPv2: {result.reason}")
            assert result.success_value is not None
            self.phase = "mschap2-ok"
            return request(encode_avp(26, result.success_value, MICROSOFT))
        if avps.get((0, eap.EAP_MESSAGE)) is not None:
            return failed("TTLS: inner EAP is not supported (use inner PAP or MS-CHAPv2)")
        return failed("TTLS: no User-Password or MS-CHAP2-Response inside the tunnel")
