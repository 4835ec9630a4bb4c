"""Cambium Networks (ePMP access points, cnMaestro): RFC 5176 Disconnect only.

A plan's rate limit is sent as the subscriber module's maximum rates Cambium reads
(Cambium-ePMP-Max-Burst-Uplink-Rate / -Downlink-Rate, vendor 17713, kbit/s); they apply at
the next registration, so a plan change means a disconnect."""

from __future__ import annotations

from typing import ClassVar

from . import rates
from .base import Rfc5176Plugin


class Plugin(Rfc5176Plugin):
    name: ClassVar[str] = "cambium"
    can_change_plan_live: ClassVar[bool] = False
    identity: ClassVar[tuple[str, ...]] = ("User-Name", "Acct-Session-Id", "Framed-IP-Address")
    rate_limit_attributes = staticmethod(rates.cambium)
