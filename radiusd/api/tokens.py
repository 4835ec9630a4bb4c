"""Bearer tokens of the admin API, stored as SHA-256 hashes (table ``api_tokens``).

A token is ``rad_`` + 43 URL-safe characters (32 random bytes); only ``sha256(token)`` is kept,
so a database dump grants nothing. :func:`create_token` returns the token once; nothing can
show it again. Tokens are never logged: log lines name the token by its ``name``.

:class:`TokenCache` is what the API checks requests against: a verified hash is remembered for
``ttl`` seconds (a revoked token stops working within that time) and ``last_used_at`` is written
at most once per ``touch_every`` seconds per token, so a busy API client does not turn every
request into a database write beside the RADIUS writer's transactions.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import time
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from radiusd.store import validate
from radiusd.store.engine import begin_write
from radiusd.store.errors import Conflict, NotFound
from radiusd.store.models import ApiToken, utcnow
from radiusd.store.records import _Record
from radiusd.store.tables import core_table

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


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the token's id, name and whether it may write."""

    id: int
    name: str
    read_only: bool


class TokenCache:
    """Verified tokens by hash for ``ttl`` seconds; see the module docstring."""

    def __init__(self, engine: AsyncEngine, *, ttl: float = 5.0, touch_every: float = 60.0) -> None:
        self.engine = engine
        self.ttl = ttl
        self.touch_every = touch_every
        self._known: dict[str, tuple[float, Principal | None]] = {}
        self._touched: dict[int, float] = {}

    async def check(self, token: str) -> Principal | None:
        """The principal of ``token``, or None when it is unknown (or revoked)."""
        digest = hash_token(token)
        now = time.monotonic()
        hit = self._known.get(digest)
        if hit is not None and hit[0] > now:
            principal = hit[1]
        else:
            async with self.engine.connect() as conn:
                row = (
                    await conn.execute(
                        sa.select(_T.c.id, _T.c.name, _T.c.read_only).where(_T.c.token_hash == digest)
                    )
                ).first()
            principal = None if row is None else Principal(row.id, row.name, bool(row.read_only))
            if len(self._known) > 10_000:  # random guesses must not grow this without bound
                self._known.clear()
            self._known[digest] = (now + self.ttl, principal)
        if principal is not None and now - self._touched.get(principal.id, -1e18) >= self.touch_every:
            self._touched[principal.id] = now
            async with begin_write(self.engine) as conn:
                await conn.execute(sa.update(_T).where(_T.c.id == principal.id).values(last_used_at=utcnow()))
        return principal
