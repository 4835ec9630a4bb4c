"""``/nas``: the NAS clients (routers) the daemon accepts RADIUS from, through radiusd.store.nas.

The shared secret is write-only: replies carry ``secret_set`` instead. ``/network/routers``
shows the same rows with their inventory fields (site, router-API access).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import FastAPI, Path, Query, Request, Response
from fastapi.params import Depends
from pydantic import BaseModel, Field

from radiusd.store import inventory, nas, validate
from radiusd.store.errors import InvalidInput, NotFound
from radiusd.store.records import NasRecord

from .crud import (
    DELETE_ERRORS,
    READ_ERRORS,
    WRITE_ERRORS,
    IdempotencyKey,
    Limit,
    Offset,
    body_config,
    changes,
    create_or_same,
    idempotent,
)
from .schemas import Name, Page, Port, Secret, Text

Vendor = Literal["generic", "mikrotik", "cisco", "ubiquiti"]
NasName = Annotated[Name, Path(description="The NAS's name.")]


class NasIn(BaseModel):
    model_config = body_config(name="core-1", address="192.0.2.1", secret="s3cret", vendor="mikrotik")

    name: Name
    address: Name
    secret: Secret
    vendor: Vendor = "generic"
    require_message_authenticator: bool = True
    coa_port: Port = 3799
    description: Text | None = None
    radsec: bool = Field(False, description="A RadSec (RADIUS over TLS) client; its UDP is refused.")
    radsec_fingerprint: Text | None = Field(None, description="SHA-256 of its TLS client certificate.")
    radsec_subject: Text | None = Field(None, description="Its certificate's subject, or CN/DNS name.")


class NasPatch(BaseModel):
    model_config = body_config(secret="n3w-s3cret", coa_port=1700)

    new_name: Name | None = Field(None, description="Rename the NAS.")
    address: Name | None = None
    secret: Secret | None = None
    vendor: Vendor | None = None
    require_message_authenticator: bool | None = None
    coa_port: Port | None = None
    description: Text | None = None
    radsec: bool | None = None
    radsec_fingerprint: Text | None = None
    radsec_subject: Text | None = None


class NasOut(BaseModel):
    id: int
    name: str
    address: str
    secret_set: bool = Field(True, description="A secret is stored (it is never shown).")
    vendor: str
    require_message_authenticator: bool
    coa_port: int
    description: str | None
    radsec: bool = False
    radsec_fingerprint: str | None = None
    radsec_subject: str | None = None
    site_id: int | None = None
    created_at: str | None
    updated_at: str | None


def _out(record: NasRecord) -> NasOut:
    return NasOut.model_validate({**record.to_json(), "secret_set": bool(record.secret)})


def _same(record: NasRecord, body: NasIn) -> bool:
    try:
        address = validate.nas_address(body.address)
        fingerprint = (
            validate.certificate_fingerprint(body.radsec_fingerprint) if body.radsec_fingerprint else None
        )
    except InvalidInput:
        return False
    return (record.address, record.secret, record.vendor, record.require_message_authenticator,
            record.coa_port, record.description, record.radsec, record.radsec_fingerprint,
            record.radsec_subject) == (
        address, body.secret, body.vendor, body.require_message_authenticator, body.coa_port,
        validate.blank_to_none(body.description), body.radsec, fingerprint,
        validate.blank_to_none(body.radsec_subject),
    )  # fmt: skip


def install(app: FastAPI, state: Any, read: list[Depends], write: list[Depends]) -> None:
    """Add the ``/nas`` routes."""
    engine = state.engine
    tags: list[str | Any] = ["nas"]

    @app.get("/nas", tags=tags, dependencies=read)
    async def list_nas(
        limit: Limit = 100, offset: Offset = 0, vendor: Annotated[Vendor | None, Query()] = None
    ) -> Page[NasOut]:
        """NAS clients by name (secrets never shown)."""
        items = await nas.page_nas(engine, limit=limit + 1, offset=offset, vendor=vendor)
        nxt = str(offset + limit) if len(items) > limit else None
        return Page[NasOut](
            items=[_out(n) for n in items[:limit]], limit=limit, offset=offset, next_cursor=nxt
        )

    @app.post("/nas", tags=tags, dependencies=write, status_code=201, responses=WRITE_ERRORS)
    async def add_nas(
        body: NasIn, request: Request, response: Response, idempotency_key: IdempotencyKey = None
    ) -> NasOut:
        """Register a NAS; the running daemon accepts its RADIUS within a second. Idempotent:
        200 for an identical existing NAS, 409 when the name or address is taken."""

        async def run() -> NasOut:

            async def existing() -> NasRecord | None:
                try:
                    return await nas.get_nas(engine, body.name.strip())
                except NotFound:
                    return None

            values = body.model_dump()
            create = lambda: nas.add_nas(  # noqa: E731
                engine, values.pop("name"), values.pop("address"), values.pop("secret"), **values
            )
            return _out(await create_or_same(create, existing, lambda r: _same(r, body), response))

        return await idempotent(request, response, idempotency_key, run)

    @app.get("/nas/{name}", tags=tags, dependencies=read, responses=READ_ERRORS)
    async def get_nas(name: NasName) -> NasOut:
        return _out(await nas.get_nas(engine, name))

    @app.patch("/nas/{name}", tags=tags, dependencies=write, responses=WRITE_ERRORS)
    async def patch_nas(name: NasName, body: NasPatch) -> NasOut:
        """Change the fields given (also the secret, never shown); the daemon applies it at once."""
        nullable = ("description", "radsec_fingerprint", "radsec_subject")
        fields = {k: v for k, v in changes(body).items() if v is not None or k in nullable}
        return _out(await nas.update_nas(engine, name, **fields))

    @app.delete("/nas/{name}", tags=tags, dependencies=write, status_code=204, responses=DELETE_ERRORS)
    async def delete_nas(name: NasName) -> Response:
        """Remove a NAS: 409 while pools, open sessions or links refer to it."""
        await inventory.remove_nas(engine, name)
        return Response(status_code=204)
