"""Cisco (IOS XE ISG / BNG): Disconnect-Request (RFC 5176 §3.1) and CoA-Requests carrying
Cisco-AVPair subscriber commands: ``subscriber:command=account-logoff`` (log the session off),
``subscriber:command=reauthenticate`` (the NAS re-authorizes with us and gets the new plan),
and service activation (``subscriber:command=activate-service`` with
``subscriber:service-name=NAME``). Sessions are matched on Acct-Session-Id and User-Name
(plus NAS-Port-Id when known), as ISG does. A plan's rate limit is sent as subscriber QoS
policy names in Cisco-AVPair (see :mod:`inventory.plugins.rates`)."""

from __future__ import annotations

from typing import ClassVar

from radiusd.coa.client import CoaResult
from radiusd.coa.sessions import SessionRef
from radiusd.store.records import PlanRecord

from . import rates
from .base import Rfc5176Plugin

LOGOFF = "subscriber:command=account-logoff"
REAUTHENTICATE = "subscriber:command=reauthenticate"
REAUTHENTICATE_LAST = "subscriber:reauthenticate-type=last"
ACTIVATE_SERVICE = "subscriber:command=activate-service"
DEACTIVATE_SERVICE = "subscriber:command=deactivate-service"


class Plugin(Rfc5176Plugin):
    name: ClassVar[str] = "cisco"
    can_change_plan_live: ClassVar[bool] = True
    identity: ClassVar[tuple[str, ...]] = ("User-Name", "Acct-Session-Id", "NAS-Port-Id")
    rate_limit_attributes = staticmethod(rates.cisco)

    async def account_logoff(self, session: SessionRef) -> CoaResult:
        """CoA account-logoff: ISG ends the session and sends Accounting-Stop."""
        return await self.coa(session, [("Cisco-AVPair", LOGOFF)])

    async def reauthenticate(self, session: SessionRef) -> CoaResult:
        return await self.coa(
            session, [("Cisco-AVPair", REAUTHENTICATE), ("Cisco-AVPair", REAUTHENTICATE_LAST)]
        )

    async def activate_service(self, session: SessionRef, service: str) -> CoaResult:
        return await self.coa(
            session,
            [("Cisco-AVPair", ACTIVATE_SERVICE), ("Cisco-AVPair", f"subscriber:service-name={service}")],
        )

    async def deactivate_service(self, session: SessionRef, service: str) -> CoaResult:
        return await self.coa(
            session,
            [("Cisco-AVPair", DEACTIVATE_SERVICE), ("Cisco-AVPair", f"subscriber:service-name={service}")],
        )

    async def change_plan(self, session: SessionRef, plan: PlanRecord) -> CoaResult:
        """Reauthenticate: the NAS asks us again and receives the subscriber's new plan."""
        return await self.reauthenticate(session)
