"""Accounting events: what an Accounting-Request means, typed (RFC 2866, RFC 2869).

:class:`AcctEvent` is read by the session state machine (``radiusd.policy.accounting_state``)
and by the lease hooks of IPAM; :class:`OtherEvent` is a request whose Acct-Status-Type is not
a session event, as stored in ``radius_accounting_events``. :func:`unique_session_id` is the
one rule for Acct-Unique-Session-Id, shared by the accounting parser and the importer.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from enum import IntEnum

from .sessions import record

NAS_REBOOT = "NAS-Reboot"
LOST_SERVICE = "Lost-Service"


class StatusType(IntEnum):
    """Acct-Status-Type values handled here (RFC 2866 §5.1)."""

    START = 1
    STOP = 2
    INTERIM_UPDATE = 3
    ACCOUNTING_ON = 7
    ACCOUNTING_OFF = 8


STATUS_NAME = {
    StatusType.START: "Start",
    StatusType.STOP: "Stop",
    StatusType.INTERIM_UPDATE: "Interim-Update",
    StatusType.ACCOUNTING_ON: "Accounting-On",
    StatusType.ACCOUNTING_OFF: "Accounting-Off",
}


@record
class AcctEvent:
    """One Accounting-Request, typed: what the state machine and the lease hooks read."""

    status: StatusType
    nas_address: str
    router_id: int | None
    event_time: dt.datetime
    unique_id: str = ""
    acct_session_id: str = ""
    username: str = ""
    nas_port: int | None = None
    nas_port_id: str | None = None
    nas_port_type: str | None = None
    framed_ip: str | None = None
    framed_ipv6_prefix: str | None = None
    delegated_ipv6_prefix: str | None = None
    calling_station_id: str | None = None
    called_station_id: str | None = None
    class_: str | None = None
    session_time: int = 0
    input_octets: int = 0
    output_octets: int = 0
    input_packets: int = 0
    output_packets: int = 0
    terminate_cause: str | None = None
    interim_interval: int | None = None
    #: made by the stale-session sweep, not received: its lease ends only if no node renewed it
    swept: bool = False

    @property
    def status_name(self) -> str:
        return STATUS_NAME[self.status]


def unique_session_id(
    nas: str, acct_session_id: bytes, username: bytes, nas_port: int | None, classes: Sequence[bytes] = ()
) -> str:
    """Acct-Unique-Session-Id: MD5 hex of length-prefixed NAS, session id, user, port (+ Class)."""
    port = b"" if nas_port is None else b"%d" % nas_port
    host = nas.encode()
    data = b"%d:%s%d:%s%d:%s%d:%s" % (
        len(host), host, len(acct_session_id), acct_session_id, len(username), username, len(port), port
    )  # fmt: skip
    if classes:
        data += b"".join([b"%d:%s" % (len(c), c) for c in classes])
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


@record
class OtherEvent:
    """An Accounting-Request with an Acct-Status-Type that is not a session event, as recorded
    in ``radius_accounting_events`` before it is acknowledged."""

    digest: str
    event_time: dt.datetime
    nas_address: str
    router_id: int | None
    status_type: int
    status_name: str
    username: str | None
    acct_session_id: str | None
    attributes: str
