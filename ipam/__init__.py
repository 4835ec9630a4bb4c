"""IP address management: pools, the in-memory allocator, leases and utilisation.

Pure and synchronous: no database, no asyncio, no clock (``now`` is passed in). Modules:
``ranges`` (address arithmetic, overlap checks), ``pool`` (one pool's states and O(1)
allocation), ``allocator`` (many pools, routing by address, fallback), ``lease`` (states,
snapshots, changes), ``utilisation`` (counts and the one warning rule), ``groups`` (an
operator's pool as up to three rows, one per family; :func:`~ipam.groups.load_allocator`,
the one way an allocator is rebuilt from stored rows), ``owners`` (owner keys,
Simultaneous-Use slots), ``report`` (a pool's utilisation report as the CLI, the API and
metrics show it), ``errors``. The daemon mirrors every :class:`Change` durably and settles it
with ``commit``/``rollback``. Nothing here imports radiusd: persistence and the service that
runs the allocator sit above.
"""

from ipam.allocator import Allocator
from ipam.errors import IpamError, LeaseError, PoolError
from ipam.lease import AdoptStatus, Lease, LeaseState
from ipam.pool import Pool
from ipam.pool_items import Adoption, Change
from ipam.utilisation import Usage

__all__ = [
    "AdoptStatus",
    "Adoption",
    "Allocator",
    "Change",
    "IpamError",
    "Lease",
    "LeaseError",
    "LeaseState",
    "Pool",
    "PoolError",
    "Usage",
]
