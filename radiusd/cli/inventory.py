"""``radiusd site|router|sector|device|link``: the network inventory (radiusd.store.inventory).

Routers are the NAS clients: ``router add`` writes the same row as ``nas add`` and ``nas list``
shows it. Secrets (RADIUS secret, router-API password, SNMP community and v3 keys) are never
printed: ``show`` masks them, ``--json`` says only whether one is set (``*_set``).

A link end is ``[router:|device:]NAME[:PORT]``; a name that is both a router and a device must
carry the prefix (the command refuses to guess).
"""

from __future__ import annotations

from radiusd.cli.inventory_devices import device
from radiusd.cli.inventory_links import link
from radiusd.cli.inventory_routers import router
from radiusd.cli.inventory_sectors import sector
from radiusd.cli.inventory_sites import site

COMMANDS = (site, router, sector, device, link)
