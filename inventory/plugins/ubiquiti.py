"""Ubiquiti (EdgeRouter / UISP PPPoE, FreeRADIUS-style Dynamic Authorization): RFC 5176
Disconnect and CoA. A plan change sends the plan's own reply attributes (the ones its
Access-Accept carries, e.g. rate attributes set on the plan); a plan without any cannot be
applied live and the caller disconnects instead."""

from __future__ import annotations

from typing import Any, ClassVar

from radiusd.store.records import PlanRecord

from .base import Rfc5176Plugin


class Plugin(Rfc5176Plugin):
    name: ClassVar[str] = "ubiquiti"
    can_change_plan_live: ClassVar[bool] = True
    identity: ClassVar[tuple[str, ...]] = (
        "User-Name", "Acct-Session-Id", "Framed-IP-Address", "NAS-IP-Address",
    )  # fmt: skip

    def plan_attributes(self, plan: PlanRecord) -> list[tuple[str, Any]]:
        return [(name, value) for name, value in plan.reply_attributes]
