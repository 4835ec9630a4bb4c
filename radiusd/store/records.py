"""Immutable records the store hands to the CLI and the daemon (never ORM objects).

Fields marked secret (NAS secret, API password, subscriber credential) are left out of ``repr()``
and of :meth:`to_json`, so printing a record or dumping it as JSON cannot leak them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.engine import RowMapping

_SECRET = {"secret": True}


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, tuple):
        return [_json_value(v) for v in value]
    return value


class _Record:
    __slots__ = ()

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict of the non-secret fields (datetimes as ISO 8601 strings)."""
        return {
            f.name: _json_value(getattr(self, f.name))
            for f in fields(self)  # type: ignore[arg-type]
            if not f.metadata.get("secret")
        }


def _pairs(value: Any) -> tuple[tuple[str, str], ...]:
    return tuple((str(name), str(val)) for name, val in (value or ()))


@dataclass(frozen=True, slots=True)
class NasRecord(_Record):
    """A NAS (router) the daemon accepts packets from."""

    id: int
    name: str
    address: str
    secret: str = field(repr=False, metadata=_SECRET)
    vendor: str = "generic"
    require_message_authenticator: bool = True
    coa_port: int = 3799
    description: str | None = None
    management_address: str | None = None
    api_username: str | None = None
    api_password: str | None = field(default=None, repr=False, metadata=_SECRET)
    api_port: int | None = None
    api_tls: bool = False
    api_ca_file: str | None = None
    api_fingerprint: str | None = None
    api_insecure_plain: bool = False
    radsec: bool = False
    radsec_fingerprint: str | None = None
    radsec_subject: str | None = None
    site_id: int | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None

    @classmethod
    def from_row(cls, row: RowMapping) -> NasRecord:
        return cls(
            id=row["id"],
            name=row["name"],
            address=row["nas_address"],
            secret=row["secret"],
            vendor=row["vendor"],
            require_message_authenticator=row["require_message_authenticator"],
            coa_port=row["coa_port"],
            description=row["description"],
            management_address=row["management_address"],
            api_username=row["api_username"],
            api_password=row["api_password"],
            api_port=row["api_port"],
            api_tls=row["api_tls"],
            api_ca_file=row["api_ca_file"],
            api_fingerprint=row["api_fingerprint"],
            api_insecure_plain=bool(row["api_insecure_plain"]),
            radsec=bool(row["radsec"]),
            radsec_fingerprint=row["radsec_fingerprint"],
            radsec_subject=row["radsec_subject"],
            site_id=row["site_id"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )


@dataclass(frozen=True, slots=True)
class PlanRecord(_Record):
    """A service plan; ``reply_attributes`` are (attribute-name, value) pairs added to Access-Accept."""

    id: int
    name: str
    description: str | None = None
    pool: str | None = None
    walled_garden_pool: str | None = None
    simultaneous_use: int | None = None
    session_timeout: int | None = None
    interim_interval: int | None = None
    rate_limit: str | None = None
    reply_attributes: tuple[tuple[str, str], ...] = ()
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None

    @classmethod
    def from_row(cls, row: RowMapping) -> PlanRecord:
        return cls(
            id=row["id"],
            name=row["name"],
            description=row["description"],
            pool=row["pool_name"],
            walled_garden_pool=row["walled_garden_pool"],
            simultaneous_use=row["simultaneous_use"],
            session_timeout=row["session_timeout"],
            interim_interval=row["interim_interval"],
            rate_limit=row["rate_limit"],
            reply_attributes=_pairs(row["reply_attributes"]),
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )


@dataclass(frozen=True, slots=True)
class SubscriberRecord(_Record):
    """A subscriber (the seed's CustomerService); ``plan`` is the plan's name."""

    id: int
    username: str
    credential: str = field(repr=False, metadata=_SECRET)
    status: str = "active"
    plan: str | None = None
    plan_id: int | None = None
    pool: str | None = None
    static_ip: str | None = None
    static_ipv6_prefix: str | None = None
    delegated_ipv6_prefix: str | None = None
    simultaneous_use: int | None = None
    reply_attributes: tuple[tuple[str, str], ...] = ()
    expires_at: dt.datetime | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None

    @classmethod
    def from_row(cls, row: RowMapping) -> SubscriberRecord:
        """From a subscribers row joined with ``plans.name AS plan_name``."""
        return cls(
            id=row["id"],
            username=row["username"],
            credential=row["credential"],
            status=row["status"],
            plan=row["plan_name"],
            plan_id=row["plan_id"],
            pool=row["pool_name"],
            static_ip=row["static_ipv4"],
            static_ipv6_prefix=row["static_ipv6_prefix"],
            delegated_ipv6_prefix=row["delegated_ipv6_prefix"],
            simultaneous_use=row["simultaneous_use"],
            reply_attributes=_pairs(row["reply_attributes"]),
            expires_at=row["expires_at"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )
