"""The NAS clients the daemon accepts packets from, keyed by source address.

A packet whose source is not here is dropped before it is decoded. The registry is
replaced or patched in place when the change feed says the NAS list changed, so a
``radiusd nas add`` takes effect without a restart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


class NasSource(Protocol):
    """What the registry needs of a stored NAS record (radiusd.store.records.NasRecord)."""

    @property
    def id(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def address(self) -> str: ...
    @property
    def secret(self) -> str: ...
    @property
    def vendor(self) -> str: ...
    @property
    def require_message_authenticator(self) -> bool: ...
    @property
    def coa_port(self) -> int: ...


@dataclass(frozen=True, slots=True)
class NasClient:
    id: int
    name: str
    address: str
    secret: bytes = field(repr=False)
    vendor: str = "generic"
    require_message_authenticator: bool = True
    coa_port: int = 3799

    @classmethod
    def from_record(cls, rec: NasSource) -> NasClient:
        return cls(
            id=rec.id,
            name=rec.name,
            address=rec.address,  # normalised when written (radiusd.store.validate.nas_address)
            secret=rec.secret.encode("utf-8"),
            vendor=rec.vendor,
            require_message_authenticator=rec.require_message_authenticator,
            coa_port=rec.coa_port,
        )


class NasRegistry:
    def __init__(self, clients: list[NasClient] | None = None) -> None:
        self._by_address: dict[str, NasClient] = {}
        self.replace_all(clients or [])

    def __len__(self) -> int:
        return len(self._by_address)

    def get(self, source_address: str) -> NasClient | None:
        """The NAS for a datagram's source address (exact match; mapped IPv4 tolerated)."""
        nas = self._by_address.get(source_address)
        if nas is None and source_address.startswith("::ffff:"):
            nas = self._by_address.get(source_address[7:])
        return nas

    def by_name(self, name: str) -> NasClient | None:
        for nas in self._by_address.values():
            if nas.name == name:
                return nas
        return None

    def replace_all(self, clients: list[NasClient]) -> None:
        self._by_address = {c.address: c for c in clients}

    def all(self) -> list[NasClient]:
        return list(self._by_address.values())
