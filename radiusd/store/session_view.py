"""The one read model of an accounting session: what the CLI, the admin API and CoA report.

A ``radius_sessions`` row keeps the NAS's counters as last reported (``input_octets``, with
Acct-Input-Gigawords folded in: Gigawords x 2^32 + Octets, RFC 2869 §5.1-5.2) and, apart,
``input_base``: what was counted before the NAS's counters last went down (a counter reset,
folded by the accounting policy). A session's usage is therefore always ``base + counter``;
the raw counter alone is wrong after a reset. Every reader goes through :func:`session_select`
(SQL) or :func:`octets` (a row already read), so ``session show`` and ``GET
/radius/sessions/online`` cannot disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from .models import RadiusSession, Router
from .tables import core_table

_S = core_table(RadiusSession)
_R = core_table(Router)

#: Every field of the read model, in listing order (``session list`` JSON and CSV keys).
FIELDS = (
    "id", "acct_unique_id", "acct_session_id", "username", "nas", "nas_address", "nas_port",
    "nas_port_id", "address", "framed_ipv6_prefix", "delegated_ipv6_prefix", "calling_station_id",
    "status", "started", "updated", "stopped", "session_time", "input_octets", "output_octets",
    "input_packets", "output_packets", "terminate_cause",
)  # fmt: skip


def total_octets(direction: str, table: sa.Table = _S) -> sa.ColumnElement[int]:
    """``<direction>_base + <direction>_octets`` of ``table`` (``direction``: input|output)."""
    return (table.c[f"{direction}_base"] + table.c[f"{direction}_octets"]).label(f"{direction}_octets")


def octets(row: Mapping[str, Any] | sa.RowMapping, direction: str) -> int:
    """The session's usage in one direction from a row read with its base and counter columns."""
    return int(row[f"{direction}_base"]) + int(row[f"{direction}_octets"])


def session_select() -> sa.Select[Any]:
    """Every :data:`FIELDS` of a session, joined to its NAS (``nas``: its name, else its address),
    plus ``router_id``; octets are usage totals."""
    return sa.select(
        _S.c.id, _S.c.acct_unique_id, _S.c.acct_session_id, _S.c.username,
        sa.func.coalesce(_R.c.name, _S.c.nas_address).label("nas"), _S.c.nas_address,
        _S.c.nas_port, _S.c.nas_port_id, _S.c.framed_ip.label("address"), _S.c.framed_ipv6_prefix,
        _S.c.delegated_ipv6_prefix, _S.c.calling_station_id, _S.c.status,
        _S.c.started_at.label("started"), _S.c.updated_at.label("updated"),
        _S.c.stopped_at.label("stopped"), _S.c.session_time, total_octets("input"),
        total_octets("output"), _S.c.input_packets, _S.c.output_packets, _S.c.terminate_cause,
        _S.c.router_id,
    ).select_from(_S.outerjoin(_R, _R.c.id == _S.c.router_id))  # fmt: skip
