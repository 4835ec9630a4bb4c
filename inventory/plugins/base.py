"""The router plugin interface (a typing.Protocol) and the RFC 5176 machinery plugins share.

A plugin acts on one NAS: it disconnects a session, changes a session's plan live (CoA), and
pushes or removes a subscriber's local credentials where the vendor has them. The policy and
the CLI see only :class:`RouterPlugin`; which class serves a NAS is chosen by its ``vendor``
through the ``radiusd.plugins`` entry points (:mod:`inventory.plugins.registry`).

Session identification (RFC 5176 §3): each vendor lists the attributes it matches sessions
on, in :attr:`Rfc5176Plugin.identity`; only the ones we know for the session are sent.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any, ClassVar, Protocol, runtime_checkable

from radiusd.coa.client import CoaResult, Outcome
from radiusd.coa.service import CoaService
from radiusd.coa.sessions import SessionRef
from radiusd.store.records import NasRecord, PlanRecord, SubscriberRecord


class PluginError(Exception):
    """A plugin could not do what was asked; the message is one line without secrets."""


class Unsupported(PluginError):
    """The vendor (or this NAS's configuration) cannot do this."""


@runtime_checkable
class RouterPlugin(Protocol):
    """What the server can ask of a NAS, whatever its vendor."""

    name: ClassVar[str]
    #: a CoA can change a live session's plan (else the caller disconnects instead)
    can_change_plan_live: ClassVar[bool]
    #: the NAS keeps local credentials we can push (e.g. RouterOS /ppp/secret)
    can_push_credentials: bool

    async def disconnect(self, session: SessionRef) -> CoaResult: ...

    async def change_plan(self, session: SessionRef, plan: PlanRecord) -> CoaResult: ...

    async def push_credentials(self, subscriber: SubscriberRecord) -> None: ...

    async def remove_credentials(self, subscriber: SubscriberRecord) -> None: ...


def _ipv4(text: str | None) -> str | None:
    if not text:
        return None
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        return None


class Rfc5176Plugin:
    """Disconnect- and CoA-Request per RFC 5176, for vendors to extend."""

    name: ClassVar[str] = "generic"
    can_change_plan_live: ClassVar[bool] = False
    identity: ClassVar[tuple[str, ...]] = (
        "User-Name", "Acct-Session-Id", "NAS-IP-Address", "Framed-IP-Address",
    )  # fmt: skip

    def __init__(self, nas: NasRecord, coa: CoaService) -> None:
        self.nas = nas
        self.service = coa
        self.can_push_credentials = False

    def __repr__(self) -> str:
        return f"<{type(self).__name__} nas={self.nas.name!r}>"  # never the secrets

    def identify(self, session: SessionRef) -> list[tuple[str, Any]]:
        """The session identification attributes this vendor matches on (RFC 5176 §3)."""
        known: dict[str, Any] = {
            "User-Name": session.username or None,
            "Acct-Session-Id": session.acct_session_id,
            "NAS-IP-Address": _ipv4(session.nas_address or self.nas.address),
            "Framed-IP-Address": _ipv4(session.framed_ip),
            "NAS-Port-Id": session.nas_port_id,
        }
        return [(name, known[name]) for name in self.identity if known.get(name) is not None]

    async def disconnect(self, session: SessionRef) -> CoaResult:
        """Disconnect-Request (RFC 5176 §3.1)."""
        return await self.service.send(self.nas, "disconnect", session, self.identify(session))

    async def coa(self, session: SessionRef, attributes: Sequence[tuple[str, Any]]) -> CoaResult:
        """CoA-Request (RFC 5176 §3.2) carrying ``attributes`` after the identification."""
        return await self.service.send(self.nas, "coa", session, [*self.identify(session), *attributes])

    @staticmethod
    def rate_limit_attributes(rate_limit: str) -> list[tuple[str, Any]]:
        """A plan's rate limit (``RX/TX``, :mod:`inventory.plugins.rates`) as this vendor's
        reply attributes; ValueError when it cannot be read. RFC 5176 and the base RADIUS
        RFCs define no rate attribute, so a generic NAS gets none."""
        return []

    def plan_attributes(self, plan: PlanRecord) -> list[tuple[str, Any]]:
        """The authorization attributes a CoA carries for ``plan`` (empty: cannot)."""
        return []

    async def change_plan(self, session: SessionRef, plan: PlanRecord) -> CoaResult:
        attributes = self.plan_attributes(plan)
        if not self.can_change_plan_live or not attributes:
            raise Unsupported(f"{self.name} NAS {self.nas.name!r} cannot change plan {plan.name!r} live")
        return await self.coa(session, attributes)

    async def push_credentials(self, subscriber: SubscriberRecord) -> None:
        raise Unsupported(f"{self.name} NAS {self.nas.name!r} keeps no local credentials")

    async def remove_credentials(self, subscriber: SubscriberRecord) -> None:
        raise Unsupported(f"{self.name} NAS {self.nas.name!r} keeps no local credentials")


__all__ = ["CoaResult", "Outcome", "PluginError", "Rfc5176Plugin", "RouterPlugin", "Unsupported"]
