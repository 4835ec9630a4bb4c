"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-26

Hand-reviewed autogenerate output: every table of issues 3 (NAS, plans, subscribers,
change_log), 4 (IPAM) and 5 (sessions and accounting). Types are spelled with plain SQLAlchemy
types (not the models' decorators) so this file never changes when models.py does.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "change_log",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("topic", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_log")),
    )
    op.create_table(
        "plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("pool_name", sa.String(length=128), nullable=True),
        sa.Column("walled_garden_pool", sa.String(length=128), nullable=True),
        sa.Column("simultaneous_use", sa.Integer(), nullable=True),
        sa.Column("session_timeout", sa.Integer(), nullable=True),
        sa.Column("interim_interval", sa.Integer(), nullable=True),
        sa.Column("rate_limit", sa.String(length=255), nullable=True),
        sa.Column("reply_attributes", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plans")),
        sa.UniqueConstraint("name", name=op.f("uq_plans_name")),
    )
    op.create_table(
        "radius_accounting",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("acct_unique_id", sa.String(length=255), nullable=False),
        sa.Column("acct_session_id", sa.String(length=255), nullable=True),
        sa.Column("username", sa.String(length=253), nullable=False),
        sa.Column("router_id", sa.Integer(), nullable=True),
        sa.Column("nas_address", sa.String(length=64), nullable=False),
        sa.Column("framed_ip", sa.String(length=15), nullable=True),
        sa.Column("framed_ipv6_prefix", sa.String(length=64), nullable=True),
        sa.Column("delegated_ipv6_prefix", sa.String(length=64), nullable=True),
        sa.Column("calling_station_id", sa.String(length=255), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("session_time", sa.BigInteger(), nullable=False),
        sa.Column("input_octets", sa.BigInteger(), nullable=False),
        sa.Column("output_octets", sa.BigInteger(), nullable=False),
        sa.Column("terminate_cause", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_radius_accounting")),
        sa.UniqueConstraint("acct_unique_id", name=op.f("uq_radius_accounting_acct_unique_id")),
    )
    op.create_index(
        op.f("ix_radius_accounting_framed_ip_started_at"), "radius_accounting", ["framed_ip", "started_at"]
    )
    op.create_index(op.f("ix_radius_accounting_stopped_at"), "radius_accounting", ["stopped_at"])
    op.create_index(op.f("ix_radius_accounting_username"), "radius_accounting", ["username"])

    op.create_table(
        "radius_sessions",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("acct_unique_id", sa.String(length=255), nullable=False),
        sa.Column("acct_session_id", sa.String(length=255), nullable=False),
        sa.Column("username", sa.String(length=253), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=True),
        sa.Column("router_id", sa.Integer(), nullable=True),
        sa.Column("nas_address", sa.String(length=64), nullable=False),
        sa.Column("nas_port", sa.BigInteger(), nullable=True),
        sa.Column("nas_port_id", sa.String(length=255), nullable=True),
        sa.Column("nas_port_type", sa.String(length=32), nullable=True),
        sa.Column("framed_ip", sa.String(length=15), nullable=True),
        sa.Column("framed_ipv6_prefix", sa.String(length=64), nullable=True),
        sa.Column("delegated_ipv6_prefix", sa.String(length=64), nullable=True),
        sa.Column("calling_station_id", sa.String(length=255), nullable=True),
        sa.Column("called_station_id", sa.String(length=255), nullable=True),
        sa.Column("class", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("session_time", sa.BigInteger(), nullable=False),
        sa.Column("input_octets", sa.BigInteger(), nullable=False),
        sa.Column("output_octets", sa.BigInteger(), nullable=False),
        sa.Column("input_packets", sa.BigInteger(), nullable=False),
        sa.Column("output_packets", sa.BigInteger(), nullable=False),
        sa.Column("input_base", sa.BigInteger(), nullable=False),
        sa.Column("output_base", sa.BigInteger(), nullable=False),
        sa.Column("terminate_cause", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("interim_interval", sa.Integer(), nullable=True),
        sa.CheckConstraint("status IN ('open', 'closed')", name=op.f("ck_radius_sessions_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_radius_sessions")),
        sa.UniqueConstraint("acct_unique_id", name=op.f("uq_radius_sessions_acct_unique_id")),
    )
    op.create_index(
        op.f("ix_radius_sessions_framed_ip_started_at"), "radius_sessions", ["framed_ip", "started_at"]
    )
    op.create_index(op.f("ix_radius_sessions_status_router_id"), "radius_sessions", ["status", "router_id"])
    op.create_index(op.f("ix_radius_sessions_username"), "radius_sessions", ["username"])

    op.create_table(
        "routers",
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
        sa.Column("site_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "vendor IN ('generic', 'mikrotik', 'cisco', 'ubiquiti')", name=op.f("ck_routers_vendor")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routers")),
        sa.UniqueConstraint("name", name=op.f("uq_routers_name")),
        sa.UniqueConstraint("nas_address", name=op.f("uq_routers_nas_address")),
    )
    op.create_index(op.f("ix_routers_site_id"), "routers", ["site_id"])

    op.create_table(
        "service_ip_assignments",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("username", sa.String(length=253), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=True),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("family", sa.SmallInteger(), nullable=False),
        sa.Column("pool_name", sa.String(length=128), nullable=True),
        sa.Column("router_id", sa.Integer(), nullable=True),
        sa.Column("session_key", sa.String(length=255), nullable=True),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("family IN (4, 6)", name=op.f("ck_service_ip_assignments_family")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_ip_assignments")),
    )
    op.create_index(
        op.f("ix_service_ip_assignments_address_assigned_at"),
        "service_ip_assignments",
        ["address", "assigned_at"],
    )
    op.create_index(op.f("ix_service_ip_assignments_username"), "service_ip_assignments", ["username"])

    op.create_table(
        "service_usage",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("username", sa.String(length=253), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("input_octets", sa.BigInteger(), nullable=False),
        sa.Column("output_octets", sa.BigInteger(), nullable=False),
        sa.Column("session_time", sa.BigInteger(), nullable=False),
        sa.Column("sessions", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_usage")),
        sa.UniqueConstraint("username", "day", name=op.f("uq_service_usage_username_day")),
    )
    op.create_index(op.f("ix_service_usage_day"), "service_usage", ["day"])

    op.create_table(
        "ip_pools",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("prefix_length", sa.Integer(), nullable=True),
        sa.Column("router_id", sa.Integer(), nullable=True),
        sa.Column("site_id", sa.Integer(), nullable=True),
        sa.Column("fallback_pool", sa.String(length=128), nullable=True),
        sa.Column("utilisation_warning_pct", sa.Double(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind = 'ipv4' OR prefix_length IS NOT NULL", name=op.f("ck_ip_pools_ipv6_prefix_length")
        ),
        sa.CheckConstraint("kind IN ('ipv4', 'ipv6-wan', 'ipv6-pd')", name=op.f("ck_ip_pools_kind")),
        sa.ForeignKeyConstraint(
            ["router_id"], ["routers.id"], name=op.f("fk_ip_pools_router_id_routers"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ip_pools")),
        sa.UniqueConstraint("name", name=op.f("uq_ip_pools_name")),
    )
    op.create_index(op.f("ix_ip_pools_router_id"), "ip_pools", ["router_id"])
    op.create_index(op.f("ix_ip_pools_site_id"), "ip_pools", ["site_id"])

    op.create_table(
        "radius_interim_updates",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("session_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("acct_unique_id", sa.String(length=255), nullable=False),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status_type", sa.String(length=16), nullable=False),
        sa.Column("session_time", sa.BigInteger(), nullable=False),
        sa.Column("input_octets", sa.BigInteger(), nullable=False),
        sa.Column("output_octets", sa.BigInteger(), nullable=False),
        sa.Column("input_packets", sa.BigInteger(), nullable=False),
        sa.Column("output_packets", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["radius_sessions.id"],
            name=op.f("fk_radius_interim_updates_session_id_radius_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_radius_interim_updates")),
        sa.UniqueConstraint(
            "acct_unique_id",
            "status_type",
            "session_time",
            "input_octets",
            "output_octets",
            name="uq_radius_interim_updates_retransmit",
        ),
    )
    op.create_index(op.f("ix_radius_interim_updates_event_time"), "radius_interim_updates", ["event_time"])
    op.create_index(op.f("ix_radius_interim_updates_session_id"), "radius_interim_updates", ["session_id"])

    op.create_table(
        "subscribers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=253), nullable=False),
        sa.Column("credential", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=True),
        sa.Column("pool_name", sa.String(length=128), nullable=True),
        sa.Column("static_ipv4", sa.String(length=15), nullable=True),
        sa.Column("static_ipv6_prefix", sa.String(length=64), nullable=True),
        sa.Column("delegated_ipv6_prefix", sa.String(length=64), nullable=True),
        sa.Column("simultaneous_use", sa.Integer(), nullable=True),
        sa.Column("reply_attributes", sa.JSON(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('active', 'suspended', 'disabled')", name=op.f("ck_subscribers_status")
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["plans.id"], name=op.f("fk_subscribers_plan_id_plans"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscribers")),
        sa.UniqueConstraint("static_ipv4", name=op.f("uq_subscribers_static_ipv4")),
        sa.UniqueConstraint("username", name=op.f("uq_subscribers_username")),
    )
    op.create_index(op.f("ix_subscribers_plan_id"), "subscribers", ["plan_id"])

    op.create_table(
        "ipv4_ips",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("address", sa.String(length=15), nullable=False),
        sa.Column("pool_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("owner", sa.String(length=253), nullable=True),
        sa.Column("router_id", sa.Integer(), nullable=True),
        sa.Column("session_key", sa.String(length=255), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "state IN ('offered', 'leased', 'released', 'reserved')", name=op.f("ck_ipv4_ips_state")
        ),
        sa.ForeignKeyConstraint(
            ["pool_id"], ["ip_pools.id"], name=op.f("fk_ipv4_ips_pool_id_ip_pools"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ipv4_ips")),
        sa.UniqueConstraint("address", name=op.f("uq_ipv4_ips_address")),
    )
    op.create_index(op.f("ix_ipv4_ips_owner"), "ipv4_ips", ["owner"])
    op.create_index(op.f("ix_ipv4_ips_pool_id"), "ipv4_ips", ["pool_id"])

    op.create_table(
        "ipv4_networks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pool_id", sa.Integer(), nullable=False),
        sa.Column("cidr", sa.String(length=18), nullable=False),
        sa.Column("gateway", sa.String(length=15), nullable=True),
        sa.Column("excluded", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["pool_id"], ["ip_pools.id"], name=op.f("fk_ipv4_networks_pool_id_ip_pools"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ipv4_networks")),
        sa.UniqueConstraint("cidr", name=op.f("uq_ipv4_networks_cidr")),
    )
    op.create_index(op.f("ix_ipv4_networks_pool_id"), "ipv4_networks", ["pool_id"])

    op.create_table(
        "ipv6_ips",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("prefix", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("pool_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("owner", sa.String(length=253), nullable=True),
        sa.Column("router_id", sa.Integer(), nullable=True),
        sa.Column("session_key", sa.String(length=255), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('wan', 'pd')", name=op.f("ck_ipv6_ips_kind")),
        sa.CheckConstraint(
            "state IN ('offered', 'leased', 'released', 'reserved')", name=op.f("ck_ipv6_ips_state")
        ),
        sa.ForeignKeyConstraint(
            ["pool_id"], ["ip_pools.id"], name=op.f("fk_ipv6_ips_pool_id_ip_pools"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ipv6_ips")),
        sa.UniqueConstraint("prefix", name=op.f("uq_ipv6_ips_prefix")),
    )
    op.create_index(op.f("ix_ipv6_ips_owner"), "ipv6_ips", ["owner"])
    op.create_index(op.f("ix_ipv6_ips_pool_id"), "ipv6_ips", ["pool_id"])

    op.create_table(
        "ipv6_networks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pool_id", sa.Integer(), nullable=False),
        sa.Column("prefix", sa.String(length=64), nullable=False),
        sa.Column("assign_length", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["pool_id"], ["ip_pools.id"], name=op.f("fk_ipv6_networks_pool_id_ip_pools"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ipv6_networks")),
        sa.UniqueConstraint("prefix", name=op.f("uq_ipv6_networks_prefix")),
    )
    op.create_index(op.f("ix_ipv6_networks_pool_id"), "ipv6_networks", ["pool_id"])


def downgrade() -> None:
    op.drop_table("ipv6_networks")
    op.drop_table("ipv6_ips")
    op.drop_table("ipv4_networks")
    op.drop_table("ipv4_ips")
    op.drop_table("subscribers")
    op.drop_table("radius_interim_updates")
    op.drop_table("ip_pools")
    op.drop_table("service_usage")
    op.drop_table("service_ip_assignments")
    op.drop_table("routers")
    op.drop_table("radius_sessions")
    op.drop_table("radius_accounting")
    op.drop_table("plans")
    op.drop_table("change_log")
