"""The seam between the server and the policy: a request in, a reply (or nothing) out.

A handler returns the reply directly when it can decide without waiting (a PAP login
served from memory costs no task and no await), or an awaitable when it must wait (the
group-commit writer, a password hash run off the loop). ``None`` means: send nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from radiusd.codec.packet import Packet

from .nas import NasClient

if TYPE_CHECKING:
    from radiusd.policy.credentials import Credential

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
    #: when the handler sends no reply: the drop reason counted in /metrics ("no-reply" if unset)
    drop_reason: str = ""

    def note(self, message: str) -> None:
        if self.trace is not None:
            self.trace.append(message)


class Handler(Protocol):
    def handle(self, request: Request) -> HandlerResult: ...


@runtime_checkable
class PlainPapHandler(Handler, Protocol):
    """An Access-Request handler that also serves the dispatcher's PAP fast path
    (radiusd.policy.access.AccessPolicy). Both answers come from the rules of ``handle``;
    None or False means "take the general path"."""

    def plain_pap(self, user: bytes, nas: NasClient) -> tuple[Credential, bytes] | None:
        """The credential and the Access-Accept attributes (on the wire) when a PAP login of
        ``user`` is answered with cached attributes and nothing else; no crypto."""
        ...

    def pap_matches(self, cred: Credential, hidden: bytes, nas: NasClient, authenticator: bytes) -> bool:
        """Whether the hidden User-Password is the credential's password."""
        ...
