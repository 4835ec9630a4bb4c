"""network inventory: sites, router sectors, managed devices, links; routers.site_id becomes a FK

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27

Existing routers (the NAS list) stay where they are, with their ids: a database that already has
NAS rows upgrades in place. ``routers.site_id`` had no sites table to point at, so any value it
holds is dangling and is cleared before the foreign key is added.

SQLite cannot add a foreign key to an existing table, so ``routers`` is rebuilt (create, copy,
drop, rename). The migration runs inside one transaction, where ``PRAGMA foreign_keys`` cannot be
switched off, and dropping a parent that RESTRICT children still point at fails at once (even
with deferred constraints). Child references to routers (``ip_pools.router_id``) are therefore
saved, set to NULL for the rebuild and restored afterwards, all in the same transaction.

Plain SQLAlchemy types (not the models' decorators), as in 0001.
"""

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.schema import SchemaItem

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamps() -> list[sa.Column[dt.datetime]]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    ]


def _router_columns(with_site_fk: bool) -> list[SchemaItem]:
    """The routers table of 0001, with or without the site foreign key."""
    site_args: list[SchemaItem] = []
    if with_site_fk:
        site_args.append(
            sa.ForeignKey(
                "network_sites.id", name=op.f("fk_routers_site_id_network_sites"), ondelete="RESTRICT"
            )
        )
    return [
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("nas_address", sa.String(length=64), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("vendor", sa.String(length=16), nullable=False),
        sa.Column("require_message_authenticator", sa.Boolean(), nullable=False),
        sa.Column("coa_port", sa.Integer(), nullable=False),
        sa.Column("management_address", sa.String(length=255), nullable=True),
        sa.Column("api_username", sa.String(length=255), nullable=True),
        sa.Column("api_password", sa.Text(), nullable=True),
        sa.Column("api_port", sa.Integer(), nullable=True),
        sa.Column("api_tls", sa.Boolean(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("site_id", sa.Integer(), *site_args, nullable=True),
        *_timestamps(),
        sa.CheckConstraint(
            "vendor IN ('generic', 'mikrotik', 'cisco', 'ubiquiti')", name=op.f("ck_routers_vendor")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routers")),
        sa.UniqueConstraint("name", name=op.f("uq_routers_name")),
        sa.UniqueConstraint("nas_address", name=op.f("uq_routers_nas_address")),
    ]


_ROUTER_COLUMNS = (
    "id, name, nas_address, secret, vendor, require_message_authenticator, coa_port, "
    "management_address, api_username, api_password, api_port, api_tls, description, site_id, "
    "created_at, updated_at"
)


def _rebuild_routers_sqlite(with_site_fk: bool) -> None:
    """Recreate ``routers`` on SQLite (same rows and ids), keeping every reference to it."""
    bind = op.get_bind()
    inspector = sa.inspect(bind)
    children: list[tuple[str, str, list[tuple[int, int]]]] = []
    for table in inspector.get_table_names():
        if table == "routers":
            continue
        for fk in inspector.get_foreign_keys(table):
            if fk["referred_table"] != "routers":
                continue
            (column,) = fk["constrained_columns"]
            rows = bind.execute(
                sa.text(f'SELECT id, "{column}" FROM "{table}" WHERE "{column}" IS NOT NULL')
            ).all()
            children.append((table, column, [(r[0], r[1]) for r in rows]))
            bind.execute(sa.text(f'UPDATE "{table}" SET "{column}" = NULL'))

    op.create_table("_routers_rebuild", *_router_columns(with_site_fk))
    op.execute(f"INSERT INTO _routers_rebuild ({_ROUTER_COLUMNS}) SELECT {_ROUTER_COLUMNS} FROM routers")
    op.drop_index(op.f("ix_routers_site_id"), table_name="routers")
    op.drop_table("routers")
    op.rename_table("_routers_rebuild", "routers")
    op.create_index(op.f("ix_routers_site_id"), "routers", ["site_id"])

    for table, column, pairs in children:
        update = sa.text(f'UPDATE "{table}" SET "{column}" = :ref WHERE id = :id')
        if pairs:
            bind.execute(update, [{"id": row_id, "ref": ref} for row_id, ref in pairs])


def upgrade() -> None:
    op.create_table(
        "network_sites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        *_timestamps(),
        sa.CheckConstraint(
            "kind IN ('pop', 'tower', 'datacenter', 'customer', 'other')", name=op.f("ck_network_sites_kind")
        ),
        sa.CheckConstraint(
            "latitude IS NULL OR latitude BETWEEN -90 AND 90", name=op.f("ck_network_sites_latitude")
        ),
        sa.CheckConstraint(
            "longitude IS NULL OR longitude BETWEEN -180 AND 180", name=op.f("ck_network_sites_longitude")
        ),
        sa.CheckConstraint(
            "(latitude IS NULL) = (longitude IS NULL)", name=op.f("ck_network_sites_coordinates")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_network_sites")),
        sa.UniqueConstraint("name", name=op.f("uq_network_sites_name")),
    )

    op.execute("UPDATE routers SET site_id = NULL WHERE site_id IS NOT NULL")  # no sites existed
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_routers_sqlite(with_site_fk=True)
    else:
        op.create_foreign_key(
            op.f("fk_routers_site_id_network_sites"),
            "routers",
            "network_sites",
            ["site_id"],
            ["id"],
            ondelete="RESTRICT",
        )

    op.create_table(
        "router_sectors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("router_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("frequency_mhz", sa.Integer(), nullable=True),
        sa.Column("azimuth_deg", sa.Integer(), nullable=True),
        sa.Column("beamwidth_deg", sa.Integer(), nullable=True),
        sa.Column("ssid", sa.String(length=32), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        *_timestamps(),
        sa.CheckConstraint(
            "azimuth_deg IS NULL OR azimuth_deg BETWEEN 0 AND 359", name=op.f("ck_router_sectors_azimuth")
        ),
        sa.CheckConstraint(
            "beamwidth_deg IS NULL OR beamwidth_deg BETWEEN 1 AND 360",
            name=op.f("ck_router_sectors_beamwidth"),
        ),
        sa.CheckConstraint(
            "frequency_mhz IS NULL OR frequency_mhz > 0", name=op.f("ck_router_sectors_frequency")
        ),
        sa.ForeignKeyConstraint(
            ["router_id"],
            ["routers.id"],
            name=op.f("fk_router_sectors_router_id_routers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_router_sectors")),
        sa.UniqueConstraint("router_id", "name", name=op.f("uq_router_sectors_router_id_name")),
    )

    op.create_table(
        "managed_devices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=True),
        sa.Column("address", sa.String(length=64), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("snmp_version", sa.String(length=8), nullable=False),
        sa.Column("snmp_port", sa.Integer(), nullable=False),
        sa.Column("snmp_community", sa.Text(), nullable=True),
        sa.Column("snmp_user", sa.String(length=255), nullable=True),
        sa.Column("snmp_auth_protocol", sa.String(length=8), nullable=True),
        sa.Column("snmp_auth_key", sa.Text(), nullable=True),
        sa.Column("snmp_priv_protocol", sa.String(length=8), nullable=True),
        sa.Column("snmp_priv_key", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        *_timestamps(),
        sa.CheckConstraint(
            "kind IN ('switch', 'router', 'olt', 'onu', 'access-point', 'cpe', 'ups', 'server', 'other')",
            name=op.f("ck_managed_devices_kind"),
        ),
        sa.CheckConstraint(
            "snmp_version IN ('v1', 'v2c', 'v3')", name=op.f("ck_managed_devices_snmp_version")
        ),
        sa.CheckConstraint(
            "snmp_auth_protocol IS NULL OR snmp_auth_protocol IN "
            "('md5', 'sha', 'sha224', 'sha256', 'sha384', 'sha512')",
            name=op.f("ck_managed_devices_snmp_auth_protocol"),
        ),
        sa.CheckConstraint(
            "snmp_priv_protocol IS NULL OR snmp_priv_protocol IN ('des', 'aes', 'aes192', 'aes256')",
            name=op.f("ck_managed_devices_snmp_priv_protocol"),
        ),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["network_sites.id"],
            name=op.f("fk_managed_devices_site_id_network_sites"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_managed_devices")),
        sa.UniqueConstraint("name", name=op.f("uq_managed_devices_name")),
    )
    op.create_index(op.f("ix_managed_devices_site_id"), "managed_devices", ["site_id"])

    op.create_table(
        "device_connections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("from_device_id", sa.Integer(), nullable=True),
        sa.Column("from_router_id", sa.Integer(), nullable=True),
        sa.Column("from_port", sa.String(length=64), nullable=True),
        sa.Column("to_device_id", sa.Integer(), nullable=True),
        sa.Column("to_router_id", sa.Integer(), nullable=True),
        sa.Column("to_port", sa.String(length=64), nullable=True),
        sa.Column("medium", sa.String(length=16), nullable=False),
        sa.Column("capacity_mbps", sa.BigInteger(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        *_timestamps(),
        sa.CheckConstraint(
            "medium IN ('copper', 'fibre', 'wireless')", name=op.f("ck_device_connections_medium")
        ),
        sa.CheckConstraint(
            "(from_device_id IS NULL) <> (from_router_id IS NULL)",
            name=op.f("ck_device_connections_from_one_end"),
        ),
        sa.CheckConstraint(
            "(to_device_id IS NULL) <> (to_router_id IS NULL)", name=op.f("ck_device_connections_to_one_end")
        ),
        sa.CheckConstraint(
            "capacity_mbps IS NULL OR capacity_mbps > 0", name=op.f("ck_device_connections_capacity")
        ),
        sa.ForeignKeyConstraint(
            ["from_device_id"],
            ["managed_devices.id"],
            name=op.f("fk_device_connections_from_device_id_managed_devices"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["from_router_id"],
            ["routers.id"],
            name=op.f("fk_device_connections_from_router_id_routers"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["to_device_id"],
            ["managed_devices.id"],
            name=op.f("fk_device_connections_to_device_id_managed_devices"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["to_router_id"],
            ["routers.id"],
            name=op.f("fk_device_connections_to_router_id_routers"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_connections")),
    )
    for column in ("from_device_id", "from_router_id", "to_device_id", "to_router_id"):
        op.create_index(op.f(f"ix_device_connections_{column}"), "device_connections", [column])


def downgrade() -> None:
    op.drop_table("device_connections")  # its indexes go with it
    op.drop_table("managed_devices")
    op.drop_table("router_sectors")
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_routers_sqlite(with_site_fk=False)
    else:
        op.drop_constraint(op.f("fk_routers_site_id_network_sites"), "routers", type_="foreignkey")
    op.execute("UPDATE routers SET site_id = NULL WHERE site_id IS NOT NULL")  # sites go away
    op.drop_table("network_sites")
