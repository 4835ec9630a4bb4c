"""The access policy's EAP side: one EAP step in, the RADIUS answer out.

radiusd.eap runs the conversation (Access-Challenge after Access-Challenge); once the inner
method proves an identity, the subscriber of that name goes through the access policy's own
checks and Access-Accept (:meth:`AccessPolicy._authorise`), exactly as after a PAP login,
with the MPPE keys of the MSK (RFC 5216 §2.3, RFC 2548 §2.4.2-3), the EAP-Success and
User-Name = the inner identity (RFC 2865 §5.1: the NAS accounts under it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from radiusd.codec import vsa
from radiusd.codec.attributes_gen import (
    EAP_MESSAGE,
    FRAMED_MTU,
    MS_MPPE_RECV_KEY,
    MS_MPPE_SEND_KEY,
    USER_NAME,
    VENDOR_MICROSOFT,
)
from radiusd.codec.codes import Code
from radiusd.codec.packet import Packet
from radiusd.eap.engine import BUSY, EapService, Outcome
from radiusd.model.credentials import Credential
from radiusd.model.request import HandlerResult, Request

from .directory import Directory, PlanView, SubscriberView
from .hiding import mppe_key

_ACCESS_CHALLENGE = int(Code.ACCESS_CHALLENGE)
_METHOD_NAMES = {4: "EAP-MD5", 13: "EAP-TLS", 21: "TTLS", 25: "PEAP"}

Reject = Callable[[Request, str, list[tuple[int, bytes]] | None], Packet]
Authorise = Callable[[Request, SubscriberView, PlanView | None, list[tuple[int, bytes]]], HandlerResult]


# RFC 2548 §2.4.2-3, through the codec's one Vendor-Specific encoder (format 1,1)
_MS_MPPE_SEND_KEY = vsa.encoder("MS-MPPE-Send-Key", VENDOR_MICROSOFT, MS_MPPE_SEND_KEY, None)
_MS_MPPE_RECV_KEY = vsa.encoder("MS-MPPE-Recv-Key", VENDOR_MICROSOFT, MS_MPPE_RECV_KEY, None)


class EapAccess:
    """``reject`` and ``authorise`` are the access policy's own steps."""

    def __init__(self, directory: Directory, reject: Reject, authorise: Authorise) -> None:
        self.directory = directory
        self.reject = reject
        self.authorise = authorise

    def handle(self, req: Request, engine: EapService) -> HandlerResult:
        pkt = req.packet
        mtu = pkt.raw((FRAMED_MTU,))
        result = engine.handle(
            pkt.attributes,
            self.credential,
            self.directory.subscribers.__contains__,
            int.from_bytes(mtu, "big") if mtu is not None and len(mtu) == 4 else None,
            req.nas.name,
            req.trace is not None,
        )
        if isinstance(result, Outcome):
            return self.answer(req, engine, result)
        out: asyncio.Future[Packet | None] = asyncio.get_running_loop().create_future()

        def answered(f: asyncio.Future[Outcome]) -> None:  # callbacks, not tasks, per EAP step
            if out.cancelled():
                return
            if f.cancelled():
                out.cancel()
                return
            if (exc := f.exception()) is not None:
                out.set_exception(exc)
                return
            answer = self.answer(req, engine, f.result())
            if answer is None or isinstance(answer, Packet):
                out.set_result(answer)
                return
            later = asyncio.ensure_future(answer)  # an address being committed (EAP's last step)

            def assigned(g: asyncio.Future[Packet | None]) -> None:
                if out.cancelled():
                    return
                if g.cancelled():
                    out.cancel()
                elif (exc2 := g.exception()) is not None:
                    out.set_exception(exc2)
                else:
                    out.set_result(g.result())

            later.add_done_callback(assigned)

        result.add_done_callback(answered)
        return out

    def credential(self, username: str) -> Credential | None:
        sub = self.directory.subscribers.get(username)
        return sub.credential if sub is not None else None

    def answer(self, req: Request, engine: EapService, outcome: Outcome) -> HandlerResult:
        """The RADIUS answer to one EAP step: Access-Challenge, nothing (a stale or busy step),
        Access-Reject, or, once the method succeeded, the subscriber's Access-Accept."""
        for line in outcome.notes:
            req.note(line)
        if outcome.kind == "challenge":
            reply = req.packet.reply(_ACCESS_CHALLENGE)
            reply.attributes += outcome.attributes
            return reply
        if outcome.kind == "drop":
            req.drop_reason = BUSY if outcome.reason == BUSY else "eap-stale"
            return None
        if outcome.kind == "reject":
            return self.reject(req, f"EAP: {outcome.reason}", outcome.attributes)
        # an EAP-Failure with the Identifier the EAP-Success would have had
        failure = [(EAP_MESSAGE, bytes((4, outcome.attributes[0][1][1], 0, 4)))]
        username, method = outcome.username, outcome.method
        sub = self.directory.subscribers.get(username)
        if sub is None:
            return self.reject(req, f"EAP {method}: unknown user {username!r}", failure)
        plan = self.directory.plans.get(sub.plan) if sub.plan else None
        if sub.status == "disabled":
            return self.reject(req, f"EAP {method}: subscriber {username!r} is disabled", failure)
        if sub.expired():
            return self.reject(req, f"EAP {method}: subscriber {username!r} has expired", failure)
        if method not in {_METHOD_NAMES.get(m) for m in engine.settings.methods_for_plan(sub.plan)}:
            return self.reject(req, f"EAP {method} is not allowed for plan {sub.plan!r}", failure)
        extra = [(USER_NAME, username.encode()), *outcome.attributes]
        if outcome.msk is not None:
            nas, auth = req.nas, req.packet.authenticator
            # RFC 5216 §2.3 / RFC 2548 §2.4.2-3: Recv-Key = MSK[0:32], Send-Key = MSK[32:64]
            extra += [
                *_MS_MPPE_RECV_KEY(mppe_key(outcome.msk[:32], nas, auth)),
                *_MS_MPPE_SEND_KEY(mppe_key(outcome.msk[32:64], nas, auth)),
            ]
        req.note(f"  EAP {method}: subscriber {username!r}, plan {sub.plan or '-'}")
        return self.authorise(req, sub, plan, extra)
