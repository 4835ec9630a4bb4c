"""Ubiquiti (EdgeRouter / UISP PPPoE, FreeRADIUS-style Dynamic Authorization): RFC 5176
Disconnect and CoA. A plan change sends the plan's own reply attributes (the ones its
Access-Accept carries, e.g. rate attributes set on the plan); a plan without any cannot be
applied live and the caller disconnects instead. The plan's rate limit is sent as
WISPr-Bandwidth-Max-Up/Down, which UISP and EdgeOS read."""

from __future__ import annotations

from typing import Any, ClassVar

from radiusd.store.records import PlanRecord

from . import rates
from .base import Rfc5176Plugin


class Plugin(Rfc5176Plugin):
    name: ClassVar[str] = "ubiquiti"
    can_change_plan_live: ClassVar[bool] = True
    identity: ClassVar[tuple[str, ...]] = (
        "User-Name", "Acct-Session-Id", "Framed-IP-Address", "NAS-IP-Address",
    )  # fmt: skip
    rate_limit_attributes = staticmethod(rates.wispr)

    def plan_attributes(self, plan: PlanRecord) -> list[tuple[str, Any]]:
        rate = self.rate_limit_attributes(plan.rate_limit) if plan.rate_limit else []
        return [*rate, *((name, value) for name, value in plan.reply_attributes)]
