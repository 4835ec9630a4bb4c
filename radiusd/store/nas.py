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
from .validate import UNSET, Unset, given


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
    radsec: bool = False,
    radsec_fingerprint: str | None = None,
    radsec_subject: str | None = None,
) -> NasRecord:
    """Register a NAS; Conflict when the name or the address is taken. ``address`` may be a
    subnet (``10.0.0.0/24``): the NAS then accepts requests from any address in it. ``radsec``:
    a RadSec client (RFC 6614) known by its certificate's fingerprint and/or subject, whose
    UDP requests are refused."""
    name = validate.name(name, "NAS name")
    address = validate.nas_client_address(address)
    secret = _secret(name, secret)
    vendor = validate.vendor(vendor)
    coa_port = validate.port(coa_port, "CoA port")
    tls = _radsec_values(name, radsec, radsec_fingerprint, radsec_subject)
    now = utcnow()
    try:
        async with begin_write(engine) as conn:
            await _certificate_free(conn, None, tls)
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
                    **tls,
                    created_at=now,
                    updated_at=now,
                )
            )
            await record_change(conn, TOPIC_NAS, name)
            return await _fetch(conn, name)
    except IntegrityError:  # lost a race with a concurrent add
        raise Conflict(f"NAS {name!r} or address {address} already exists") from None


def _radsec_values(
    name: str, radsec: object, fingerprint: str | None, subject: str | None
) -> dict[str, object]:
    """The RadSec columns, checked: a RadSec client needs a certificate identity."""
    values: dict[str, object] = {
        "radsec": bool(radsec),
        "radsec_fingerprint": None if not fingerprint else validate.certificate_fingerprint(fingerprint),
        "radsec_subject": None if not subject else validate.certificate_subject(subject),
    }
    if values["radsec"] and values["radsec_fingerprint"] is None and values["radsec_subject"] is None:
        raise InvalidInput(
            f"NAS {name!r}: a RadSec client needs --radsec-fingerprint or --radsec-subject "
            "(how its TLS client certificate is recognised)"
        )
    return values


async def _certificate_free(conn: AsyncConnection, own_id: int | None, values: dict[str, object]) -> None:
    """Conflict when another NAS has this fingerprint or subject: a certificate names one NAS."""
    for column, label in ((Router.radsec_fingerprint, "fingerprint"), (Router.radsec_subject, "subject")):
        value = values.get(column.key)
        if value is None:
            continue
        query = sa.select(Router.name).where(column == value)
        if own_id is not None:
            query = query.where(Router.id != own_id)
        taken = (await conn.execute(query)).scalar()
        if taken is not None:
            raise Conflict(f"RadSec {label} {value!r} already belongs to NAS {taken!r}")


def _secret(name: str, secret: object) -> str:
    if not isinstance(secret, str) or not secret:
        raise InvalidInput(f"NAS {name!r}: the secret must not be empty")
    return secret


async def update_nas(  # noqa: C901  (one plain branch per optional field of the update)
    engine: AsyncEngine,
    name: str,
    *,
    new_name: str | Unset = UNSET,
    address: str | Unset = UNSET,
    secret: str | Unset = UNSET,
    vendor: str | Unset = UNSET,
    require_message_authenticator: bool | Unset = UNSET,
    coa_port: int | Unset = UNSET,
    description: str | Unset | None = UNSET,
    radsec: bool | Unset = UNSET,
    radsec_fingerprint: str | Unset | None = UNSET,
    radsec_subject: str | Unset | None = UNSET,
) -> NasRecord:
    """Change the fields given and rename to ``new_name``; the checks of :func:`add_nas`
    (Conflict when the new name or address belongs to another NAS). Nothing is written on error."""
    values: dict[str, object] = {}
    if isinstance(new_name, str):
        values["name"] = validate.name(new_name, "NAS name")
    if isinstance(address, str):
        values["nas_address"] = validate.nas_client_address(address)
    if given(secret):
        values["secret"] = _secret(name, secret)
    if isinstance(vendor, str):
        values["vendor"] = validate.vendor(vendor)
    if isinstance(require_message_authenticator, bool):
        values["require_message_authenticator"] = require_message_authenticator
    if given(coa_port):
        values["coa_port"] = validate.port(coa_port, "CoA port")
    if given(description):
        values["description"] = validate.blank_to_none(description)
    target = str(values.get("name", name))
    try:
        async with begin_write(engine) as conn:
            current = await _fetch(conn, name)
            if given(radsec) or given(radsec_fingerprint) or given(radsec_subject):
                tls = _radsec_values(
                    name,
                    radsec if isinstance(radsec, bool) else current.radsec,
                    current.radsec_fingerprint if not given(radsec_fingerprint) else radsec_fingerprint,
                    current.radsec_subject if not given(radsec_subject) else radsec_subject,
                )
                await _certificate_free(conn, current.id, tls)
                values.update(tls)
            clash = []
            if target != name:
                clash.append(Router.name == target)
            if "nas_address" in values and values["nas_address"] != current.address:
                clash.append(Router.nas_address == values["nas_address"])
            if clash:
                taken = (
                    await conn.execute(
                        sa.select(Router.name, Router.nas_address).where(
                            Router.id != current.id, sa.or_(*clash)
                        )
                    )
                ).first()
                if taken is not None:
                    if taken.name == target:
                        raise Conflict(f"NAS {target!r} already exists")
                    raise Conflict(f"address {values['nas_address']} already belongs to NAS {taken.name!r}")
            if values:
                await conn.execute(
                    sa.update(Router).where(Router.id == current.id).values(**values, updated_at=utcnow())
                )
                await record_change(conn, TOPIC_NAS, name)
                if target != name:
                    await record_change(conn, TOPIC_NAS, target)
            return await _fetch(conn, target)
    except IntegrityError:
        raise Conflict(f"NAS {target!r} or its address is already taken") from None


async def list_nas(engine: AsyncEngine) -> list[NasRecord]:
    """Every NAS, by name."""
    async with engine.connect() as conn:
        return [NasRecord.from_row(row) for row in (await conn.execute(NAS_SELECT)).mappings()]


async def page_nas(
    engine: AsyncEngine, *, limit: int, offset: int = 0, vendor: str | None = None
) -> list[NasRecord]:
    """One page of NAS by name (LIMIT/OFFSET in SQL), optionally of one vendor."""
    query = NAS_SELECT if vendor is None else NAS_SELECT.where(Router.vendor == vendor)
    async with engine.connect() as conn:
        rows = await conn.execute(query.offset(offset).limit(limit))
        return [NasRecord.from_row(row) for row in rows.mappings()]


async def get_nas(engine: AsyncEngine, name: str) -> NasRecord:
    async with engine.connect() as conn:
        return await _fetch(conn, name)
