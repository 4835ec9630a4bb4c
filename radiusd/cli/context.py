"""Shared state of one CLI invocation: settings, database URL, and running store calls.

Store calls are async (SQLAlchemy AsyncEngine); each command runs them through
:func:`run_store`, which creates the engine, applies the migrations when the database is new,
runs the coroutine with :func:`asyncio.run` and always disposes of the engine.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click

from radiusd.cli.output import CliError
from radiusd.config import Settings, load_settings, redacted_url

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

T = TypeVar("T")


@dataclass
class CliContext:
    """Global options (``--database``, ``--config``) and the settings built from them."""

    database: str | None = None
    config: Path | None = None
    _settings: Settings | None = field(default=None, repr=False)

    def settings(self, **overrides: object) -> Settings:
        """Settings from the config file, RADIUSD_* env and ``--database`` (plus ``overrides``)."""
        if overrides:
            return load_settings(self.config, database_url=self.database, **overrides)
        if self._settings is None:
            self._settings = load_settings(self.config, database_url=self.database)
        return self._settings

    def database_url(self) -> str:
        return self.settings().effective_database_url()


def get_context() -> CliContext:
    """The :class:`CliContext` of the running command."""
    return click.get_current_context().find_object(CliContext) or CliContext()


@contextmanager
def reaching(url: str) -> Iterator[None]:
    """Turn "cannot connect" failures into a one-line error naming the (redacted) database URL."""
    try:
        yield
    except (ConnectionError, TimeoutError) as exc:
        raise CliError(f"cannot reach the database {redacted_url(url)}: {exc.strerror or exc}") from None
    except OSError as exc:
        if exc.errno is None:
            raise
        raise CliError(f"cannot open the database {redacted_url(url)}: {exc.strerror or exc}") from None


def upgrade(url: str) -> None:
    """Apply the store's migrations to ``url`` (idempotent)."""
    from radiusd.store.engine import upgrade_database

    with reaching(url):
        upgrade_database(url)


async def prepare_schema(engine: AsyncEngine) -> None:
    """Migrate a new (never migrated) database; refuse one at an older or unknown revision."""
    from radiusd.store.engine import ensure_schema, head_revision, schema_revision
    from radiusd.store.errors import StoreError

    current = await schema_revision(engine)
    if current is None:
        await ensure_schema(engine)
        return
    head = head_revision()
    if current != head:
        raise StoreError(
            f"the database schema is at revision {current}, this radiusd needs {head}: "
            "run 'radiusd db upgrade'"
        )


def run_store(func: Callable[[AsyncEngine], Awaitable[T]], *, url: str | None = None) -> T:
    """Run ``func(engine)`` on the configured database (migrated first when new), then dispose."""
    from radiusd.store.engine import create_engine

    target = url or get_context().database_url()

    async def _main() -> T:
        engine = create_engine(target)
        try:
            await prepare_schema(engine)
            return await func(engine)
        finally:
            await engine.dispose()

    with reaching(target):
        return asyncio.run(_main())
