"""SQLAlchemy 2 typed models: the one metadata that Alembic migrations and the writer share.

Rules the database enforces itself (not only code): unique names and addresses, one session per
Acct-Unique-Session-Id, one row per address ever leased, allowed values of enum-like columns
(CHECK constraints rather than native enum types, so adding a value is a one-line migration on
both SQLite and PostgreSQL).

History tables (sessions, accounting, assignments, leases) refer to routers and subscribers by
id *without* a foreign key: removing a NAS or a subscriber must not delete or block the record of
who held which address when (abuse reports and lawful requests need it); they also keep the
username / NAS address as text.

Times are timezone-aware UTC (:class:`UTCDateTime`), counters are 64-bit.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

VENDORS = ("generic", "mikrotik", "cisco", "ubiquiti", "juniper", "huawei", "nokia", "accel-ppp", "cambium")
SUBSCRIBER_STATUSES = ("active", "suspended", "disabled")
POOL_KINDS = ("ipv4", "ipv6-wan", "ipv6-pd")
LEASE_STATES = ("offered", "leased", "released", "reserved")
IPV6_LEASE_KINDS = ("wan", "pd")
SESSION_STATUSES = ("open", "closed")
#: radius_sessions.closed_updated_at, generated from status and updated_at
CLOSED_UPDATED_AT_SQL = "CASE WHEN status = 'closed' THEN updated_at END"
#: the conditions of radius_sessions' partial indexes (migration 0021)
OPEN_SQL = sa.text("status = 'open'")
CLOSED_SQL = sa.text("closed_updated_at IS NOT NULL")
SITE_KINDS = ("pop", "tower", "datacenter", "customer", "other")
DEVICE_KINDS = ("switch", "router", "olt", "onu", "access-point", "cpe", "ups", "server", "other")
SNMP_VERSIONS = ("v1", "v2c", "v3")
SNMP_AUTH_PROTOCOLS = ("md5", "sha", "sha224", "sha256", "sha384", "sha512")
SNMP_PRIV_PROTOCOLS = ("des", "aes", "aes192", "aes256")
LINK_MEDIA = ("copper", "fibre", "wireless")
COA_KINDS = ("disconnect", "coa")
COA_OUTCOMES = ("pending", "ack", "nak", "timeout", "error")
OPERATOR_ROLES = ("readonly", "helpdesk", "admin")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(sa.TypeDecorator[dt.datetime]):
    """Timezone-aware UTC in and out on every backend.

    SQLite has no time zone type and hands back naive values; this stores UTC and returns aware
    datetimes, and refuses naive input (a naive local time silently stored as UTC is a billing bug).
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        assert isinstance(value, dt.datetime)
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


# 64-bit keys for the tables that grow without bound; SQLite only auto-increments INTEGER PRIMARY KEY.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dt.datetime: UTCDateTime(),
        dict[str, Any]: sa.JSON(),
        list[Any]: sa.JSON(),
    }


class TimestampMixin:
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Router(TimestampMixin, Base):
    """A NAS (the routers table is the NAS list), placed at a site, with its wireless sectors."""

    __tablename__ = "routers"
    __table_args__ = (
        sa.CheckConstraint(_in("vendor", VENDORS), name="vendor"),
        sa.Index(None, "radsec_fingerprint", unique=True),  # a certificate names one NAS
        sa.Index(None, "radsec_subject", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(128), unique=True)
    nas_address: Mapped[str] = mapped_column(sa.String(64), unique=True)  # normalised IP text
    secret: Mapped[str] = mapped_column(sa.Text)
    vendor: Mapped[str] = mapped_column(sa.String(16), default="generic")
    require_message_authenticator: Mapped[bool] = mapped_column(default=True)
    coa_port: Mapped[int] = mapped_column(default=3799)
    management_address: Mapped[str | None] = mapped_column(sa.String(255))
    api_username: Mapped[str | None] = mapped_column(sa.String(255))
    api_password: Mapped[str | None] = mapped_column(sa.Text)
    api_port: Mapped[int | None]
    api_tls: Mapped[bool] = mapped_column(default=False)  # API-SSL in use (with API credentials)
    #: how the router's API-SSL certificate is checked: against this CA file, and/or pinned to
    #: this SHA-256 of its DER form (64 hex digits); neither: the system's CAs
    api_ca_file: Mapped[str | None] = mapped_column(sa.Text)
    api_fingerprint: Mapped[str | None] = mapped_column(sa.String(64))
    #: the plain API (password in clear), chosen explicitly; warned at every use
    api_insecure_plain: Mapped[bool] = mapped_column(default=False)
    #: a RadSec client (RFC 6614): identified by its TLS client certificate, its UDP refused
    radsec: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    radsec_fingerprint: Mapped[str | None] = mapped_column(sa.String(64))  # SHA-256 of the DER cert
    radsec_subject: Mapped[str | None] = mapped_column(sa.String(512))  # RFC 4514 subject or a name
    description: Mapped[str | None] = mapped_column(sa.Text)
    site_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("network_sites.id", ondelete="RESTRICT"), index=True
    )


class NetworkSite(TimestampMixin, Base):
    """A place where equipment stands: a POP, a tower, a data centre, a customer's premises."""

    __tablename__ = "network_sites"
    __table_args__ = (
        sa.CheckConstraint(_in("kind", SITE_KINDS), name="kind"),
        sa.CheckConstraint("latitude IS NULL OR latitude BETWEEN -90 AND 90", name="latitude"),
        sa.CheckConstraint("longitude IS NULL OR longitude BETWEEN -180 AND 180", name="longitude"),
        sa.CheckConstraint("(latitude IS NULL) = (longitude IS NULL)", name="coordinates"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(128), unique=True)
    kind: Mapped[str] = mapped_column(sa.String(16), default="pop")
    address: Mapped[str | None] = mapped_column(sa.Text)  # postal address
    latitude: Mapped[float | None] = mapped_column(sa.Float)
    longitude: Mapped[float | None] = mapped_column(sa.Float)
    description: Mapped[str | None] = mapped_column(sa.Text)


class RouterSector(TimestampMixin, Base):
    """A wireless sector of a router; removed with its router (it is part of it)."""

    __tablename__ = "router_sectors"
    __table_args__ = (
        sa.UniqueConstraint("router_id", "name"),
        sa.CheckConstraint("azimuth_deg IS NULL OR azimuth_deg BETWEEN 0 AND 359", name="azimuth"),
        sa.CheckConstraint("beamwidth_deg IS NULL OR beamwidth_deg BETWEEN 1 AND 360", name="beamwidth"),
        sa.CheckConstraint("frequency_mhz IS NULL OR frequency_mhz > 0", name="frequency"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    router_id: Mapped[int] = mapped_column(sa.ForeignKey("routers.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(sa.String(128))
    frequency_mhz: Mapped[int | None]
    azimuth_deg: Mapped[int | None]
    beamwidth_deg: Mapped[int | None]
    ssid: Mapped[str | None] = mapped_column(sa.String(32))
    description: Mapped[str | None] = mapped_column(sa.Text)


class ManagedDevice(TimestampMixin, Base):
    """Any SNMP-manageable device that is not a NAS (switch, OLT, access point, UPS, ...).

    snmp_community and the SNMPv3 keys are secrets: never printed, never in JSON.
    """

    __tablename__ = "managed_devices"
    __table_args__ = (
        sa.CheckConstraint(_in("kind", DEVICE_KINDS), name="kind"),
        sa.CheckConstraint(_in("snmp_version", SNMP_VERSIONS), name="snmp_version"),
        sa.CheckConstraint(
            "snmp_auth_protocol IS NULL OR " + _in("snmp_auth_protocol", SNMP_AUTH_PROTOCOLS),
            name="snmp_auth_protocol",
        ),
        sa.CheckConstraint(
            "snmp_priv_protocol IS NULL OR " + _in("snmp_priv_protocol", SNMP_PRIV_PROTOCOLS),
            name="snmp_priv_protocol",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(128), unique=True)
    site_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("network_sites.id", ondelete="RESTRICT"), index=True
    )
    address: Mapped[str | None] = mapped_column(sa.String(64))  # management IP, normalised text
    kind: Mapped[str] = mapped_column(sa.String(16), default="other")
    snmp_version: Mapped[str] = mapped_column(sa.String(8), default="v2c")
    snmp_port: Mapped[int] = mapped_column(default=161)
    snmp_community: Mapped[str | None] = mapped_column(sa.Text)
    snmp_user: Mapped[str | None] = mapped_column(sa.String(255))
    snmp_auth_protocol: Mapped[str | None] = mapped_column(sa.String(8))
    snmp_auth_key: Mapped[str | None] = mapped_column(sa.Text)
    snmp_priv_protocol: Mapped[str | None] = mapped_column(sa.String(8))
    snmp_priv_key: Mapped[str | None] = mapped_column(sa.Text)
    description: Mapped[str | None] = mapped_column(sa.Text)
    # LLDP discovery (radiusd.store.discovery): who made the row, when, the chassis ID it matches
    source: Mapped[str] = mapped_column(sa.String(16), default="manual", server_default="manual")
    discovered_at: Mapped[dt.datetime | None] = mapped_column()
    chassis_id: Mapped[str | None] = mapped_column(sa.String(255), index=True)


class DeviceConnection(TimestampMixin, Base):
    """A cable, fibre or radio link; each end is exactly one router or one managed device.

    Four nullable foreign keys (an end's device or router, RESTRICT) rather than a polymorphic
    (kind, id) pair, so the database itself guarantees that both ends exist.
    """

    __tablename__ = "device_connections"
    __table_args__ = (
        sa.CheckConstraint(_in("medium", LINK_MEDIA), name="medium"),
        sa.CheckConstraint("(from_device_id IS NULL) <> (from_router_id IS NULL)", name="from_one_end"),
        sa.CheckConstraint("(to_device_id IS NULL) <> (to_router_id IS NULL)", name="to_one_end"),
        sa.CheckConstraint("capacity_mbps IS NULL OR capacity_mbps > 0", name="capacity"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    from_device_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("managed_devices.id", ondelete="RESTRICT"), index=True
    )
    from_router_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("routers.id", ondelete="RESTRICT"), index=True
    )
    from_port: Mapped[str | None] = mapped_column(sa.String(64))
    to_device_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("managed_devices.id", ondelete="RESTRICT"), index=True
    )
    to_router_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("routers.id", ondelete="RESTRICT"), index=True
    )
    to_port: Mapped[str | None] = mapped_column(sa.String(64))
    medium: Mapped[str] = mapped_column(sa.String(16))
    capacity_mbps: Mapped[int | None] = mapped_column(sa.BigInteger)
    description: Mapped[str | None] = mapped_column(sa.Text)
    source: Mapped[str] = mapped_column(sa.String(16), default="manual", server_default="manual")
    discovered_at: Mapped[dt.datetime | None] = mapped_column()


class Plan(TimestampMixin, Base):
    """A service plan: the pool and the reply attributes a subscriber gets."""

    __tablename__ = "plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(128), unique=True)
    description: Mapped[str | None] = mapped_column(sa.Text)
    pool_name: Mapped[str | None] = mapped_column(sa.String(128))
    walled_garden_pool: Mapped[str | None] = mapped_column(sa.String(128))
    simultaneous_use: Mapped[int | None]
    session_timeout: Mapped[int | None]
    interim_interval: Mapped[int | None]
    rate_limit: Mapped[str | None] = mapped_column(sa.String(255))  # Mikrotik-Rate-Limit style
    reply_attributes: Mapped[list[Any]] = mapped_column(default=list)  # [[attribute-name, value], ...]


class Subscriber(TimestampMixin, Base):
    """A subscriber's service (the seed's CustomerService): who may log in, how, and what they get."""

    __tablename__ = "subscribers"
    __table_args__ = (sa.CheckConstraint(_in("status", SUBSCRIBER_STATUSES), name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(253), unique=True)
    credential: Mapped[str] = mapped_column(sa.Text)  # opaque: radiusd.policy.credentials format
    status: Mapped[str] = mapped_column(sa.String(16), default="active")
    plan_id: Mapped[int | None] = mapped_column(sa.ForeignKey("plans.id", ondelete="RESTRICT"), index=True)
    pool_name: Mapped[str | None] = mapped_column(sa.String(128))
    static_ipv4: Mapped[str | None] = mapped_column(sa.String(15), unique=True)
    static_ipv6_prefix: Mapped[str | None] = mapped_column(sa.String(64))
    delegated_ipv6_prefix: Mapped[str | None] = mapped_column(sa.String(64))
    simultaneous_use: Mapped[int | None]
    reply_attributes: Mapped[list[Any]] = mapped_column(default=list)
    expires_at: Mapped[dt.datetime | None]


class ChangeLog(Base):
    """Append-only feed of writes the running daemon polls to refresh its in-memory copies.

    key NULL means "reload the whole topic" (a bulk import appends one such row, not one per row).
    """

    __tablename__ = "change_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    topic: Mapped[str] = mapped_column(sa.String(32))
    key: Mapped[str | None] = mapped_column(sa.String(255))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class IPPool(TimestampMixin, Base):
    """A named pool of IPv4 ranges, IPv6 /64 WAN prefixes or delegated prefixes."""

    __tablename__ = "ip_pools"
    __table_args__ = (
        sa.CheckConstraint(_in("kind", POOL_KINDS), name="kind"),
        sa.CheckConstraint("kind = 'ipv4' OR prefix_length IS NOT NULL", name="ipv6_prefix_length"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(128), unique=True)
    kind: Mapped[str] = mapped_column(sa.String(16))
    prefix_length: Mapped[int | None]  # length handed out, IPv6 kinds only
    router_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("routers.id", ondelete="RESTRICT"), index=True
    )
    site_id: Mapped[int | None] = mapped_column(index=True)
    fallback_pool: Mapped[str | None] = mapped_column(sa.String(128))
    utilisation_warning_pct: Mapped[float | None]


class IPv4Network(Base):
    """One IPv4 range of a pool; network, broadcast, gateway and `excluded` are never handed out."""

    __tablename__ = "ipv4_networks"

    id: Mapped[int] = mapped_column(primary_key=True)
    pool_id: Mapped[int] = mapped_column(sa.ForeignKey("ip_pools.id", ondelete="CASCADE"), index=True)
    cidr: Mapped[str] = mapped_column(sa.String(18), unique=True)
    gateway: Mapped[str | None] = mapped_column(sa.String(15))
    excluded: Mapped[list[Any]] = mapped_column(default=list)  # addresses or ranges as text


class IPv6Network(Base):
    """One IPv6 prefix of a pool, cut into prefixes of `assign_length`."""

    __tablename__ = "ipv6_networks"

    id: Mapped[int] = mapped_column(primary_key=True)
    pool_id: Mapped[int] = mapped_column(sa.ForeignKey("ip_pools.id", ondelete="CASCADE"), index=True)
    prefix: Mapped[str] = mapped_column(sa.String(64), unique=True)
    assign_length: Mapped[int]


class _LeaseColumns:
    pool_id: Mapped[int] = mapped_column(sa.ForeignKey("ip_pools.id", ondelete="CASCADE"), index=True)
    state: Mapped[str] = mapped_column(sa.String(16))
    owner: Mapped[str | None] = mapped_column(sa.String(253), index=True)  # username
    router_id: Mapped[int | None]
    session_key: Mapped[str | None] = mapped_column(sa.String(255))  # Acct-Unique-Session-Id
    expires_at: Mapped[dt.datetime | None]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class IPv4IP(_LeaseColumns, Base):
    """One row per IPv4 address ever touched; the unique address is what forbids a double lease."""

    __tablename__ = "ipv4_ips"
    __table_args__ = (sa.CheckConstraint(_in("state", LEASE_STATES), name="state"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    address: Mapped[str] = mapped_column(sa.String(15), unique=True)


class IPv6IP(_LeaseColumns, Base):
    """One row per IPv6 prefix ever touched (WAN /64 or delegated prefix)."""

    __tablename__ = "ipv6_ips"
    __table_args__ = (
        sa.CheckConstraint(_in("state", LEASE_STATES), name="state"),
        sa.CheckConstraint(_in("kind", IPV6_LEASE_KINDS), name="kind"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    prefix: Mapped[str] = mapped_column(sa.String(64), unique=True)
    kind: Mapped[str] = mapped_column(sa.String(8))


class ServiceIPAssignment(Base):
    """History: who held which address or prefix, and when (answers "who had X at time T").

    On PostgreSQL partitioned by month of ``released_at`` (radiusd.store.partitions): open
    assignments stay in the default partition; no primary key there (its key may be NULL)."""

    __tablename__ = "service_ip_assignments"
    __table_args__ = (
        sa.CheckConstraint("family IN (4, 6)", name="family"),
        sa.Index(None, "address", "assigned_at"),
        sa.Index(None, "released_at"),  # retention; the partition key on PostgreSQL (migration 0016)
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(sa.String(253))  # not indexed: no query selects by it
    subscriber_id: Mapped[int | None]
    address: Mapped[str] = mapped_column(sa.String(64))  # IPv4 address or IPv6 prefix
    family: Mapped[int] = mapped_column(sa.SmallInteger)
    pool_name: Mapped[str | None] = mapped_column(sa.String(128))
    router_id: Mapped[int | None]
    session_key: Mapped[str | None] = mapped_column(sa.String(255))
    assigned_at: Mapped[dt.datetime]
    released_at: Mapped[dt.datetime | None]


class RadiusSession(Base):
    """The live state of one accounting session, keyed by Acct-Unique-Session-Id."""

    __tablename__ = "radius_sessions"
    __table_args__ = (
        sa.CheckConstraint(_in("status", SESSION_STATUSES), name="status"),
        # partial (migration 0021): a Stop's update (never HOT: it changes status) adds entries
        # only to the indexes whose condition the closed row meets, a Start's insert only to
        # those an open row meets. Open sessions only: session list --online, a router's open
        # sessions, the web console's search by NAS port
        sa.Index(None, "router_id", postgresql_where=OPEN_SQL, sqlite_where=OPEN_SQL),
        sa.Index(None, "nas_port_id", postgresql_where=OPEN_SQL, sqlite_where=OPEN_SQL),
        sa.Index(None, "framed_ip", "started_at"),
        # daemon start loads the sessions closed within closed_ttl (radiusd.store.sessions_load),
        # retention deletes those closed before session_retention: closed ones only
        sa.Index(None, "closed_updated_at", postgresql_where=CLOSED_SQL, sqlite_where=CLOSED_SQL),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    acct_unique_id: Mapped[str] = mapped_column(sa.String(255), unique=True)
    acct_session_id: Mapped[str] = mapped_column(sa.String(255))
    username: Mapped[str] = mapped_column(sa.String(253), index=True)
    subscriber_id: Mapped[int | None]
    router_id: Mapped[int | None]
    nas_address: Mapped[str] = mapped_column(sa.String(64))
    nas_port: Mapped[int | None] = mapped_column(sa.BigInteger)  # 32-bit unsigned on the wire
    # indexed (open sessions) for the web console's search by NAS port (never changes once written)
    nas_port_id: Mapped[str | None] = mapped_column(sa.String(255))
    nas_port_type: Mapped[str | None] = mapped_column(sa.String(32))
    framed_ip: Mapped[str | None] = mapped_column(sa.String(15))
    framed_ipv6_prefix: Mapped[str | None] = mapped_column(sa.String(64))
    delegated_ipv6_prefix: Mapped[str | None] = mapped_column(sa.String(64))
    # indexed for the web console's search by MAC; it never changes once written, so updates
    # of an open session stay HOT on PostgreSQL
    calling_station_id: Mapped[str | None] = mapped_column(sa.String(255), index=True)
    called_station_id: Mapped[str | None] = mapped_column(sa.String(255))
    class_: Mapped[str | None] = mapped_column("class", sa.Text)
    started_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]
    stopped_at: Mapped[dt.datetime | None]
    session_time: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    input_octets: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    output_octets: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    input_packets: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    output_packets: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    # Usage counted before the NAS's counters last went down (counter reset): total = base + current.
    input_base: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    output_base: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    terminate_cause: Mapped[str | None] = mapped_column(sa.String(64))
    status: Mapped[str] = mapped_column(sa.String(8), default="open")
    interim_interval: Mapped[int | None]
    #: writes of this row so far: a node writes it only over the revision it computed from
    rev: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    # updated_at of a closed session, NULL while it is open; computed by the database, never
    # written. Indexed instead of updated_at, which changes with every accounting update: an
    # index on it (even partial) makes every update of an open session write an entry in all
    # six indexes; this column stays NULL, so those updates can be HOT (PostgreSQL, migration 0006).
    closed_updated_at: Mapped[dt.datetime | None] = mapped_column(
        sa.Computed(CLOSED_UPDATED_AT_SQL, persisted=True)
    )


class RadiusInterimUpdate(Base):
    """Each accounting update kept: a session's counter time series; a retransmission is one row."""

    __tablename__ = "radius_interim_updates"
    __table_args__ = (
        # keyed by session_id (one session per acct_unique_id), which it also indexes for the
        # readers (a session's series, the export's join): one index fewer, integer compares
        sa.UniqueConstraint(
            "session_id",
            "status_type",
            "session_time",
            "input_octets",
            "output_octets",
            name="uq_radius_interim_updates_retransmit",
        ),
        sa.Index(None, "event_time"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # declared for SQLite (which does not enforce it); PostgreSQL has no such key (migration 0020):
    # the writer takes the id from the session row it writes in the same statement, and a check
    # per row cost ~10 µs of every accounting request
    session_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("radius_sessions.id", ondelete="CASCADE"))
    acct_unique_id: Mapped[str] = mapped_column(sa.String(255))
    event_time: Mapped[dt.datetime]
    status_type: Mapped[str] = mapped_column(sa.String(16))
    session_time: Mapped[int] = mapped_column(sa.BigInteger)
    input_octets: Mapped[int] = mapped_column(sa.BigInteger)
    output_octets: Mapped[int] = mapped_column(sa.BigInteger)
    input_packets: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    output_packets: Mapped[int] = mapped_column(sa.BigInteger, default=0)


class RadiusInterimHourly(Base):
    """Hourly sums of a session's interim detail (``interim_downsample_after``): what stays of
    the time series once its day is older than that, so a year of usage graphs reads little.
    Deltas between consecutive updates, counted in the hour of the later one."""

    __tablename__ = "radius_interim_hourly"
    __table_args__ = (sa.UniqueConstraint("session_id", "hour"), sa.Index(None, "hour"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    session_id: Mapped[int] = mapped_column(sa.BigInteger)  # no foreign key: outlives the session row
    acct_unique_id: Mapped[str] = mapped_column(sa.String(255))
    hour: Mapped[dt.datetime]
    input_octets: Mapped[int] = mapped_column(sa.BigInteger)
    output_octets: Mapped[int] = mapped_column(sa.BigInteger)
    session_time: Mapped[int] = mapped_column(sa.BigInteger)
    samples: Mapped[int] = mapped_column(sa.Integer)


class RadiusInterimRollup(Base):
    """The UTC days already summed into ``radius_interim_hourly`` (each is summed once)."""

    __tablename__ = "radius_interim_rollups"

    day: Mapped[dt.date] = mapped_column(primary_key=True)
    rolled_at: Mapped[dt.datetime]
    rows: Mapped[int] = mapped_column(sa.BigInteger)


class RadiusAccounting(Base):
    """The closed record of a session, what billing and `export sessions` read.

    On PostgreSQL partitioned by month of ``started_at`` (radiusd.store.partitions), and unique
    by (acct_unique_id, started_at): a session's start never changes, so that is the same key.
    Every Stop inserts a row, so it has only the indexes a query reads (migration 0020): the
    upsert key and ``stopped_at`` (``export sessions``, retention on SQLite)."""

    __tablename__ = "radius_accounting"
    __table_args__ = (sa.Index(None, "stopped_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    acct_unique_id: Mapped[str] = mapped_column(sa.String(255), unique=True)
    acct_session_id: Mapped[str | None] = mapped_column(sa.String(255))
    username: Mapped[str] = mapped_column(sa.String(253))
    router_id: Mapped[int | None]
    nas_address: Mapped[str] = mapped_column(sa.String(64))
    framed_ip: Mapped[str | None] = mapped_column(sa.String(15))
    framed_ipv6_prefix: Mapped[str | None] = mapped_column(sa.String(64))
    delegated_ipv6_prefix: Mapped[str | None] = mapped_column(sa.String(64))
    calling_station_id: Mapped[str | None] = mapped_column(sa.String(255))
    started_at: Mapped[dt.datetime]
    stopped_at: Mapped[dt.datetime]
    session_time: Mapped[int] = mapped_column(sa.BigInteger)
    input_octets: Mapped[int] = mapped_column(sa.BigInteger)
    output_octets: Mapped[int] = mapped_column(sa.BigInteger)
    terminate_cause: Mapped[str | None] = mapped_column(sa.String(64))


class RadiusAccountingEvent(Base):
    """An Accounting-Request whose Acct-Status-Type is not a session event (Failed, the tunnel
    types of RFC 2867, vendor values): recorded so that it can be acknowledged (RFC 2866 §2: a
    request is answered once recorded; a NAS that gets no answer retransmits and may declare
    the server dead). ``digest`` makes a retransmission (a new Identifier and Acct-Delay-Time,
    RFC 5080 §2.2.1) one row."""

    __tablename__ = "radius_accounting_events"
    __table_args__ = (sa.Index(None, "event_time"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    digest: Mapped[str] = mapped_column(sa.String(32), unique=True)
    event_time: Mapped[dt.datetime]
    nas_address: Mapped[str] = mapped_column(sa.String(64))
    router_id: Mapped[int | None]
    status_type: Mapped[int] = mapped_column(sa.BigInteger)  # 32-bit unsigned on the wire
    status_name: Mapped[str] = mapped_column(sa.String(64))
    username: Mapped[str | None] = mapped_column(sa.String(253))
    acct_session_id: Mapped[str | None] = mapped_column(sa.String(255))
    #: every attribute as "Name = value" lines (the dictionary's names; unknown ones as Attr-N)
    attributes: Mapped[str] = mapped_column(sa.Text)


class ServiceUsageTracking(Base):
    """Usage per subscriber per UTC day, rolled up as accounting arrives (billing reads this)."""

    __tablename__ = "service_usage"
    __table_args__ = (sa.UniqueConstraint("username", "day"), sa.Index(None, "day"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(sa.String(253))
    day: Mapped[dt.date]
    input_octets: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    output_octets: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    session_time: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    sessions: Mapped[int] = mapped_column(sa.Integer, default=0)


class ApiToken(Base):
    """A bearer token of the HTTP admin API: only its SHA-256 is kept (the token is shown once)."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(128), unique=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)  # hex SHA-256
    read_only: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[dt.datetime | None]


class ApiIdempotencyKey(Base):
    """The reply to an admin-API POST sent with an ``Idempotency-Key`` (per token): a retry with
    the same key and request gets it again instead of a second write."""

    __tablename__ = "api_idempotency_keys"
    __table_args__ = (sa.UniqueConstraint("token_id", "key"), sa.Index(None, "created_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    token_id: Mapped[int]
    key: Mapped[str] = mapped_column(sa.String(128))
    request_hash: Mapped[str] = mapped_column(sa.String(64))  # hex SHA-256 of method, path, body
    status: Mapped[int]
    response: Mapped[str] = mapped_column(sa.Text)  # the JSON body sent
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class CoaAudit(Base):
    """One Disconnect-/CoA-Request (RFC 5176) sent to a NAS and how it ended (radiusd.coa).

    ``attributes`` holds attribute names only, never values (no secrets, no passwords);
    ``outcome`` stays ``pending`` while the request is in flight.
    """

    __tablename__ = "coa_audit"
    __table_args__ = (
        sa.CheckConstraint(_in("kind", COA_KINDS), name="kind"),
        sa.CheckConstraint(_in("outcome", COA_OUTCOMES), name="outcome"),
        sa.Index(None, "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    router_id: Mapped[int | None]
    kind: Mapped[str] = mapped_column(sa.String(16))
    session_id: Mapped[int | None] = mapped_column(sa.BigInteger, index=True)  # radius_sessions.id
    username: Mapped[str | None] = mapped_column(sa.String(253), index=True)
    attributes: Mapped[list[Any]] = mapped_column(default=list)  # names only
    outcome: Mapped[str] = mapped_column(sa.String(16), default="pending")
    error_cause: Mapped[int | None]
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None]


class ClusterNode(Base):
    """One running (or once running) daemon process on this database (radiusd.store.nodes).

    Times come from the database's clock, so nodes on hosts with skewed clocks still agree on
    who is alive: a node is alive while ``heartbeat_at`` is within 3 x ``heartbeat_interval``.
    """

    __tablename__ = "radiusd_nodes"

    id: Mapped[str] = mapped_column(sa.String(128), primary_key=True)  # host:pid:random
    host: Mapped[str] = mapped_column(sa.String(255))
    pid: Mapped[int]
    worker: Mapped[int] = mapped_column(default=0)  # index under ``serve --workers N``
    started_at: Mapped[dt.datetime]
    heartbeat_at: Mapped[dt.datetime]
    stopped_at: Mapped[dt.datetime | None]
    heartbeat_interval: Mapped[float]  # seconds
    schema_revision: Mapped[str] = mapped_column(sa.String(32))
    protocol: Mapped[int]  # cluster protocol number (radiusd.server.cluster.CLUSTER_PROTOCOL)
    version: Mapped[str] = mapped_column(sa.String(64))
    auth_requests: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    acct_requests: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    requests_per_second: Mapped[float] = mapped_column(default=0.0)  # over the last interval


class Operator(Base):
    """A person who logs in to the web console (radiusd.store.operators): bcrypt hash only."""

    __tablename__ = "operators"
    __table_args__ = (sa.CheckConstraint(_in("role", OPERATOR_ROLES), name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(128), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    role: Mapped[str] = mapped_column(sa.String(16))
    disabled: Mapped[bool] = mapped_column(default=False)
    #: failed logins counted since ``failures_since`` (the lockout window)
    failures: Mapped[int] = mapped_column(default=0)
    failures_since: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[dt.datetime | None]


class OperatorSession(Base):
    """A web console login: only the SHA-256 of the cookie's value is kept."""

    __tablename__ = "operator_sessions"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)  # hex SHA-256 of the cookie
    operator_id: Mapped[int] = mapped_column(sa.ForeignKey("operators.id", ondelete="CASCADE"), index=True)
    csrf: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[dt.datetime]
    seen_at: Mapped[dt.datetime]


class AuditEntry(Base):
    """Who did what from the web console (and the operator CLI): appended, never changed."""

    __tablename__ = "audit_log"
    __table_args__ = (sa.Index(None, "at"), sa.Index(None, "target", "at"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    operator: Mapped[str] = mapped_column(sa.String(128))
    action: Mapped[str] = mapped_column(sa.String(64))
    target: Mapped[str | None] = mapped_column(sa.String(255))
    outcome: Mapped[str] = mapped_column(sa.String(16))  # ok | refused | failed
    detail: Mapped[str | None] = mapped_column(sa.Text)
    source: Mapped[str | None] = mapped_column(sa.String(64))  # client address
