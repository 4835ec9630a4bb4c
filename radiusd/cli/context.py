"""Shared state of one CLI invocation: settings, database URL, and running store calls.

The config file is found as the daemon finds it (:func:`radiusd.config.find_config`), so the
CLI and ``radiusd serve`` use one database. Store calls are async (SQLAlchemy AsyncEngine);
each command runs them through :func:`run_store`, which creates the engine, migrates a
database that has no schema yet, runs the coroutine with :func:`asyncio.run` and always
disposes of the engine. It creates no SQLite file that was not named by a database URL
(``--database``, ``RADIUSD_DATABASE_URL``, ``database_url``): a file derived from ``data_dir``
that does not exist yet would be a second, empty database beside the daemon's, so only
``radiusd db upgrade`` and ``radiusd serve`` create it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click

from radiusd.cli.output import CliError
from radiusd.config import CONFIG_ENV, CONFIG_SEARCH, Settings, find_config, load_settings, redacted_url

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

T = TypeVar("T")


@dataclass
class CliContext:
    """Global options (``--database``, ``--config``) and the settings built from them."""

    database: str | None = None
    config: Path | None = None
    _settings: Settings | None = field(default=None, repr=False)

    def config_path(self) -> Path | None:
        """The config file in use: ``--config``, ``$RADIUSD_CONFIG``, ./radiusd.toml, /etc/radiusd."""
        return find_config(self.config)

    def settings(self, **overrides: object) -> Settings:
        """Settings from the config file, RADIUSD_* env and ``--database`` (plus ``overrides``)."""
        if overrides:
            return load_settings(self.config_path(), database_url=self.database, **overrides)
        if self._settings is None:
            self._settings = load_settings(self.config_path(), database_url=self.database)
        return self._settings

    def database_url(self) -> str:
        return self.settings().effective_database_url()

    def database_named(self) -> bool:
        """True when a URL names the database; False when it is the SQLite file of data_dir."""
        return bool(self.settings().database_url)


def describe_database(url: str) -> str:
    """``url`` for messages: password masked, a relative SQLite path made absolute."""
    scheme, sep, path = url.partition(":///")
    if sep and scheme.startswith("sqlite") and path and not path.startswith((":", "file:", "/")):
        return f"{scheme}:///{(Path.cwd() / path).as_posix()}"
    return redacted_url(url)


def in_database(empty: str) -> str:
    """``no NAS clients`` -> ``no NAS clients in sqlite:////srv/radiusd/var/radiusd.sqlite3``."""
    return f"{empty} in {describe_database(get_context().database_url())}"


def get_context() -> CliContext:
    """The :class:`CliContext` of the running command (defaults outside a command)."""
    ctx = click.get_current_context(silent=True)
    found = ctx.find_object(CliContext) if ctx is not None else None
    return found or CliContext()


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


async def prepare_schema(engine: AsyncEngine) -> None:
    """Migrate a new (never migrated) database; refuse one at an older or unknown revision."""
    from radiusd.cli.schema import at_head

    if await at_head(engine):  # the usual case, without importing Alembic
        return
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


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL (None for other databases and in-memory ones)."""
    scheme, sep, path = url.partition(":///")
    if not sep or not scheme.startswith("sqlite") or not path or path.startswith((":", "file:")):
        return None
    return Path(path.split("?", 1)[0]).expanduser()


def refuse_new_database(url: str) -> None:
    """Fail when ``url`` is the SQLite file of data_dir and it does not exist (yet)."""
    cli_ctx = get_context()
    path = sqlite_file(url)
    if path is None or path.exists() or cli_ctx.database_named():
        return
    config = cli_ctx.config_path()
    if config is None:
        searched = (p.as_posix() if p.is_absolute() else f"./{p}" for p in CONFIG_SEARCH)
        looked = ", ".join(["--config", CONFIG_ENV, *searched])
        raise CliError(
            f"no database at {describe_database(url)} and no config file ({looked}): "
            "give --config FILE or --database URL (or RADIUSD_DATABASE_URL), "
            "or run 'radiusd db upgrade' to create it here"
        )
    raise CliError(
        f"no database at {describe_database(url)} (data_dir of {config}): "
        "run 'radiusd db upgrade' (or 'radiusd serve') to create it, or check data_dir in that file"
    )


def run_store(func: Callable[[AsyncEngine], Awaitable[T]], *, url: str | None = None) -> T:
    """Run ``func(engine)`` on the database at ``url`` (default: the configured one, which must
    exist unless a URL names it), migrated first when it has no schema; then dispose."""
    import asyncio

    from radiusd.store.engine import create_engine

    target = url
    if target is None:
        target = get_context().database_url()
        refuse_new_database(target)

    async def _main() -> T:
        engine = create_engine(target)
        try:
            await prepare_schema(engine)
            return await func(engine)
        finally:
            await engine.dispose()

    with reaching(target):
        return asyncio.run(_main())
