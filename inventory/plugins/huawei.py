"""Huawei (NE40E / ME60 BRAS): RFC 5176 Disconnect and CoA.

Sessions are matched on User-Name, Acct-Session-Id and Framed-IP-Address. A plan's rate
limit is sent as Huawei-Input-Average-Rate / Huawei-Output-Average-Rate (vendor 2011, bit/s;
input is the subscriber's upload), which a CoA can change live."""

from __future__ import annotations

from typing import Any, ClassVar

from radiusd.store.records import PlanRecord

from . import rates
from .base import Rfc5176Plugin


class Plugin(Rfc5176Plugin):
    name: ClassVar[str] = "huawei"
    can_change_plan_live: ClassVar[bool] = True
    identity: ClassVar[tuple[str, ...]] = ("User-Name", "Acct-Session-Id", "Framed-IP-Address")
    rate_limit_attributes = staticmethod(rates.huawei)

    def plan_attributes(self, plan: PlanRecord) -> list[tuple[str, Any]]:
        return self.rate_limit_attributes(plan.rate_limit) if plan.rate_limit else []
