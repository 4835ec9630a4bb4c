"""Table ``discovery_runs``: one row per LLDP discovery run (radiusd.store.discovery).

On the declarative base of radiusd.store.models (radiusd.store.schema gathers every table). A
daemon's periodic run first claims a row here (:func:`radiusd.store.discovery.claim_run`), so
several nodes sharing one database run discovery once per interval between them, not once each.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base


class DiscoveryRun(Base):
    __tablename__ = "discovery_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(16), default="lldp")
    node: Mapped[str | None] = mapped_column(sa.String(128))  # daemon node id; None: the CLI/API
    started_at: Mapped[dt.datetime] = mapped_column(index=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column()
    applied: Mapped[bool] = mapped_column(default=False)
    summary: Mapped[dict[str, Any] | None] = mapped_column()
