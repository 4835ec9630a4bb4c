"""Pydantic models of the admin API: request bodies (validated: 422 names the field) and replies."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Generic, Literal, TypeVar

from fastapi import Query
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

T = TypeVar("T")

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100


def _printable(value: str) -> str:
    # Control characters and lone surrogates would reach the database as errors (PostgreSQL
    # refuses NUL, UTF-8 refuses surrogates): refuse them here, as a 422 naming the field.
    if any(ord(c) < 32 or ord(c) == 127 or 0xD800 <= ord(c) <= 0xDFFF for c in value):
        raise ValueError("must not contain control characters")
    return value


Text = Annotated[str, StringConstraints(max_length=1024), AfterValidator(_printable)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=128), AfterValidator(_printable)]
Secret = Annotated[str, StringConstraints(min_length=1, max_length=255), AfterValidator(_printable)]
Port = Annotated[int, Field(ge=1, le=65535)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Page(BaseModel, Generic[T]):
    """One page of a list: ``next_cursor`` (when set) fetches the next page."""

    items: list[T]
    limit: int
    offset: int = 0
    next_cursor: str | None = None


class Problem(BaseModel):
    """An error reply (404, 409, 422 from the store, 501, 503)."""

    detail: str


# -- ipam ----------------------------------------------------------------------------------------


class RangeOut(BaseModel):
    kind: str
    range: str
    total: int
    allocated: int
    reserved: int
    free: int
    percent_used: float
    warning: bool = False


class FamilyOut(BaseModel):
    """Utilisation of one family of a pool (IPv4 addresses, IPv6 WAN or delegated prefixes)."""

    total: int
    allocated: int
    reserved: int
    free: int
    held: int
    used: int
    percent_used: float
    warning: bool


class PoolOut(BaseModel):
    """A pool: per-family figures in ``ipv4``, ``ipv6_wan``, ``ipv6_pd`` (null when absent);
    ``total``..``held`` add up every family, ``percent_used``/``warning`` are the fullest one's."""

    name: str
    nas: str | None
    fallback: str | None
    warning_pct: float | None
    ranges: list[RangeOut]
    total: int
    allocated: int
    reserved: int
    free: int
    held: int
    percent_used: float
    warning: bool
    warn_at: float | None = None
    ipv4: FamilyOut | None = None
    ipv6_wan: FamilyOut | None = None
    ipv6_pd: FamilyOut | None = None


class LeaseOut(BaseModel):
    address: str
    pool: str
    kind: str
    state: str
    username: str | None
    nas: str | None
    session: str | None
    expires: dt.datetime | None
    updated: dt.datetime | None = None


# -- sessions and subscribers --------------------------------------------------------------------


class SessionOut(BaseModel):
    id: int
    acct_unique_id: str
    acct_session_id: str
    username: str
    nas: str
    nas_address: str
    nas_port: int | None
    nas_port_id: str | None
    address: str | None
    framed_ipv6_prefix: str | None
    delegated_ipv6_prefix: str | None
    calling_station_id: str | None
    started: dt.datetime
    updated: dt.datetime
    session_time: int
    input_octets: int
    output_octets: int


#: seconds a disconnect or CoA request waits for the NAS by default, and at most (?wait=)
DEFAULT_DISCONNECT_WAIT = 10.0
MAX_DISCONNECT_WAIT = 30.0


class DisconnectPending(BaseModel):
    """A disconnect or CoA still waiting for its NAS: poll ``result_url`` (202 until it is done)."""

    job: str
    session: str
    status: Literal["pending"]
    result_url: str


class DisconnectOut(BaseModel):
    """What the NAS answered to the Disconnect- or CoA-Request (``ok``: ACK, or the NAS had no
    such session and our record is now closed)."""

    session: int | None
    acct_session_id: str | None
    username: str
    nas: str | None
    action: str
    outcome: str | None
    error_cause: int | None
    error_cause_name: str | None
    attempts: int | None
    detail: str | None
    session_closed: bool
    ok: bool
    fallback: str | None = Field(
        None, description="Why a plan change became a disconnect (e.g. the NAS refused the CoA)."
    )


def _nas_wait(result_route: str) -> Any:
    return Query(
        ge=0,
        le=MAX_DISCONNECT_WAIT,
        description="Seconds to wait for the NAS's answer; after that (0: at once) the reply is 202 "
        f"with a job whose result GET {result_route} gives.",
    )


#: ``?wait=`` of the routes that act on a session through its NAS, as jobs
DisconnectWait = Annotated[float, _nas_wait("/radius/disconnects/{job}")]
CoaWait = Annotated[float, _nas_wait("/radius/coa/{job}")]

_PENDING: dict[int | str, dict[str, Any]] = {
    202: {"model": DisconnectPending, "description": "Still waiting for the NAS"},
    502: {"model": DisconnectOut, "description": "The NAS refused (NAK) or did not answer"},
}
#: the OpenAPI responses of a route that starts a disconnect or CoA job
SESSION_ACTION_RESPONSES: dict[int | str, dict[str, Any]] = _PENDING | {
    202: {"model": DisconnectPending, "description": "Still waiting for the NAS after ?wait"},
    404: {"model": Problem, "description": "No such session"},
    409: {"model": Problem, "description": "Closed session, or its NAS is not configured"},
}
#: ... and of the route that gives such a job's result
JOB_RESULT_RESPONSES: dict[int | str, dict[str, Any]] = _PENDING | {
    404: {"model": Problem, "description": "No such job (or forgotten: the last 1000 are kept)"},
    409: {"model": Problem, "description": "The session's NAS is not configured"},
}


class SubscriberOut(BaseModel):
    id: int
    username: str
    status: str
    password_store: str = Field(
        description="How the password is kept: cleartext (PAP, CHAP, MS-CHAP), nt (PAP, MS-CHAP) "
        "or hashed (PAP only); never the password itself."
    )
    plan: str | None
    pool: str | None
    static_ip: str | None
    simultaneous_use: int | None
    expires_at: dt.datetime | None
    created_at: dt.datetime | None
    updated_at: dt.datetime | None
