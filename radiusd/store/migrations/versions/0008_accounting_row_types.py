"""Composite row types for the accounting batch (PostgreSQL only)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26

The writer sends each accounting batch as one statement (radiusd.store.accounting_ops). It
sent one array per column (~43 arrays for a batch of Interim-Updates), and asyncpg checks
every element of every array against collections.abc ABCs in Python before encoding it: on a
batch of 54 sessions that was ~18 µs of client CPU and ~7 µs of server CPU per session row.
An array of composite values is encoded field by field in Cython with no such check: ~5.5 µs
and ~2.8 µs. These types are the rows' shapes on the wire; they hold no data.

Their fields must match the tuples accounting_ops builds (_PG_SESSION_COLS, _PG_POINT_COLS,
_PG_DELTA_COLS): tests/integration/test_accounting_row_types.py compares them. Timestamps
travel as float8 epoch seconds (asyncpg encodes timestamptz in Python; to_timestamp is exact to
the microsecond for these values). A change of those columns needs a migration that alters
these types.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TYPES = {
    "radiusd_acct_session_row": (
        "acct_unique_id text, acct_session_id text, username text, subscriber_id int4, "
        "router_id int4, nas_address text, nas_port int8, nas_port_id text, nas_port_type text, "
        "framed_ip text, framed_ipv6_prefix text, delegated_ipv6_prefix text, "
        'calling_station_id text, called_station_id text, "class" text, started_at float8, '
        "updated_at float8, stopped_at float8, session_time int8, input_octets int8, "
        "output_octets int8, input_packets int8, output_packets int8, input_base int8, "
        "output_base int8, terminate_cause text, status text, interim_interval int4"
    ),
    "radiusd_acct_point_row": (
        "acct_unique_id text, event_time float8, status_type text, session_time int8, "
        "input_octets int8, output_octets int8, input_packets int8, output_packets int8"
    ),
    "radiusd_acct_delta_row": (
        "username text, day date, input_octets int8, output_octets int8, session_time int8, "
        "sessions int4, pn int4"
    ),
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, fields in _TYPES.items():
        op.execute(f"CREATE TYPE {name} AS ({fields})")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name in _TYPES:
        op.execute(f"DROP TYPE IF EXISTS {name}")
