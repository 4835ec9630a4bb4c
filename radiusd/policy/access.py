"""Access-Request policy: who is this, is the proof right, what do they get.

PAP, CHAP (RFC 2865 §2.2, §5.3), MS-CHAPv1 (RFC 2433) and MS-CHAPv2 (RFC 2759) against
the credential held in memory; status (active, suspended, disabled), expiry and
Simultaneous-Use; then the Access-Accept: plan and subscriber reply attributes, a static
or pooled address, MS-CHAP2-Success and MPPE keys (RFC 2548 §2.3.3, §2.4.2-3). Every
decision is written to the request's trace in plain words for ``serve -X``; the reason of a
reject goes to the log. Nothing here waits unless it must (pool allocation, slow hashes).

The authentication log (settings ``auth_log_rejects``, on by default, and
``auth_log_accepts``) is one info line per decision, ``auth.reject`` or ``auth.accept``, with
user, NAS, NAS port, Calling-Station-Id and the reason: never a password or a credential.
Logging accepts sends PAP logins down the general path (the fast path answers without us).

EAP (RFC 3579: PEAP, EAP-TTLS, EAP-TLS; radiusd.eap) runs its conversation through
Access-Challenges; once the inner method proves the inner identity, that subscriber goes
through the same checks and the same Access-Accept as a PAP login (status, expiry, plan,
pool, Simultaneous-Use), with the MPPE keys from the MSK, the EAP-Success and the inner
User-Name (the NAS accounts under it). Without an ``[eap]`` section an Access-Request with
EAP-Message gets an Access-Reject carrying an EAP-Failure (RFC 3579 §2.6.3: an Access-Reject
without EAP-Message leaves the peer unaware of the outcome). Every Access-Reject to an EAP
request carries one.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable

from radiusd.codec import attributes_gen as attrs
from radiusd.codec import mschap, rulesets, vsa
from radiusd.codec.attributes_gen import (
    CALLING_STATION_ID,
    CHAP_CHALLENGE,
    CHAP_PASSWORD,
    EAP_MESSAGE,
    FRAMED_IP_ADDRESS,
    NAS_PORT,
    NAS_PORT_ID,
    USER_NAME,
    USER_PASSWORD,
    VENDOR_SPECIFIC,
)
from radiusd.codec.codes import Code
from radiusd.codec.dictionary import Dictionary
from radiusd.codec.errors import MalformedPacket
from radiusd.codec.packet import Packet
from radiusd.eap.engine import EapService
from radiusd.logs import get_logger
from radiusd.model.credentials import Credential
from radiusd.model.request import HandlerResult, NasClient, Request

from .credentials import VerifyResult, verify_chap, verify_mschap1, verify_mschap2, verify_pap
from .directory import Directory, PlanView, SubscriberView
from .eap_access import EapAccess
from .hash_pool import DROP_REASON as SLOW_HASH_BUSY
from .hash_pool import HashPool
from .hiding import mppe_key, mschap_mppe_keys, user_password
from .seams import AddressAssigner, Assignment, NoSessions, SessionCounter

EAP_FAILURE = 4  # RFC 3748 §4.2 (an EAP Code, not an attribute)
MICROSOFT = attrs.VENDOR_MICROSOFT
MS_CHAP_RESPONSE = (VENDOR_SPECIFIC, MICROSOFT, attrs.MS_CHAP_RESPONSE)
MS_CHAP_CHALLENGE = (VENDOR_SPECIFIC, MICROSOFT, attrs.MS_CHAP_CHALLENGE)
MS_CHAP2_RESPONSE = (VENDOR_SPECIFIC, MICROSOFT, attrs.MS_CHAP2_RESPONSE)
_ACCESS_ACCEPT = int(Code.ACCESS_ACCEPT)  # a plain int: no enum lookup per request
_ACCESS_REJECT = int(Code.ACCESS_REJECT)
_ACCESS_CHALLENGE = int(Code.ACCESS_CHALLENGE)

log = get_logger("radiusd.auth")


def _text(raw: bytes | None) -> str | None:
    """A string attribute for the log (control characters escaped, so one line stays one)."""
    if raw is None:
        return None
    return raw.decode("utf-8", "replace").encode("unicode_escape").decode("ascii")


def auth_fields(req: Request) -> dict[str, object]:
    """User, NAS, port and Calling-Station-Id of an Access-Request for the authentication log."""
    pkt = req.packet
    port = pkt.raw((NAS_PORT,))
    return {
        "user": _text(pkt.raw((USER_NAME,))),
        "nas": req.nas.name,
        "source": req.source[0],
        "nas_port": int.from_bytes(port, "big") if port is not None and len(port) == 4 else None,
        "nas_port_id": _text(pkt.raw((NAS_PORT_ID,))),
        "calling_station": _text(pkt.raw((CALLING_STATION_ID,))),
    }


# RFC 2548 reply attributes, through the codec's one Vendor-Specific encoder (format 1,1)
_MS_CHAP_ERROR = vsa.encoder("MS-CHAP-Error", MICROSOFT, attrs.MS_CHAP_ERROR, None)
_MS_CHAP_MPPE_KEYS = vsa.encoder("MS-CHAP-MPPE-Keys", MICROSOFT, attrs.MS_CHAP_MPPE_KEYS, None)
_MS_CHAP2_SUCCESS = vsa.encoder("MS-CHAP2-Success", MICROSOFT, attrs.MS_CHAP2_SUCCESS, None)
_MS_MPPE_SEND_KEY = vsa.encoder("MS-MPPE-Send-Key", MICROSOFT, attrs.MS_MPPE_SEND_KEY, None)
_MS_MPPE_RECV_KEY = vsa.encoder("MS-MPPE-Recv-Key", MICROSOFT, attrs.MS_MPPE_RECV_KEY, None)
_MS_MPPE_ENCRYPTION_POLICY = vsa.encoder(
    "MS-MPPE-Encryption-Policy", MICROSOFT, attrs.MS_MPPE_ENCRYPTION_POLICY, None
)
_MS_MPPE_ENCRYPTION_TYPES = vsa.encoder(
    "MS-MPPE-Encryption-Types", MICROSOFT, attrs.MS_MPPE_ENCRYPTION_TYPES, None
)


class AccessPolicy:
    """The Access-Request handler."""

    def __init__(
        self,
        directory: Directory,
        dictionary: Dictionary,
        *,
        assigner: AddressAssigner | None = None,
        sessions: SessionCounter | None = None,
        hashes: HashPool | None = None,
        log_accepts: bool = False,
        log_rejects: bool = True,
        eap: EapService | None = None,
    ) -> None:
        #: EAP conversations (None: EAP requests are rejected with an EAP-Failure)
        self.eap = eap
        self._eap_side = EapAccess(directory, self._reject, self._authorise)
        #: the authentication log: a line per Access-Accept / Access-Reject (never a password)
        self.log_accepts = log_accepts
        self.log_rejects = log_rejects
        self.directory = directory
        #: where slow PAP checks run (bounded: a full pool drops the request)
        self.hashes = hashes if hashes is not None else HashPool()
        self.dictionary = dictionary
        self.assigner = assigner
        #: bound once: the hot path calls it per login that needs an address
        self._assign_nowait = assigner.assign_nowait if assigner is not None else None
        self.sessions: SessionCounter = sessions if sessions is not None else NoSessions()

    # -- entry point ----------------------------------------------------------------------

    def handle(self, req: Request) -> HandlerResult:  # noqa: C901  (the order of the checks is the policy; on the hot path a call per step costs)
        pkt = req.packet
        eap = pkt.raw((EAP_MESSAGE,))
        if eap is not None:
            if self.eap is None or not self.eap.settings.enabled:
                return self._reject(
                    req, "EAP is not enabled (no [eap] section)", [(EAP_MESSAGE, eap_failure(eap))]
                )
            return self._eap_side.handle(req, self.eap)
        raw_user = pkt.raw((USER_NAME,))
        if raw_user is None:
            return self._reject(req, "the request has no User-Name")
        username = raw_user.decode("utf-8", "replace")
        sub = self.directory.subscribers.get(username)
        if sub is None:
            return self._reject(req, f"unknown user {username!r}")
        plan = self.directory.plans.get(sub.plan) if sub.plan else None
        if req.trace is not None:  # the f-strings below cost even when nobody reads them
            req.note(f"  subscriber {username!r} found: plan {sub.plan or '-'}, status {sub.status}")
        if sub.status == "disabled":
            return self._reject(req, "subscriber is disabled")
        if sub.expired():
            assert sub.expires_at is not None
            return self._reject(req, f"subscriber expired at {sub.expires_at.isoformat()}")
        cred = sub.credential
        if cred is None:
            return self._reject(req, "the stored credential cannot be read (see the load log)")

        hidden = pkt.raw((USER_PASSWORD,))
        has_chap = pkt.raw((CHAP_PASSWORD,)) is not None
        if hidden is not None and has_chap:
            return self._reject(req, "the request carries both User-Password and CHAP-Password")
        extra: list[tuple[int, bytes]] = []
        if hidden is not None:
            try:
                password = user_password(hidden, req.nas, pkt.authenticator)
            except MalformedPacket as exc:
                return self._reject(req, f"User-Password is malformed ({exc.detail})")
            if cred.expensive:
                return self._slow_pap(req, sub, plan, password)
            result: VerifyResult = verify_pap(cred, password)
            method = "PAP"
        elif has_chap:
            chap = pkt.raw((CHAP_PASSWORD,)) or b""
            if len(chap) != 17:
                return self._reject(req, f"CHAP-Password of {len(chap)} octets (17 expected)")
            challenge = pkt.raw((CHAP_CHALLENGE,))
            if challenge is None:
                if req.nas.radius11:  # RFC 9765 §5.1.2: no Request Authenticator to fall back on
                    return self._reject(req, "CHAP over RADIUS/1.1 without CHAP-Challenge")
                challenge = pkt.authenticator
            result = verify_chap(cred, chap[0], challenge, chap[1:])
            method = "CHAP"
        else:
            challenge_ms = pkt.raw(MS_CHAP_CHALLENGE)
            resp2 = pkt.raw(MS_CHAP2_RESPONSE)
            resp1 = pkt.raw(MS_CHAP_RESPONSE)
            if challenge_ms is not None and resp2 is not None:
                method = "MS-CHAPv2"
                r2 = verify_mschap2(cred, raw_user, challenge_ms, resp2)
                result = r2
                if r2.ok:
                    assert (
                        r2.success_value is not None and r2.send_key is not None and r2.recv_key is not None
                    )
                    extra += self._mschap2_accept_attrs(req, r2.success_value, r2.send_key, r2.recv_key)
                else:
                    error = mschap.mschap_error_value(r2.ident, 691, challenge=os.urandom(16))
                    extra += _MS_CHAP_ERROR(error)
            elif challenge_ms is not None and resp1 is not None:
                method = "MS-CHAPv1"
                r1 = verify_mschap1(cred, challenge_ms, resp1)
                result = r1
                if r1.ok and r1.mppe_keys is not None:
                    hidden = mschap_mppe_keys(r1.mppe_keys, req.nas, pkt.authenticator)
                    extra += _MS_CHAP_MPPE_KEYS(hidden)
                    extra += self._mppe_policy_attrs()
                elif not r1.ok:
                    extra += _MS_CHAP_ERROR(mschap.mschap_error_value(r1.ident, 691, version=2))
            else:
                return self._reject(
                    req, "the request carries no credentials (no User-Password, CHAP-Password or MS-CHAP)"
                )
        if not result.ok:
            return self._reject(req, f"{method}: {result.reason}", extra)
        if req.trace is not None:
            req.note(f"  {method}: {result.reason}")
        return self._authorise(req, sub, plan, extra)

    # -- the PAP fast path (Dispatcher._plain_pap) -----------------------------------------

    def plain_pap(self, user: bytes, nas: NasClient) -> tuple[Credential, bytes] | None:
        """The credential to check and the Access-Accept's attributes on the wire, when a PAP
        login of ``user`` would be answered with exactly the plan's cached reply attributes.

        Decided without crypto, before the dispatcher checks anything else. None (unknown
        user, not :attr:`SubscriberView.plain`, unreadable or slow credential, expired, plan
        missing or not :attr:`PlanView.plain`, an address to assign) sends the request to
        :meth:`handle`, which gives the reason in the log and in ``serve -X``.
        """
        if self.log_accepts:
            return None  # an accept answered by the fast path would not be logged
        sub = self.directory.subscribers.get(user.decode("utf-8", "replace"))
        if sub is None or not sub.plain:
            return None
        cred = sub.credential
        if cred is None or cred.expensive or sub.expired():
            return None
        plan = self.directory.plans.get(sub.plan) if sub.plan else None
        if plan is None or not plan.plain:
            return None
        if self.assigner is not None and self.assigner.wants(sub, plan, None):
            return None
        return cred, plan.reply.encoded_for(nas.vendor).body

    @staticmethod
    def pap_matches(cred: Credential, hidden: bytes, nas: NasClient, authenticator: bytes) -> bool:
        """The PAP check of :meth:`handle`; False (a malformed User-Password included) sends the
        request to the general path, which rejects it with the reason."""
        try:
            password = user_password(hidden, nas, authenticator)
        except MalformedPacket:
            return False
        return verify_pap(cred, password).ok

    # -- after authentication -------------------------------------------------------------

    def _authorise(
        self, req: Request, sub: SubscriberView, plan: PlanView | None, extra: list[tuple[int, bytes]]
    ) -> HandlerResult:
        pool = sub.pool or (plan.pool if plan else None)
        if sub.status == "suspended":
            if plan is None or not plan.walled_garden_pool:
                return self._reject(req, "subscriber is suspended")
            pool = plan.walled_garden_pool
            req.note(f"  suspended: accepted into the walled-garden pool {pool!r}")
        limit = (
            sub.simultaneous_use
            if sub.simultaneous_use is not None
            else (plan.simultaneous_use if plan else None)
        )
        if limit is not None:
            live = self.sessions.open_sessions(sub.username)
            if live >= limit:
                return self._reject(req, f"Simultaneous-Use limit {limit} reached ({live} sessions open)")
            if req.trace is not None:
                req.note(f"  Simultaneous-Use: {live} of {limit} sessions open")
        if req.trace is not None:
            for name, value in (plan.reply.names_for(req.nas.vendor) if plan else ()) + sub.reply.names:
                req.note(f"  reply attribute {name} = {value}")
        pkt = req.packet
        vendor = req.nas.vendor
        assign = self.assigner is not None and self.assigner.wants(sub, plan, pool)
        if plan is not None and not (
            assign or extra or sub.reply.items or sub.static_ip or pkt.has_proxy_state
        ):
            # The common accept is exactly the plan's attributes: encoded once per NAS vendor.
            self._accepted(req)
            encoded = plan.reply.encoded_for(vendor)
            return Packet.from_encoded(
                _ACCESS_ACCEPT, pkt.identifier, pkt.authenticator, encoded, self.dictionary
            )
        reply = pkt.reply(_ACCESS_ACCEPT)
        attrs = reply.attributes
        if plan is not None:
            attrs += plan.reply.for_vendor(vendor)
        if sub.reply.items:  # one NAS-Filter-Rule set for the plan's and the subscriber's rules
            attrs[:] = rulesets.combine(attrs, sub.reply.for_vendor(vendor))
        if extra:
            attrs += extra
        if assign:
            return self._with_assignment(req, reply, sub, plan, pool)
        if sub.static_ip:
            attrs.append((FRAMED_IP_ADDRESS, _ipv4(sub.static_ip)))
            req.note(f"  static address {sub.static_ip}")
        self._accepted(req)
        return reply

    def _with_assignment(
        self, req: Request, reply: Packet, sub: SubscriberView, plan: PlanView | None, pool: str | None
    ) -> Packet | Awaitable[Packet | None]:
        """The Access-Accept once the assignment is durable: a Packet at once when nothing had to
        be written (a reject), else a future resolved by the commit (no task per login)."""
        nowait = self._assign_nowait
        assert nowait is not None  # asked only when the assigner wants the login
        loop = asyncio.get_running_loop()
        try:
            assignment, commit = nowait(req, sub, plan, pool, notes=req.trace is not None)
        except Exception as exc:  # as if raised in a task: no reply, counted by the dispatcher
            failed: asyncio.Future[Packet | None] = loop.create_future()
            failed.set_exception(exc)
            return failed
        if commit is None:
            return self._assigned(req, reply, assignment)
        out: asyncio.Future[Packet | None] = loop.create_future()

        def committed(fut: asyncio.Future[None]) -> None:
            if out.done():
                return
            if fut.cancelled():
                out.cancel()
            elif (exc := fut.exception()) is not None:
                out.set_exception(exc)  # a failed commit: no reply, the NAS retransmits
            else:
                out.set_result(self._assigned(req, reply, assignment))

        commit.add_done_callback(committed)
        return out

    def _assigned(self, req: Request, reply: Packet, assignment: Assignment) -> Packet:
        for note in assignment.notes:
            req.note(f"  {note}")
        if assignment.reject_reason:
            return self._reject(req, assignment.reject_reason)
        reply.attributes += assignment.attributes
        self._accepted(req, assignment)
        return reply

    def _accepted(self, req: Request, assignment: Assignment | None = None) -> None:
        req.note("  accept")
        if self.log_accepts:
            address = None
            for attr, value in assignment.attributes if assignment is not None else ():
                if attr == FRAMED_IP_ADDRESS and len(value) == 4:
                    address = ".".join(str(b) for b in value)
            log.info("auth.accept", **auth_fields(req), address=address)

    def _slow_pap(
        self, req: Request, sub: SubscriberView, plan: PlanView | None, password: bytes
    ) -> Awaitable[Packet | None] | None:
        """PBKDF2/crypt/bcrypt cost milliseconds: verify on the bounded hashing pool, not on the
        event loop; when the pool is full, no reply (dropped as ``slow-hash-busy``)."""
        cred = sub.credential
        assert cred is not None
        check = self.hashes.submit(verify_pap, cred, password)
        if check is None:
            req.drop_reason = SLOW_HASH_BUSY
            req.note("  not answered: the password-hashing queue is full")
            return None

        async def run() -> Packet | None:
            result = await check
            if not result.ok:
                return self._reject(req, f"PAP: {result.reason}")
            req.note(f"  PAP: {result.reason}")
            outcome = self._authorise(req, sub, plan, [])
            if outcome is None or isinstance(outcome, Packet):
                return outcome
            return await outcome

        return run()

    def _mschap2_accept_attrs(
        self, req: Request, success: bytes, send_key: bytes, recv_key: bytes
    ) -> list[tuple[int, bytes]]:
        nas, auth = req.nas, req.packet.authenticator
        return [
            *_MS_CHAP2_SUCCESS(success),
            *_MS_MPPE_SEND_KEY(mppe_key(send_key, nas, auth)),
            *_MS_MPPE_RECV_KEY(mppe_key(recv_key, nas, auth)),
            *self._mppe_policy_attrs(),
        ]

    @staticmethod
    def _mppe_policy_attrs() -> list[tuple[int, bytes]]:
        # MS-MPPE-Encryption-Policy = Encryption-Allowed (1), -Types = RC4 40 and 128 bit (6)
        return [
            *_MS_MPPE_ENCRYPTION_POLICY((1).to_bytes(4, "big")),
            *_MS_MPPE_ENCRYPTION_TYPES((6).to_bytes(4, "big")),
        ]

    def _reject(self, req: Request, reason: str, extra: list[tuple[int, bytes]] | None = None) -> Packet:
        req.reject_reason = reason
        req.note(f"  reject: {reason}")
        if extra is None or all(t != EAP_MESSAGE for t, _ in extra):
            eap = req.packet.raw((EAP_MESSAGE,))
            if eap is not None:  # an EAP peer learns the outcome only from an EAP-Failure
                extra = [*(extra or ()), (EAP_MESSAGE, eap_failure(eap))]
        if self.log_rejects:
            log.info("auth.reject", **auth_fields(req), reason=reason)
        req.reject_logged = True  # one line per reject: the dispatcher adds none
        reply = req.packet.reply(_ACCESS_REJECT)
        if extra:
            reply.attributes += extra
        return reply


def eap_failure(first_eap_message: bytes) -> bytes:
    """The EAP-Failure answering the EAP packet that starts in ``first_eap_message`` (the
    first EAP-Message attribute holds the header): Code 4, the Response's Identifier, Length 4
    (RFC 3748 §4.2). An EAP-Start (an empty EAP-Message, RFC 3579 §2.1) has no Identifier: 0."""
    identifier = first_eap_message[1] if len(first_eap_message) >= 2 else 0
    return bytes((EAP_FAILURE, identifier, 0, 4))


def _ipv4(text: str) -> bytes:
    return bytes(int(part) for part in text.split("."))


class StatusPolicy:
    """Status-Server (RFC 5997 §3): Access-Accept on the auth port, Accounting-Response on acct."""

    def __init__(self, reply_code: int) -> None:
        self.reply_code = reply_code

    def handle(self, req: Request) -> HandlerResult:
        req.note("  Status-Server: alive")
        return req.packet.reply(self.reply_code)
