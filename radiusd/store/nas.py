"""NAS (router) CRUD for the CLI and admin API; each write also appends to the change feed."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from . import validate
from .changes import TOPIC_NAS, record_change
from .engine import begin_write
from .errors import Conflict, InvalidInput, NotFound
from .models import Router, utcnow
from .records import NasRecord
from .snapshot import NAS_SELECT


async def _fetch(conn: AsyncConnection, name: str) -> NasRecord:
    row = (await conn.execute(NAS_SELECT.where(Router.name == name))).mappings().first()
    if row is None:
        raise NotFound(f"NAS {name!r} does not exist")
    return NasRecord.from_row(row)


async def add_nas(
    engine: AsyncEngine,
    name: str,
    address: str,
    secret: str,
    *,
    vendor: str = "generic",
    require_message_authenticator: bool = True,
    coa_port: int = 3799,
    description: str | None = None,
) -> NasRecord:
    """Register a NAS; Conflict when the name or the address is taken. ``address`` may be a
    subnet (``10.0.0.0/24``): the NAS then accepts requests from any address in it."""
    name = validate.name(name, "NAS name")
    address = validate.nas_client_address(address)
    if not isinstance(secret, str) or not secret:
        raise InvalidInput(f"NAS {name!r}: the secret must not be empty")
    vendor = validate.vendor(vendor)
    coa_port = validate.port(coa_port, "CoA port")
    now = utcnow()
    try:
        async with begin_write(engine) as conn:
            taken = (
                await conn.execute(
                    sa.select(Router.name, Router.nas_address).where(
                        sa.or_(Router.name == name, Router.nas_address == address)
                    )
                )
            ).first()
            if taken is not None:
                if taken.name == name:
                    raise Conflict(f"NAS {name!r} already exists")
                raise Conflict(f"address {address} already belongs to NAS {taken.name!r}")
            await conn.execute(
                sa.insert(Router).values(
                    name=name,
                    nas_address=address,
                    secret=secret,
                    vendor=vendor,
                    require_message_authenticator=bool(require_message_authenticator),
                    coa_port=coa_port,
                    description=description,
                    api_tls=False,
                    created_at=now,
                    updated_at=now,
                )
            )
            await record_change(conn, TOPIC_NAS, name)
            return await _fetch(conn, name)
    except IntegrityError:  # lost a race with a concurrent add
        raise Conflict(f"NAS {name!r} or address {address} already exists") from None


async def list_nas(engine: AsyncEngine) -> list[NasRecord]:
    """Every NAS, by name."""
    async with engine.connect() as conn:
        return [NasRecord.from_row(row) for row in (await conn.execute(NAS_SELECT)).mappings()]


async def get_nas(engine: AsyncEngine, name: str) -> NasRecord:
    async with engine.connect() as conn:
        return await _fetch(conn, name)


async def remove_nas(engine: AsyncEngine, name: str) -> None:
    """Remove a NAS. A NAS is a router row, so this is :func:`radiusd.store.inventory.remove_router`:
    Conflict while pools, open sessions or links refer to it (history is kept)."""
    from .inventory import remove_router  # inventory builds on this module

    try:
        await remove_router(engine, name)
    except NotFound:
        raise NotFound(f"NAS {name!r} does not exist") from None
