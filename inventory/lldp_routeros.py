"""Polls a MikroTik router's neighbour table through the RouterOS API (``/ip/neighbor/print``).

The connection is the MikroTik plugin's own (:meth:`inventory.plugins.mikrotik.Plugin.api`):
API-SSL unless the router is marked plain, its CA file or pinned fingerprint, the masked
library logs. RouterOS fills ``/ip/neighbor`` from LLDP, CDP and MNDP alike; every row
counts (``discovered-by`` says which).
"""

from __future__ import annotations

from typing import Any, cast

from librouteros.exceptions import LibRouterosError

from radiusd.store.records import NasRecord

from .lldp import MalformedLldp, Observation, from_routeros
from .lldp_snmp import PollError
from .plugins.base import PluginError, Unsupported
from .plugins.mikrotik import Plugin

MAX_ROWS = 10_000


async def poll(router: NasRecord) -> Observation:
    """The router's neighbours; :class:`PollError` (one line, no credential) when it fails."""
    plugin = Plugin(router, cast(Any, None))  # no CoA here: only the API connection is used
    try:
        async with plugin.api() as api:
            rows = []
            async for row in api("/ip/neighbor/print"):
                rows.append(dict(row))
                if len(rows) > MAX_ROWS:
                    raise PollError(f"router {router.name!r}: more than {MAX_ROWS} rows in /ip/neighbor")
            own: dict[str, Any] | None = None
            try:
                own = next(iter([dict(r) async for r in api("/system/identity/print")]), None)
            except LibRouterosError:
                own = None  # the identity is a nicety; the neighbours are what counts
    except (PluginError, Unsupported) as exc:
        raise PollError(str(exc)) from None
    try:
        return from_routeros("router", router.name, rows, own)
    except MalformedLldp as exc:
        raise PollError(f"router {router.name!r} (RouterOS API): malformed /ip/neighbor row: {exc}") from None
