"""Polls one agent's LLDP-MIB over SNMP v2c/v3 (pysnmp), with LLDP-V2-MIB as the fallback.

The walked tables: lldpLocalSystemData scalars (own chassis ID and name), lldpLocPortTable
(local port names), lldpRemTable 1.0.8802.1.1.2.1.4.1 and lldpRemManAddrTable
1.0.8802.1.1.2.1.4.2. An agent that offers no lldpRemTable rows and no local chassis is asked
for LLDP-V2-MIB (1.3.111.2.802.1.1.13) instead. Credentials come from the device record
(community, v3 user and keys) and appear in no error message.

Errors are :class:`PollError` with one line naming the agent: a timeout, an SNMP error
status, or a malformed value (:class:`inventory.lldp.MalformedLldp`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pysnmp.hlapi.v3arch import asyncio as hl
from pysnmp.proto import rfc1902
from pysnmp.proto.rfc1905 import EndOfMibView, NoSuchInstance, NoSuchObject

from . import lldp
from .lldp import MalformedLldp, Observation, Oid

AUTH = {
    "md5": hl.usmHMACMD5AuthProtocol,
    "sha": hl.usmHMACSHAAuthProtocol,
    "sha224": hl.usmHMAC128SHA224AuthProtocol,
    "sha256": hl.usmHMAC192SHA256AuthProtocol,
    "sha384": hl.usmHMAC256SHA384AuthProtocol,
    "sha512": hl.usmHMAC384SHA512AuthProtocol,
}
PRIV = {
    "des": hl.usmDESPrivProtocol,
    "aes": hl.usmAesCfb128Protocol,
    "aes192": hl.usmAesCfb192Protocol,
    "aes256": hl.usmAesCfb256Protocol,
}
TIMEOUT = 2.0
RETRIES = 1
MAX_ROWS = 20_000  # varbinds per table: an agent that never ends its walk is cut off


class PollError(Exception):
    """One agent could not be polled; the message is one line and holds no credential."""


@dataclass(frozen=True, slots=True)
class SnmpTarget:
    """Where and how to ask: a device record's SNMP settings (secrets stay in here)."""

    kind: str
    name: str
    host: str
    port: int = 161
    version: str = "v2c"
    community: str | None = None
    user: str | None = None
    auth_protocol: str | None = None
    auth_key: str | None = None
    priv_protocol: str | None = None
    priv_key: str | None = None

    def __repr__(self) -> str:
        return f"SnmpTarget({self.kind}:{self.name} {self.host}:{self.port} {self.version})"

    def auth(self) -> Any:
        if self.version in ("v1", "v2c"):
            if not self.community:
                raise PollError(f"{self.kind} {self.name!r}: no SNMP community stored")
            return hl.CommunityData(self.community, mpModel=0 if self.version == "v1" else 1)
        if not self.user:
            raise PollError(f"{self.kind} {self.name!r}: no SNMPv3 user stored")
        return hl.UsmUserData(
            self.user,
            authKey=self.auth_key,
            privKey=self.priv_key,
            authProtocol=AUTH.get(self.auth_protocol or "", hl.usmNoAuthProtocol)
            if self.auth_key
            else hl.usmNoAuthProtocol,
            privProtocol=PRIV.get(self.priv_protocol or "", hl.usmNoPrivProtocol)
            if self.priv_key
            else hl.usmNoPrivProtocol,
        )


def _python(value: Any) -> Any:
    if isinstance(value, (NoSuchObject, NoSuchInstance, EndOfMibView)):
        return None
    if isinstance(value, rfc1902.OctetString):
        return value.asOctets()
    if isinstance(
        value, (rfc1902.Integer, rfc1902.Integer32, rfc1902.Unsigned32, rfc1902.Gauge32, rfc1902.TimeTicks)
    ):
        return int(value)
    if isinstance(value, rfc1902.ObjectName):
        return tuple(value)
    return value


class _Session:
    def __init__(self, target: SnmpTarget, timeout: float, retries: int) -> None:
        self.target, self.timeout, self.retries = target, timeout, retries
        self.engine = hl.SnmpEngine()
        self.auth = target.auth()
        self.transport: Any = None

    def _where(self) -> str:
        t = self.target
        return f"{t.kind} {t.name!r} ({t.host}:{t.port}, SNMP {t.version})"

    async def open(self) -> None:
        try:
            self.transport = await hl.UdpTransportTarget.create(
                (self.target.host, self.target.port), timeout=self.timeout, retries=self.retries
            )
        except Exception as exc:  # pysnmp raises its own PySnmpError for a bad host
            raise PollError(f"{self._where()}: {' '.join(str(exc).split())[:200]}") from None

    def _check(self, indication: Any, status: Any, index: Any) -> None:
        if indication:
            text = str(indication)
            if "timeout" in text.lower():
                tries = self.retries + 1
                text = (
                    f"no answer within {self.timeout:g}s x {tries} (agent down, wrong address or credentials)"
                )
            raise PollError(f"{self._where()}: {text}")
        if status:
            raise PollError(f"{self._where()}: SNMP error {status.prettyPrint()} at varbind {index}")

    async def get(self, *oids: Oid) -> dict[Oid, Any]:
        indication, status, index, binds = await hl.get_cmd(
            self.engine,
            self.auth,
            self.transport,
            hl.ContextData(),
            *(hl.ObjectType(hl.ObjectIdentity(oid)) for oid in oids),
        )
        self._check(indication, status, index)
        out = {tuple(name): _python(value) for name, value in binds}
        return {k: v for k, v in out.items() if v is not None}

    async def walk(self, root: Oid) -> dict[Oid, Any]:
        out: dict[Oid, Any] = {}
        async for indication, status, index, binds in hl.bulk_walk_cmd(
            self.engine,
            self.auth,
            self.transport,
            hl.ContextData(),
            0,
            25,
            hl.ObjectType(hl.ObjectIdentity(root)),
            lexicographicMode=False,
        ):
            self._check(indication, status, index)
            for name, value in binds:
                oid = tuple(name)
                if oid[: len(root)] != root:
                    continue
                converted = _python(value)
                if converted is not None:
                    out[oid] = converted
            if len(out) > MAX_ROWS:
                raise PollError(
                    f"{self._where()}: more than {MAX_ROWS} values under {'.'.join(map(str, root))}"
                )
        return out

    def close(self) -> None:
        try:
            self.engine.close_dispatcher()
        except Exception:  # noqa: S110  closing a dispatcher that never opened
            pass


async def poll(target: SnmpTarget, *, per_try: float = TIMEOUT, retries: int = RETRIES) -> Observation:
    """The agent's LLDP view; :class:`PollError` when it cannot be had, nothing half-read."""
    session = _Session(target, per_try, retries)
    try:
        await session.open()
        scalars = await session.get(lldp.LOC_CHASSIS_ID_SUBTYPE, lldp.LOC_CHASSIS_ID, lldp.LOC_SYS_NAME)
        remote = await session.walk(lldp.REM_TABLE)
        v2 = not remote and not scalars
        if v2:
            scalars = await session.get(
                lldp.V2_LOC_CHASSIS_ID_SUBTYPE, lldp.V2_LOC_CHASSIS_ID, lldp.V2_LOC_SYS_NAME
            )
            remote = await session.walk(lldp.V2_REM_TABLE)
            if not remote and not scalars:
                raise PollError(f"{session._where()}: the agent offers neither LLDP-MIB nor LLDP-V2-MIB")
            ports: Mapping[Oid, Any] = {}
            addresses: Mapping[Oid, Any] = {}
            if_names: Mapping[Oid, Any] = await session.walk(lldp.IF_NAME)
        else:
            ports = await session.walk(lldp.LOC_PORT_TABLE)
            addresses = await session.walk(lldp.REM_MAN_ADDR_TABLE)
            if_names = {}
        try:
            return lldp.from_mib(
                target.kind, target.name, scalars, ports, remote, addresses, v2=v2, if_names=if_names
            )
        except MalformedLldp as exc:
            raise PollError(f"{session._where()}: malformed LLDP-MIB value: {exc}") from None
    except TimeoutError:
        raise PollError(f"{session._where()}: timed out") from None
    finally:
        session.close()
