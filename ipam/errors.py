"""Errors raised by the IPAM core.

Exhaustion is *not* an error: ``allocate`` returns ``None`` so the policy can reject cleanly
(or try a fallback pool) without an exception on a path that is expected under load.
"""

from __future__ import annotations


class IpamError(Exception):
    """Base class of every IPAM error."""


class PoolError(IpamError):
    """A pool's configuration is invalid: bad range text, overlap, address outside the pool,
    a range or pool that cannot be removed because it still has live leases."""


class LeaseError(IpamError):
    """A lease operation does not apply to the item's current state (for example confirming
    an address that is not offered to that owner). The state is left unchanged."""


class PoolInputError(PoolError):
    """Text that names no pool item: a malformed range, address or gateway (the API's 422)."""


class UnknownRange(PoolError):
    """A range the pool does not have (the API's 404)."""
