"""Replies remembered per (API token, ``Idempotency-Key``) for a day, so that a retried POST
is answered from here instead of being carried out twice."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from .engine import begin_write
from .models import ApiIdempotencyKey, utcnow

KEPT = dt.timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Remembered:
    request_hash: str
    status: int
    response: str


async def recall(engine: AsyncEngine, token_id: int, key: str) -> Remembered | None:
    """The reply remembered for ``key`` of this token (younger than :data:`KEPT`), or None."""
    query = sa.select(
        ApiIdempotencyKey.request_hash, ApiIdempotencyKey.status, ApiIdempotencyKey.response
    ).where(
        ApiIdempotencyKey.token_id == token_id,
        ApiIdempotencyKey.key == key,
        ApiIdempotencyKey.created_at >= utcnow() - KEPT,
    )
    async with engine.connect() as conn:
        row = (await conn.execute(query)).first()
    return None if row is None else Remembered(row.request_hash, row.status, row.response)


async def remember(
    engine: AsyncEngine, token_id: int, key: str, request_hash: str, status: int, response: str
) -> None:
    """Keep the reply (the first one wins when two retries race); prune expired keys."""
    now = utcnow()
    try:
        async with begin_write(engine) as conn:
            await conn.execute(sa.delete(ApiIdempotencyKey).where(ApiIdempotencyKey.created_at < now - KEPT))
            await conn.execute(
                sa.insert(ApiIdempotencyKey).values(
                    token_id=token_id, key=key, request_hash=request_hash, status=status,
                    response=response, created_at=now,
                )
            )  # fmt: skip
    except IntegrityError:
        pass  # a concurrent retry stored its reply first; both replies describe the same object
