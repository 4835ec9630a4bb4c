"""Any RFC 5176 NAS: Disconnect-Request only; a plan change means a disconnect (RFC 5176 has
no standard rate attribute, so the new plan applies at the next login)."""

from __future__ import annotations

from typing import ClassVar

from .base import Rfc5176Plugin


class Plugin(Rfc5176Plugin):
    name: ClassVar[str] = "generic"
    can_change_plan_live: ClassVar[bool] = False
