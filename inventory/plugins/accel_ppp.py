"""accel-ppp (Linux PPPoE / IPoE BRAS): RFC 5176 Disconnect and CoA.

accel-ppp matches a Disconnect/CoA on User-Name, Acct-Session-Id or Framed-IP-Address. Its
shaper reads the rate from Filter-Id by default (``[shaper] attr=Filter-Id``), written
``down/up`` in kbit/s; a CoA with a new Filter-Id changes the rate of a live session."""

from __future__ import annotations

from typing import Any, ClassVar

from radiusd.store.records import PlanRecord

from . import rates
from .base import Rfc5176Plugin


class Plugin(Rfc5176Plugin):
    name: ClassVar[str] = "accel-ppp"
    can_change_plan_live: ClassVar[bool] = True
    identity: ClassVar[tuple[str, ...]] = ("User-Name", "Acct-Session-Id", "Framed-IP-Address")
    rate_limit_attributes = staticmethod(rates.accel_ppp)

    def plan_attributes(self, plan: PlanRecord) -> list[tuple[str, Any]]:
        return self.rate_limit_attributes(plan.rate_limit) if plan.rate_limit else []
