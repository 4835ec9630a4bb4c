"""Inventory records: sites, routers (= the NAS list), sectors, managed devices and links.

Frozen dataclasses the store returns and the CLI and the API format; ``to_json()`` never holds a
secret (RADIUS secret, router-API password, SNMP community, SNMPv3 keys), only ``*_set``
booleans saying whether one is stored. :class:`LinkEnd` is one end of a link as a caller names
it (``[router:|device:]NAME[:PORT]``, :func:`parse_link_end`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Literal

from radiusd.store.errors import InvalidInput
from radiusd.store.records import _SECRET, NasRecord, _Record

if TYPE_CHECKING:
    from sqlalchemy.engine import RowMapping

NodeKind = Literal["router", "device"]


@dataclass(frozen=True, slots=True)
class SiteRecord(_Record):
    """A POP, tower, data centre or customer site."""

    id: int
    name: str
    kind: str
    address: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    description: str | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None

    @classmethod
    def from_row(cls, row: RowMapping) -> SiteRecord:
        return cls(**{f: row[f] for f in _SITE_FIELDS})


_SITE_FIELDS = (
    "id", "name", "kind", "address", "latitude", "longitude", "description", "created_at", "updated_at",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class RouterRecord(NasRecord):
    """A router: a NAS (every field of :class:`NasRecord`) plus its site's name."""

    site: str | None = None

    @classmethod
    def from_nas(cls, nas: NasRecord, site: str | None) -> RouterRecord:
        """``nas`` (every one of its fields is a field here) placed at ``site``."""
        return cls(site=site, **{f.name: getattr(nas, f.name) for f in fields(NasRecord)})

    def to_json(self) -> dict[str, Any]:
        data = _Record.to_json(self)
        data["api_password_set"] = bool(self.api_password)
        return data


@dataclass(frozen=True, slots=True)
class SectorRecord(_Record):
    """A wireless sector of a router."""

    id: int
    router: str
    router_id: int
    name: str
    frequency_mhz: int | None = None
    azimuth_deg: int | None = None
    beamwidth_deg: int | None = None
    ssid: str | None = None
    description: str | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None

    @classmethod
    def from_row(cls, row: RowMapping) -> SectorRecord:
        return cls(router=row["router_name"], **{f: row[f] for f in _SECTOR_FIELDS})


_SECTOR_FIELDS = (
    "id", "router_id", "name", "frequency_mhz", "azimuth_deg", "beamwidth_deg", "ssid", "description",
    "created_at", "updated_at",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class DeviceRecord(_Record):
    """An SNMP-managed device; community and v3 keys are secret."""

    id: int
    name: str
    kind: str
    site: str | None = None
    site_id: int | None = None
    address: str | None = None
    snmp_version: str = "v2c"
    snmp_port: int = 161
    snmp_community: str | None = field(default=None, repr=False, metadata=_SECRET)
    snmp_user: str | None = None
    snmp_auth_protocol: str | None = None
    snmp_auth_key: str | None = field(default=None, repr=False, metadata=_SECRET)
    snmp_priv_protocol: str | None = None
    snmp_priv_key: str | None = field(default=None, repr=False, metadata=_SECRET)
    description: str | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None

    @classmethod
    def from_row(cls, row: RowMapping) -> DeviceRecord:
        return cls(site=row["site_name"], **{f: row[f] for f in _DEVICE_FIELDS})

    def to_json(self) -> dict[str, Any]:
        data = _Record.to_json(self)
        data["snmp_community_set"] = bool(self.snmp_community)
        data["snmp_auth_key_set"] = bool(self.snmp_auth_key)
        data["snmp_priv_key_set"] = bool(self.snmp_priv_key)
        return data


_DEVICE_FIELDS = (
    "id", "name", "kind", "site_id", "address", "snmp_version", "snmp_port", "snmp_community",
    "snmp_user", "snmp_auth_protocol", "snmp_auth_key", "snmp_priv_protocol", "snmp_priv_key",
    "description", "created_at", "updated_at",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class LinkRecord(_Record):
    """A link; each end is a router or a device (``*_kind``), by name, with an optional port."""

    id: int
    from_kind: str
    from_name: str
    from_port: str | None
    to_kind: str
    to_name: str
    to_port: str | None
    medium: str
    capacity_mbps: int | None = None
    description: str | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class LinkEnd:
    """One end of a link as given by a caller: a name, optionally its kind, optionally a port."""

    name: str
    port: str | None = None
    kind: NodeKind | None = None

    def __str__(self) -> str:
        text = f"{self.kind}:{self.name}" if self.kind else self.name
        return f"{text}:{self.port}" if self.port else text


def parse_link_end(text: str) -> LinkEnd:
    """``[router:|device:]NAME[:PORT]`` as a :class:`LinkEnd` (the port may itself contain ':')."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("a link end must be NAME or NAME:PORT, not empty")
    kind: NodeKind | None = None
    rest = text.strip()
    for prefix in ("router", "device"):
        if rest.startswith(prefix + ":"):
            kind = "router" if prefix == "router" else "device"
            rest = rest[len(prefix) + 1 :]
            break
    name, sep, port = rest.partition(":")
    if not name:
        raise InvalidInput(f"link end {text!r} has no name")
    if sep and not port:
        raise InvalidInput(f"link end {text!r} has an empty port")
    return LinkEnd(name=name, port=port or None, kind=kind)
