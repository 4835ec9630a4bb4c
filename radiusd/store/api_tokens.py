"""Bearer tokens of the admin API, stored as SHA-256 hashes (table ``api_tokens``).

A token is ``rad_`` + 43 URL-safe characters (32 random bytes); only ``sha256(token)`` is kept,
so a database dump grants nothing. :func:`create_token` returns the token once; nothing can
show it again. Tokens are never logged: log lines name the token by its ``name``. The CLI
(``radiusd api-token``) manages them here; the API checks requests against them through
radiusd.api.tokens.TokenCache.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from . import validate
from .engine import begin_write
from .errors import Conflict, NotFound
from .models import ApiToken, utcnow
from .records import _Record
from .tables import core_table

PREFIX = "rad_"
_T = core_table(ApiToken)


def new_token() -> str:
    """A fresh random token (32 bytes of entropy)."""
    return PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True, slots=True)
class TokenInfo(_Record):
    """A token as listed (never the token itself)."""

    id: int
    name: str
    read_only: bool
    created_at: dt.datetime
    last_used_at: dt.datetime | None


def _info(row: sa.RowMapping) -> TokenInfo:
    return TokenInfo(row["id"], row["name"], row["read_only"], row["created_at"], row["last_used_at"])


async def create_token(engine: AsyncEngine, name: str, *, read_only: bool = False) -> tuple[TokenInfo, str]:
    """Store a new token named ``name``; returns its record and the token (shown once)."""
    name = validate.name(name, "token name")
    token = new_token()
    try:
        async with begin_write(engine) as conn:
            if await conn.scalar(sa.select(_T.c.id).where(_T.c.name == name)) is not None:
                raise Conflict(f"API token {name!r} already exists")
            await conn.execute(
                sa.insert(_T).values(
                    name=name, token_hash=hash_token(token), read_only=read_only, created_at=utcnow()
                )
            )
            row = (await conn.execute(sa.select(_T).where(_T.c.name == name))).mappings().one()
    except IntegrityError:
        raise Conflict(f"API token {name!r} already exists") from None
    return _info(row), token


async def list_tokens(engine: AsyncEngine) -> list[TokenInfo]:
    async with engine.connect() as conn:
        return [_info(r) for r in (await conn.execute(sa.select(_T).order_by(_T.c.name))).mappings()]


async def revoke_token(engine: AsyncEngine, name: str) -> None:
    """Delete the token named ``name`` (NotFound if there is none)."""
    async with begin_write(engine) as conn:
        result = await conn.execute(sa.delete(_T).where(_T.c.name == name))
        if not result.rowcount:
            raise NotFound(f"no API token named {name!r}")


async def find_token(engine: AsyncEngine, digest: str) -> tuple[int, str, bool] | None:
    """``(id, name, read_only)`` of the token whose hash is ``digest``, or None."""
    async with engine.connect() as conn:
        row = (
            await conn.execute(sa.select(_T.c.id, _T.c.name, _T.c.read_only).where(_T.c.token_hash == digest))
        ).first()
    return None if row is None else (row.id, row.name, bool(row.read_only))


async def touch_token(engine: AsyncEngine, token_id: int) -> None:
    """Set ``last_used_at`` of token ``token_id`` to now."""
    async with begin_write(engine) as conn:
        await conn.execute(sa.update(_T).where(_T.c.id == token_id).values(last_used_at=utcnow()))
