"""Daemon settings: one typed object, read from a TOML file, the environment and CLI flags.

Precedence (last wins): built-in defaults < config file < RADIUSD_* environment < CLI flags.
The config file is the first of ``--config``, ``RADIUSD_CONFIG``, ``./radiusd.toml`` and
``/etc/radiusd/radiusd.toml`` (:func:`find_config`), for the daemon and every CLI command alike.
Secrets never live here (NAS secrets are in the database); the database URL may carry a
password, so :func:`redacted_url` is what logs print.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

DEFAULT_DATA_DIR = Path("var")
DEFAULT_SQLITE_NAME = "radiusd.sqlite3"
CONFIG_ENV = "RADIUSD_CONFIG"
#: looked for, in this order, when neither --config nor RADIUSD_CONFIG names the file
CONFIG_SEARCH = (Path("radiusd.toml"), Path("/etc/radiusd/radiusd.toml"))


class ConfigError(ValueError):
    """The configuration file or a setting is invalid; the message says which and why."""


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = ""  # empty: SQLite file in data_dir
    db_connect_timeout: float = 5.0  # seconds to open a PostgreSQL connection
    db_command_timeout: float = 10.0  # seconds a PostgreSQL statement may take before it fails
    db_keepalives_idle: int = 10  # seconds of silence before TCP keepalive probes (PostgreSQL)
    data_dir: Path = DEFAULT_DATA_DIR
    #: serve a SQLite database file that group or others may read (refused by default: it holds secrets)
    allow_readable_database: bool = False
    bind: tuple[str, ...] = ("0.0.0.0",)
    auth_port: int = 1812
    acct_port: int = 1813
    receive_buffer: int = 4 * 1024 * 1024  # bytes per UDP socket (SO_RCVBUF; the kernel doubles it)
    api_bind: str = ""  # "ADDR:PORT"; empty disables the HTTP admin API
    api_public_docs: bool = False  # /docs, /redoc and /openapi.json without a token
    api_max_body: int = 1024 * 1024  # bytes a request body may have (413 beyond)
    api_header_timeout: float = 10.0  # seconds a client may take to send a request's headers
    api_body_timeout: float = 30.0  # seconds a client may take to send a request's body (408)
    api_concurrency: int = 4  # authenticated requests served at once (the rest wait)
    api_tls_cert: str = ""  # PEM certificate (chain): the API serves HTTPS when set with the key
    api_tls_key: str = ""  # PEM private key of api_tls_cert
    #: RadSec (RADIUS over TLS, RFC 6614): a TLS listener on TCP ``radsec_port`` of every
    #: ``radsec_bind`` address (empty: the ``bind`` addresses), for the NAS marked radsec
    radsec: bool = False
    radsec_bind: tuple[str, ...] = ()
    radsec_port: int = 2083
    radsec_cert: str = ""  # PEM certificate (chain) the server presents
    radsec_key: str = ""  # PEM private key of radsec_cert (readable by the daemon only)
    radsec_ca: str = ""  # PEM CA certificate(s) a client certificate must chain to
    radsec_max_connections: int = 256  # TLS connections at once, all NAS together
    radsec_max_per_nas: int = 4  # TLS connections at once from one NAS
    radsec_idle_timeout: float = 600.0  # seconds a connection may stay silent before it is closed
    radsec_handshake_timeout: float = 10.0  # seconds a TLS handshake may take
    #: a Disconnect/CoA for a RadSec NAS with no TLS connection to this node goes over UDP to
    #: its stored address and UDP secret (off: it fails with a clear error instead)
    radsec_coa_udp_fallback: bool = False
    #: RADIUS/1.1 (RFC 9765, ALPN): "both" answers ``radius/1.1`` or ``radius/1.0`` as the
    #: client offers, and classic RadSec to a client that offers no ALPN (the RFC's default);
    #: "1.1" requires RADIUS/1.1; "1.0" refuses it; "off" announces no ALPN at all
    radsec_alpn: str = "both"
    #: seconds a Disconnect/CoA the daemon sends (API, web console) waits for its NAS, with
    #: RFC 5080 §2.2.1 retransmissions over UDP (over RadSec: sent once, RFC 6613 §2.6.1)
    coa_timeout: float = 30.0
    dedupe_ttl: float = 30.0  # seconds a reply is kept for retransmissions (RFC 5080 §2.2.2)
    dedupe_max_entries: int = 200_000
    dedupe_max_bytes: int = 64 * 1024 * 1024  # per port kind: replies + ~440 bytes an entry
    reject_delay: float = 1.0  # seconds an Access-Reject is held back
    log_format: str = "console"  # console | json
    log_level: str = "info"
    #: the authentication log (FreeRADIUS's ``auth = yes``): one info line per Accept / Reject
    #: with user, NAS, port and reason, never a password. Accept lines turn the PAP fast path off.
    auth_log_accepts: bool = False
    auth_log_rejects: bool = True
    writer_queue_max: int = 20_000  # pending database operations before new work is refused
    slow_hash_workers: int = 2  # threads checking slow password hashes (PBKDF2, crypt, bcrypt)
    slow_hash_queue_max: int = 64  # slow checks running or waiting before logins are dropped
    accounting_max_delay: float = 0.25  # seconds an accounting request may wait unread; 0: no limit
    writer_max_wait: float = 0.25  # seconds the oldest pending write may wait before accounting is shed
    #: seconds between two freezes of the garbage collector's survivors (radiusd.gcpacing); 0: the
    #: collector's own full collections (pauses of 100+ ms under load)
    gc_freeze_interval: float = 1.0
    #: seconds between two full collections (frozen objects included: the cycles that died
    #: after their freeze); 0: never
    gc_full_interval: float = 3600.0
    #: the CPU time slice the daemon's threads ask the kernel for (µs; Linux 6.12+ EEVDF custom
    #: slice, radiusd.cpuslice): a woken event loop preempts a busy neighbour sooner; 0: the
    #: kernel's own (0.75-3 ms)
    sched_slice_us: int = 100
    offer_ttl: float = 60.0  # seconds an address offered in an Access-Accept is held without Start
    sticky_ttl: float = 3600.0  # seconds a released address is kept for its last owner
    interim_grace_factor: float = 3.0  # k in k x Acct-Interim-Interval + grace
    interim_grace: float = 120.0
    default_interim_interval: int = 300
    sweep_interval: float = 30.0
    utilisation_warning_pct: float = 90.0
    #: a login whose pool has IPv4 and IPv6 ranges, when only IPv6 is exhausted: "ipv4-only"
    #: (accepted without the prefix, logged and counted) or "reject" (the whole login)
    ipv6_exhausted: str = "ipv4-only"
    #: what a new subscriber password is kept as: "cleartext" (PAP, CHAP, MS-CHAP), "nt" (the NT
    #: hash: PAP, MS-CHAP) or "hashed" (PBKDF2-SHA256: PAP only); `subscriber add --store` overrides
    password_store: str = "cleartext"
    debug: bool = False
    change_poll_interval: float = 1.0  # seconds between looks at the change feed (CLI edits)
    change_log_retention: float = 7 * 86_400.0  # seconds a read change_log row is kept (pruned hourly)
    #: seconds between liveness checks of the lease feed's connection (other nodes' lease writes
    #: arrive at once through LISTEN; this bounds how long a silently dead link goes unnoticed)
    lease_feed_poll: float = 5.0
    #: closed sessions kept in memory (a retransmitted Stop, a late interim are recognised): the
    #: oldest closed beyond this are forgotten, as are those closed more than a day ago
    closed_sessions_max: int = 20_000
    ready_file: str = ""  # when set, the bound ports are written here as JSON once listening
    #: processes of ``serve`` (SO_REUSEPORT); 0 ("auto"): the CPU cores on PostgreSQL, 1 on SQLite
    workers: int = 1
    node_heartbeat_interval: float = 2.0  # seconds between heartbeats in radiusd_nodes
    node_prune_after: float = 86_400.0  # seconds a stopped or dead node's row is kept
    #: seconds between LLDP discovery runs of the daemon (one node of a cluster runs it); 0: off
    discovery_interval: float = 0.0
    discovery_apply: bool = False  # the periodic run writes what it finds (else only records it)
    #: SNMP v2c community for routers without RouterOS API credentials (devices use their own)
    discovery_snmp_community: str = ""
    #: days each kind of accounting history is kept (radiusd.store.retention, docs/accounting-storage.md);
    #: on PostgreSQL a day or month partition goes once all of it is older than this
    interim_retention: int = 35  # the interim time series (a month of detail, and a few days' slack)
    session_retention: int = 400  # closed session records (13 months: a year of billing disputes)
    assignment_history_retention: int = 400  # who held which address, counted from its release
    events_retention: int = 400  # non-session Accounting-Requests (RFC 2867 tunnel records among them)
    #: days after which the interim detail is also kept as hourly sums per session (0: off)
    interim_downsample_after: int = 0
    #: the ``[eap]`` table as read (checked by radiusd.eap.settings.parse_eap); empty: no EAP
    eap: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / DEFAULT_SQLITE_NAME).as_posix()}"


_FIELD_TYPES = {f.name: f.type for f in fields(Settings)}
#: settings that take one of a few words
_CHOICES = {"ipv6_exhausted": ("ipv4-only", "reject"), "password_store": ("cleartext", "nt", "hashed")}


def _coerce(name: str, value: Any) -> Any:
    kind = _FIELD_TYPES[name]
    if name == "workers" and isinstance(value, str) and value.strip().lower() == "auto":
        return 0
    try:
        if kind == "int":
            return int(value)
        if kind == "float":
            return float(value)
        if kind == "bool":
            if isinstance(value, str):
                return value.strip().lower() in {"1", "true", "yes", "on"}
            return bool(value)
        if kind == "Path":
            return Path(value)
        if kind == "tuple[str, ...]":
            if isinstance(value, str):
                return tuple(v.strip() for v in value.split(",") if v.strip())
            return tuple(str(v) for v in value)
        if kind == "str":
            text = str(value)
            allowed = _CHOICES.get(name)
            if allowed is not None and text not in allowed:
                raise ValueError(f"{text!r} is not one of {', '.join(allowed)}")
            return text
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"setting {name!r}: {exc}") from None
    return value


def find_config(explicit: str | Path | None = None) -> Path | None:
    """The config file to read: ``explicit`` (``--config``), ``$RADIUSD_CONFIG``, else the first of
    :data:`CONFIG_SEARCH` that exists; None when there is none.

    A file named by ``--config`` or ``RADIUSD_CONFIG`` must exist (:class:`ConfigError`).
    """
    named = explicit if explicit is not None else os.environ.get(CONFIG_ENV) or None
    if named is not None:
        path = Path(named)
        if not path.is_file():
            origin = "" if explicit is not None else f" (from {CONFIG_ENV})"
            raise ConfigError(f"config file {path}{origin} does not exist")
        return path
    for candidate in CONFIG_SEARCH:
        if candidate.is_file():
            return candidate
    return None


def load_settings(path: str | Path | None = None, **overrides: Any) -> Settings:
    """Build Settings from ``path`` (TOML, section ``[radiusd]`` or top level), env and overrides."""
    values: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        try:
            doc = tomllib.loads(p.read_text())
        except FileNotFoundError:
            raise ConfigError(f"config file {p} does not exist") from None
        except OSError as exc:  # e.g. /etc/radiusd/radiusd.toml readable by root only
            raise ConfigError(f"cannot read config file {p}: {exc.strerror or exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {p}: {exc}") from None
        section = doc.get("radiusd", doc)
        eap = doc.get("eap")
        if eap is not None:
            if not isinstance(eap, dict):
                raise ConfigError(f"config file {p}: [eap] must be a table")
            values["eap"] = _eap_paths(eap, p.parent)
        for key, value in section.items():
            if key == "eap" and section is doc:
                continue
            name = key.replace("-", "_")
            if name not in _FIELD_TYPES or name in ("extra", "eap"):
                raise ConfigError(f"config file {p}: unknown setting {key!r}")
            values[name] = _coerce(name, value)
        if "data_dir" in values and not values["data_dir"].is_absolute():
            values["data_dir"] = p.parent / values["data_dir"]
    for name in _FIELD_TYPES:
        env = os.environ.get(f"RADIUSD_{name.upper()}")
        if env is not None and name not in ("extra", "eap"):
            values[name] = _coerce(name, env)
    for name, value in overrides.items():
        if value is not None:
            values[name] = _coerce(name, value)
    return _checked(replace(Settings(), **values))


def _eap_paths(section: dict[str, Any], base: Path) -> dict[str, Any]:
    """The ``[eap]`` table with its file names made absolute against the config file's folder
    (a reload from another working directory finds the same files)."""
    out = dict(section)
    for key in ("cert", "key", "ca", "crl"):
        value = out.get(key)
        if isinstance(value, str) and value and not Path(value).is_absolute():
            out[key] = str(base / value)
    return out


#: settings that must be greater than zero
_POSITIVE = (
    "api_max_body", "api_header_timeout", "api_body_timeout", "api_concurrency",
    "db_connect_timeout", "db_command_timeout", "db_keepalives_idle",
    "radsec_max_connections", "radsec_max_per_nas", "radsec_idle_timeout", "radsec_handshake_timeout",
    "coa_timeout",
)  # fmt: skip


#: values of ``radsec_alpn`` (radiusd.server.radsec_alpn says what each does)
RADSEC_ALPN_MODES = ("both", "1.0", "1.1", "off")


#: the retention settings, in days (radiusd.store.retention)
RETENTION_SETTINGS = (
    "interim_retention",
    "session_retention",
    "assignment_history_retention",
    "events_retention",
)


def _checked(settings: Settings) -> Settings:
    if settings.gc_freeze_interval < 0:
        raise ConfigError("setting 'gc_freeze_interval' must be 0 (off) or more seconds")
    if settings.gc_full_interval < 0:
        raise ConfigError("setting 'gc_full_interval' must be 0 (never) or more seconds")
    if settings.sched_slice_us and not 100 <= settings.sched_slice_us <= 100_000:
        raise ConfigError("setting 'sched_slice_us' must be 0 (the kernel's own) or 100 to 100000")
    for name in _POSITIVE:
        if getattr(settings, name) <= 0:
            raise ConfigError(f"setting {name!r} must be greater than 0")
    for name in RETENTION_SETTINGS:
        if getattr(settings, name) < 1:
            raise ConfigError(f"setting {name!r} must be a whole number of days, at least 1")
    after = settings.interim_downsample_after
    if after < 0 or (after and after >= settings.interim_retention):
        raise ConfigError(
            "setting 'interim_downsample_after' must be 0 (off) or fewer days than 'interim_retention' "
            f"({settings.interim_retention})"
        )
    if bool(settings.api_tls_cert) != bool(settings.api_tls_key):
        raise ConfigError("settings 'api_tls_cert' and 'api_tls_key' go together: give both or neither")
    if settings.radsec and not (settings.radsec_cert and settings.radsec_key and settings.radsec_ca):
        raise ConfigError(
            "setting 'radsec' needs 'radsec_cert', 'radsec_key' and 'radsec_ca' (mutual TLS, RFC 6614 §2.3)"
        )
    if not 0 <= settings.radsec_port <= 65535:
        raise ConfigError("setting 'radsec_port' must be a TCP port (0 picks a free one)")
    if settings.radsec_alpn not in RADSEC_ALPN_MODES:
        raise ConfigError(
            f"setting 'radsec_alpn' must be one of {', '.join(RADSEC_ALPN_MODES)} (RFC 9765), "
            f"not {settings.radsec_alpn!r}"
        )
    return settings


def redacted_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for logs and error messages)."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    creds, _, host = rest.rpartition("@")
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in creds else url
