"""What the API reads of the running daemon, and what the daemon hands it.

The daemon (radiusd.daemon) builds a :class:`DaemonState` at start and gives it to the API
server; the routes and the collectors see only the :class:`LiveState` protocol (tests pass
any object with these attributes). The API never holds the daemon itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncEngine

from radiusd.coa.stream import ChannelRoutes
from radiusd.config import Settings
from radiusd.eap.engine import EapService
from radiusd.policy.directory import Directory
from radiusd.policy.ipam_service import IpamService
from radiusd.policy.sessions import SessionTable
from radiusd.server.cluster import NodeMembership
from radiusd.server.nas import NasRegistry
from radiusd.server.stats import Stats
from radiusd.store.db_stats import TableStats
from radiusd.store.writer import Writer


def _no_eap() -> EapService | None:
    return None


class LiveState(Protocol):
    """What the API reads of the running daemon: the daemon hands it a :class:`DaemonState`
    (tests may pass any object with these attributes)."""

    settings: Settings
    engine: AsyncEngine
    stats: Stats
    writer: Writer
    ipam: IpamService
    sessions: SessionTable
    registry: NasRegistry
    directory: Directory


@dataclass(slots=True)
class DaemonState:
    """The parts of the running daemon the API may use, handed over by the daemon at start
    (radiusd.daemon): the API never sees the daemon itself, its lifecycle or its sockets."""

    settings: Settings
    engine: AsyncEngine
    stats: Stats
    writer: Writer
    ipam: IpamService
    sessions: SessionTable
    registry: NasRegistry
    directory: Directory
    #: this node in the cluster registry (radiusd.api.cluster reads its last heartbeat)
    membership: NodeMembership | None = None
    #: the history tables' figures (radiusd db stats), refreshed in place by the daemon
    storage: list[TableStats] = field(default_factory=list)
    #: the RadSec connections (radiusd.server.radsec), down which Disconnect/CoA reach a RadSec
    #: NAS (radiusd.api.coa); None when RadSec is off
    radsec: ChannelRoutes | None = None
    #: the EAP engine in force (None without ``[eap]``; SIGHUP may create it): the
    #: ``radiusd_eap_*`` metrics
    eap: Callable[[], EapService | None] = _no_eap
