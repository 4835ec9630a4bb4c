"""Tables of the prefix hierarchy (radiusd.store.prefixes): prefixes and address assignments.

On the declarative base of radiusd.store.models (radiusd.store.schema gathers every table), in a
module of their own so the prefix domain keeps to its files. ``assigned_kind``/``assigned_id``
name what a prefix or an address is for (a link, router, device, subscriber or site) without a
foreign key, like the history tables: removing a router must not silently drop the record of its
addressing.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ipam.prefixes import PURPOSES, ROLES

from .models import Base, TimestampMixin, _in


class Prefix(TimestampMixin, Base):
    """One prefix of the tree: an aggregate, a container, a pool's range, a routed block."""

    __tablename__ = "prefixes"
    __table_args__ = (
        sa.CheckConstraint(_in("role", ROLES), name="role"),
        sa.CheckConstraint("family IN (4, 6)", name="family"),
        sa.CheckConstraint(
            f"assigned_kind IS NULL OR {_in('assigned_kind', PURPOSES)}", name="assigned_kind"
        ),
        sa.Index(None, "assigned_kind", "assigned_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    prefix: Mapped[str] = mapped_column(sa.String(64), unique=True)  # canonical CIDR text
    family: Mapped[int] = mapped_column(sa.SmallInteger)
    role: Mapped[str] = mapped_column(sa.String(16))
    parent_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("prefixes.id", ondelete="RESTRICT"), index=True
    )
    site_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("network_sites.id", ondelete="SET NULL"), index=True
    )
    pool_id: Mapped[int | None] = mapped_column(sa.ForeignKey("ip_pools.id", ondelete="CASCADE"), index=True)
    description: Mapped[str | None] = mapped_column(sa.Text)
    assigned_kind: Mapped[str | None] = mapped_column(sa.String(16))
    assigned_id: Mapped[int | None]


class AddressAssignment(TimestampMixin, Base):
    """One address taken from a prefix for a router or device interface, a link end, a site."""

    __tablename__ = "address_assignments"
    __table_args__ = (
        sa.CheckConstraint("family IN (4, 6)", name="family"),
        sa.CheckConstraint(_in("assigned_kind", PURPOSES), name="assigned_kind"),
        sa.Index(None, "assigned_kind", "assigned_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    address: Mapped[str] = mapped_column(sa.String(45), unique=True)
    family: Mapped[int] = mapped_column(sa.SmallInteger)
    prefix_id: Mapped[int] = mapped_column(sa.ForeignKey("prefixes.id", ondelete="RESTRICT"), index=True)
    assigned_kind: Mapped[str] = mapped_column(sa.String(16))
    assigned_id: Mapped[int]
    interface: Mapped[str | None] = mapped_column(sa.String(64))
    description: Mapped[str | None] = mapped_column(sa.Text)
