"""The request a handler sees: the decoded packet, the NAS it came from, when it arrived.

``radiusd.server`` builds a :class:`Request` for every datagram it accepts and hands it to a
handler (``radiusd.server.handler.Handler``); the policies read it and answer with a
:class:`HandlerResult`: the reply directly when they can decide without waiting, an awaitable
when they must wait (the group-commit writer, a password hash run off the loop), ``None`` to
send nothing. :class:`NasClient` is one accepted NAS (the registry that finds it by source
address is ``radiusd.server.nas.NasRegistry``).
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Protocol

from radiusd.codec.packet import Packet


class NasSource(Protocol):
    """What the registry needs of a stored NAS record (radiusd.store.records.NasRecord)."""

    @property
    def id(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def address(self) -> str: ...
    @property
    def secret(self) -> str: ...
    @property
    def vendor(self) -> str: ...
    @property
    def require_message_authenticator(self) -> bool: ...
    @property
    def coa_port(self) -> int: ...
    @property
    def radsec(self) -> bool: ...
    @property
    def radsec_fingerprint(self) -> str | None: ...
    @property
    def radsec_subject(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class NasClient:
    id: int
    name: str
    address: str
    secret: bytes = field(repr=False)
    vendor: str = "generic"
    require_message_authenticator: bool = True
    coa_port: int = 3799
    #: the NAS's subnet when it was matched by one (``address`` is then the source address)
    network: str | None = None
    #: a RadSec client (RFC 6614): known by its TLS certificate; its UDP requests are refused
    radsec: bool = False
    radsec_fingerprint: str | None = None  # SHA-256 of the certificate (DER), 64 hex digits
    radsec_subject: str | None = None  # as stored (radiusd.store.validate.certificate_subject)
    #: the request came over a RadSec connection that negotiated RADIUS/1.1 (RFC 9765): no
    #: shared secret, no MD5; the codec's radiusd.codec.radius11 encodes and reads its packets
    radius11: bool = False

    @property
    def is_subnet(self) -> bool:
        """True for a subnet entry itself (``address`` is a CIDR network)."""
        return "/" in self.address

    @classmethod
    def from_record(cls, rec: NasSource) -> NasClient:
        return cls(
            id=rec.id,
            name=rec.name,
            address=rec.address,  # normalised when written (radiusd.store.validate.nas_address)
            secret=rec.secret.encode("utf-8"),
            vendor=rec.vendor,
            require_message_authenticator=rec.require_message_authenticator,
            coa_port=rec.coa_port,
            radsec=rec.radsec,
            radsec_fingerprint=rec.radsec_fingerprint,
            radsec_subject=rec.radsec_subject,
        )


HandlerResult = Packet | None | Awaitable[Packet | None]


@dataclass(slots=True)
class Request:
    packet: Packet
    raw: bytes
    nas: NasClient
    source: tuple[str, int]
    received: float  # wall clock (time.time()) when the datagram arrived
    #: plain-words decisions for ``serve -X``; None when debug is off (no cost then)
    trace: list[str] | None = None
    #: why the request was rejected, for the log (never contains a secret)
    reject_reason: str = ""
    #: the policy has taken care of the reject's log line (its ``auth.reject``, or none when
    #: ``auth_log_rejects`` is off): the dispatcher then writes no ``access.rejected`` of its own
    reject_logged: bool = False
    #: when the handler sends no reply: the drop reason counted in /metrics ("no-reply" if unset)
    drop_reason: str = ""

    def note(self, message: str) -> None:
        if self.trace is not None:
            self.trace.append(message)
