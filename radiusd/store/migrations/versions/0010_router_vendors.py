"""routers.vendor: juniper, huawei, nokia, accel-ppp and cambium join the allowed vendors

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07

A NAS's vendor chooses its router plugin, and with it the reply attributes that carry a plan's
rate limit; the new vendors need their own value in the ``ck_routers_vendor`` CHECK.

PostgreSQL replaces the constraint. SQLite cannot alter a CHECK, so ``routers`` is rebuilt as
0003 does it (create, copy, drop, rename, same ids), child references saved and restored in
the same transaction. Plain SQLAlchemy types, as in 0001.
"""

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.schema import SchemaItem

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = ("generic", "mikrotik", "cisco", "ubiquiti")
NEW = (*OLD, "juniper", "huawei", "nokia", "accel-ppp", "cambium")
_NAME = "ck_routers_vendor"


def _check(vendors: tuple[str, ...]) -> str:
    return "vendor IN (" + ", ".join(f"'{v}'" for v in vendors) + ")"


def _router_columns(vendors: tuple[str, ...]) -> list[SchemaItem]:
    """The routers table of 0003, with the vendor CHECK of ``vendors``."""
    stamps: list[sa.Column[dt.datetime]] = [
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    ]
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
        sa.Column(
            "site_id",
            sa.Integer(),
            sa.ForeignKey(
                "network_sites.id", name=op.f("fk_routers_site_id_network_sites"), ondelete="RESTRICT"
            ),
            nullable=True,
        ),
        *stamps,
        sa.CheckConstraint(_check(vendors), name=op.f(_NAME)),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routers")),
        sa.UniqueConstraint("name", name=op.f("uq_routers_name")),
        sa.UniqueConstraint("nas_address", name=op.f("uq_routers_nas_address")),
    ]


_ROUTER_COLUMNS = (
    "id, name, nas_address, secret, vendor, require_message_authenticator, coa_port, "
    "management_address, api_username, api_password, api_port, api_tls, description, site_id, "
    "created_at, updated_at"
)


def _rebuild_routers_sqlite(vendors: tuple[str, ...]) -> None:
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

    op.create_table("_routers_rebuild", *_router_columns(vendors))
    op.execute(f"INSERT INTO _routers_rebuild ({_ROUTER_COLUMNS}) SELECT {_ROUTER_COLUMNS} FROM routers")
    op.drop_index(op.f("ix_routers_site_id"), table_name="routers")
    op.drop_table("routers")
    op.rename_table("_routers_rebuild", "routers")
    op.create_index(op.f("ix_routers_site_id"), "routers", ["site_id"])

    for table, column, pairs in children:
        update = sa.text(f'UPDATE "{table}" SET "{column}" = :ref WHERE id = :id')
        if pairs:
            bind.execute(update, [{"id": row_id, "ref": ref} for row_id, ref in pairs])


def _set_vendors(vendors: tuple[str, ...]) -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_routers_sqlite(vendors)
    else:
        op.drop_constraint(op.f(_NAME), "routers", type_="check")
        op.create_check_constraint(op.f(_NAME), "routers", _check(vendors))


def upgrade() -> None:
    _set_vendors(NEW)


def downgrade() -> None:
    op.execute(
        sa.text("UPDATE routers SET vendor = 'generic' WHERE vendor NOT IN :old").bindparams(
            sa.bindparam("old", expanding=True, value=list(OLD))
        )
    )
    _set_vendors(OLD)
