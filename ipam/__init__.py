"""IP address management: pools, the in-memory allocator, leases and utilisation.

Pure and synchronous: no database, no asyncio, no clock (``now`` is passed in). Modules:
``ranges`` (address arithmetic, overlap checks), ``pool`` (one pool's states and O(1)
allocation), ``allocator`` (many pools, routing by address, fallback), ``lease`` (states,
snapshots, changes), ``utilisation`` (counts), ``errors``. The store mirrors every
:class:`Change` durably and settles it with ``commit``/``rollback``; start-up rebuilds the
state with ``Allocator.load(rows)``.
"""

from ipam.allocator import Allocator
from ipam.errors import IpamError, LeaseError, PoolError
from ipam.lease import Adoption, AdoptStatus, Change, Lease, LeaseState
from ipam.pool import Pool
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
