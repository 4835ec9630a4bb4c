"""Juniper (MX / Junos subscriber management, E-series ERX): RFC 5176 Disconnect and CoA.

Sessions are matched on Acct-Session-Id and User-Name. A plan's rate limit is sent as the
input and output policy names Junos subscriber management reads (ERX-Ingress-Policy-Name,
ERX-Egress-Policy-Name, Unisphere/ERX vendor 4874), so a CoA can change the plan live."""

from __future__ import annotations

from typing import Any, ClassVar

from radiusd.store.records import PlanRecord

from . import rates
from .base import Rfc5176Plugin


class Plugin(Rfc5176Plugin):
    name: ClassVar[str] = "juniper"
    can_change_plan_live: ClassVar[bool] = True
    identity: ClassVar[tuple[str, ...]] = ("User-Name", "Acct-Session-Id")
    rate_limit_attributes = staticmethod(rates.juniper)

    def plan_attributes(self, plan: PlanRecord) -> list[tuple[str, Any]]:
        return self.rate_limit_attributes(plan.rate_limit) if plan.rate_limit else []
