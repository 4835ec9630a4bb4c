"""prefixes and address_assignments: the prefix hierarchy; existing pool ranges join it

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07

``prefixes`` holds aggregates, containers and the prefixes below them by role (container,
pool, infrastructure, customer, reserved), each with its parent (the smallest prefix holding
it), an optional site and what it is assigned to (link, router, device, subscriber, site).
``address_assignments`` holds single addresses taken from a prefix for an interface.

Every range of every existing pool (``ipv4_networks.cidr``, ``ipv6_networks.prefix``) becomes
a ``pool`` prefix linked to its pool, so the tree shows what the pools already use; pool ranges
never overlap (the IPAM core refuses it), so they start as roots, and a container added later
around them adopts them. Nothing about the pools themselves changes.
"""

import datetime as dt
import ipaddress
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLES = "role IN ('container', 'pool', 'infrastructure', 'customer', 'reserved')"
KINDS = "'link', 'router', 'device', 'subscriber', 'site'"


def upgrade() -> None:
    op.create_table(
        "prefixes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("prefix", sa.String(length=64), nullable=False),
        sa.Column("family", sa.SmallInteger(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("site_id", sa.Integer(), nullable=True),
        sa.Column("pool_id", sa.Integer(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("assigned_kind", sa.String(length=16), nullable=True),
        sa.Column("assigned_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(ROLES, name=op.f("ck_prefixes_role")),
        sa.CheckConstraint("family IN (4, 6)", name=op.f("ck_prefixes_family")),
        sa.CheckConstraint(
            f"assigned_kind IS NULL OR assigned_kind IN ({KINDS})", name=op.f("ck_prefixes_assigned_kind")
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["prefixes.id"], name=op.f("fk_prefixes_parent_id_prefixes"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["network_sites.id"],
            name=op.f("fk_prefixes_site_id_network_sites"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["pool_id"], ["ip_pools.id"], name=op.f("fk_prefixes_pool_id_ip_pools"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prefixes")),
        sa.UniqueConstraint("prefix", name=op.f("uq_prefixes_prefix")),
    )
    op.create_index(op.f("ix_prefixes_parent_id"), "prefixes", ["parent_id"])
    op.create_index(op.f("ix_prefixes_site_id"), "prefixes", ["site_id"])
    op.create_index(op.f("ix_prefixes_pool_id"), "prefixes", ["pool_id"])
    op.create_index(
        op.f("ix_prefixes_assigned_kind_assigned_id"), "prefixes", ["assigned_kind", "assigned_id"]
    )
    op.create_table(
        "address_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=45), nullable=False),
        sa.Column("family", sa.SmallInteger(), nullable=False),
        sa.Column("prefix_id", sa.Integer(), nullable=False),
        sa.Column("assigned_kind", sa.String(length=16), nullable=False),
        sa.Column("assigned_id", sa.Integer(), nullable=False),
        sa.Column("interface", sa.String(length=64), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("family IN (4, 6)", name=op.f("ck_address_assignments_family")),
        sa.CheckConstraint(f"assigned_kind IN ({KINDS})", name=op.f("ck_address_assignments_assigned_kind")),
        sa.ForeignKeyConstraint(
            ["prefix_id"],
            ["prefixes.id"],
            name=op.f("fk_address_assignments_prefix_id_prefixes"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_address_assignments")),
        sa.UniqueConstraint("address", name=op.f("uq_address_assignments_address")),
    )
    op.create_index(op.f("ix_address_assignments_prefix_id"), "address_assignments", ["prefix_id"])
    op.create_index(
        op.f("ix_address_assignments_assigned_kind_assigned_id"),
        "address_assignments",
        ["assigned_kind", "assigned_id"],
    )
    _pool_ranges_join_the_tree()


def _pool_ranges_join_the_tree() -> None:
    bind = op.get_bind()
    pools = {int(r.id): r.site_id for r in bind.execute(sa.text("SELECT id, site_id FROM ip_pools"))}
    ranges = [
        (str(r.spec), int(r.pool_id))
        for r in bind.execute(
            sa.text(
                "SELECT cidr AS spec, pool_id FROM ipv4_networks"
                " UNION ALL SELECT prefix, pool_id FROM ipv6_networks"
            )
        )
    ]
    now = dt.datetime.now(dt.UTC)
    rows = []
    for spec, pool_id in ranges:
        net = ipaddress.ip_network(spec, strict=False)
        rows.append(
            {
                "prefix": str(net),
                "family": net.version,
                "role": "pool",
                "site_id": pools.get(pool_id),
                "pool_id": pool_id,
                "created_at": now,
                "updated_at": now,
            }
        )
    if rows:
        table = sa.table(
            "prefixes",
            *(sa.column(c) for c in ("prefix", "family", "role", "site_id", "pool_id")),
            sa.column("created_at", sa.DateTime(timezone=True)),
            sa.column("updated_at", sa.DateTime(timezone=True)),
        )
        op.bulk_insert(table, rows)


def downgrade() -> None:
    op.drop_table("address_assignments")
    op.drop_table("prefixes")
