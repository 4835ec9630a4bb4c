"""What the API checks a bearer token against (tokens are stored by radiusd.store.api_tokens).

:class:`TokenCache`: a verified hash is remembered for ``ttl`` seconds (a revoked token stops
working within that time) and ``last_used_at`` is written at most once per ``touch_every``
seconds per token, so a busy API client does not turn every request into a database write
beside the RADIUS writer's transactions.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from radiusd.store.api_tokens import find_token, hash_token, touch_token


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
            found = await find_token(self.engine, digest)
            principal = None if found is None else Principal(*found)
            if len(self._known) > 10_000:  # random guesses must not grow this without bound
                self._known.clear()
            self._known[digest] = (now + self.ttl, principal)
        if principal is not None and now - self._touched.get(principal.id, -1e18) >= self.touch_every:
            self._touched[principal.id] = now
            await touch_token(self.engine, principal.id)
        return principal
