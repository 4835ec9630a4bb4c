"""Nokia (Alcatel-Lucent / Timetra SR OS BNG): RFC 5176 Disconnect and CoA.

Sessions are matched on Acct-Session-Id (SR OS also takes User-Name and Framed-IP-Address).
A plan's rate limit is sent as Alc-Subscriber-QoS-Override (vendor 6527): ingress queue 1
PIR and the egress aggregate rate, in kbit/s; a CoA carrying it changes the rate live."""

from __future__ import annotations

from typing import Any, ClassVar

from radiusd.store.records import PlanRecord

from . import rates
from .base import Rfc5176Plugin


class Plugin(Rfc5176Plugin):
    name: ClassVar[str] = "nokia"
    can_change_plan_live: ClassVar[bool] = True
    identity: ClassVar[tuple[str, ...]] = ("Acct-Session-Id", "User-Name", "Framed-IP-Address")
    rate_limit_attributes = staticmethod(rates.nokia)

    def plan_attributes(self, plan: PlanRecord) -> list[tuple[str, Any]]:
        return self.rate_limit_attributes(plan.rate_limit) if plan.rate_limit else []
