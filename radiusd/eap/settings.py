"""The ``[eap]`` section of the config file, checked once at start and on SIGHUP.

```toml
[eap]
cert = "/etc/radiusd/eap/server.pem"   # server certificate (chain), PEM
key = "/etc/radiusd/eap/server.key"    # its private key, PEM (mode 0600)
ca = "/etc/radiusd/eap/ca.pem"         # EAP-TLS: the CA that issues client certificates
crl = ""                               # EAP-TLS: a CRL file (PEM or DER) of that CA
methods = ["peap", "ttls", "tls"]      # allowed (default: these, tls only with a ca); "md5"
                                       # only with allow_md5 = true
default_method = "peap"                # offered first; the peer may Nak to another allowed one
process = false                        # true: conversations in a process of their own
process_nice = 10                      # its nice value: PAP and accounting run first
tls_cpus = ""                          # CPUs the TLS work runs on ("1", "2-3,6"): the EAP
                                       # process, or the daemon's TLS threads; "": the daemon's
                                       # (process_cpus: the same setting, its older name)

[eap.plan_methods]                     # optional, per plan: checked once the subscriber is known
iot = ["tls"]
[eap.nas_methods]                      # optional, per NAS name: what is offered and allowed
lobby-ap = ["peap"]
```
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import packet as eap
from .tls import TlsContexts, TlsFiles

_KEYS = {
    "cert", "key", "ca", "crl", "methods", "default_method", "allow_md5", "fragment_size",
    "max_conversations", "max_buffered", "timeout", "workers", "queue_max", "tls_min_version",
    "tls_max_version", "plan_methods", "nas_methods", "process", "process_nice", "process_cpus",
    "tls_cpus",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class EapSettings:
    cert: str = ""
    key: str = ""
    ca: str = ""
    crl: str = ""
    methods: tuple[int, ...] = (eap.PEAP, eap.TTLS, eap.TLS)
    default_method: int = eap.PEAP
    allow_md5: bool = False
    #: TLS octets per EAP-Request when the request has no Framed-MTU (with one: Framed-MTU - 14,
    #: at most 1386)
    fragment_size: int = 1000
    #: conversations under way at once; beyond, new ones are rejected (with EAP-Failure)
    max_conversations: int = 4096
    #: octets of incoming fragments (RFC 5216 §2.1.5) held by all conversations together while
    #: their TLS messages are incomplete; a fragment beyond it rejects its conversation. Each
    #: message is also capped at 64 kB (radiusd.eap.tls.MAX_MESSAGE): without this bound a
    #: fragment storm could hold max_conversations x 64 kB (256 MB by default).
    max_buffered: int = 8 * 1024 * 1024
    #: seconds a conversation may wait for the peer's next response before it is forgotten
    timeout: float = 30.0
    #: threads doing TLS work (the ClientHello's private-key operation), and TLS steps running
    #: or waiting before requests are dropped. One: it signs ~3000 handshakes/s, more than the
    #: event loop feeds it; a second thread only adds GIL hand-overs, which can stall the loop
    #: (PAP) when the thread holding the GIL is preempted on a busy machine.
    workers: int = 1
    queue_max: int = 256
    #: the conversations run in a process of their own (radiusd.eap.worker): the event loop
    #: only relays, a crash in TLS code ends that process only, and the TLS work leaves the
    #: daemon's core; it costs two more wake-ups per round trip (~+60 % CPU per handshake,
    #: measured), so the default keeps them in the daemon's process
    process: bool = False
    #: that process's nice value (0-19): the kernel runs PAP and accounting first
    process_nice: int = 10
    #: the CPUs the TLS work may run on (sched_setaffinity): the EAP process with ``process``,
    #: else the daemon's TLS threads; empty: those of the daemon. With the daemon kept off them
    #: (systemd CPUAffinity=, taskset), TLS work never waits in the queue of the CPU that
    #: answers PAP and accounting
    tls_cpus: tuple[int, ...] = ()
    tls_min_version: str = "1.2"
    tls_max_version: str = "1.3"
    #: per plan, the methods allowed (``{ "residential" = ["peap"] }``); plans not named: all
    plan_methods: tuple[tuple[str, tuple[int, ...]], ...] = ()
    #: per NAS (its name), the methods offered and allowed; NAS not named: all of ``methods``
    nas_methods: tuple[tuple[str, tuple[int, ...]], ...] = ()

    @property
    def process_cpus(self) -> tuple[int, ...]:
        """The older name of :attr:`tls_cpus` (it placed the EAP process only)."""
        return self.tls_cpus

    @property
    def enabled(self) -> bool:
        return bool(self.methods)

    def tls_files(self) -> TlsFiles | None:
        if not self.cert:
            return None
        return TlsFiles(self.cert, self.key, self.ca, self.crl, self.tls_min_version, self.tls_max_version)

    def check_files(self) -> None:
        """Load the certificate, key, CA and CRL files once (nothing kept): EapError, a
        ValueError naming the file, when one does not load."""
        files = self.tls_files() if self.enabled else None
        if files is not None:
            TlsContexts(files)

    def methods_for_nas(self, nas: str) -> tuple[int, ...]:
        for name, methods in self.nas_methods:
            if name == nas:
                return methods
        return self.methods

    def methods_for_plan(self, plan: str | None) -> tuple[int, ...]:
        for name, methods in self.plan_methods:
            if name == plan:
                return methods
        return self.methods


def _methods(value: Any, where: str, allow_md5: bool) -> tuple[int, ...]:
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    out = []
    for name in value:
        code = eap.METHOD_BY_NAME.get(str(name).lower())
        if code is None:
            raise ValueError(f"{where}: unknown EAP method {name!r} (peap, ttls, tls, md5)")
        if code == eap.MD5_CHALLENGE and not allow_md5:
            raise ValueError(
                f"{where}: md5 sends no keys and protects nothing; set allow_md5 = true to use it"
            )
        out.append(code)
    return tuple(out)


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{where}: true or false")
    return value


def parse_cpus(value: Any, where: str) -> tuple[int, ...]:
    """CPU numbers from a list (``[1, 3]``) or a cpuset string (``"1"``, ``"2-3,6"``, as
    taskset -c and cpuset(7) write them); ValueError naming ``where`` when malformed."""
    if isinstance(value, list):
        parts = [str(v) for v in value]
    elif isinstance(value, (str, int)) and not isinstance(value, bool):
        parts = [p.strip() for p in str(value).split(",") if p.strip()]
    else:
        parts = ["?"]
    cpus: set[int] = set()
    for part in parts:
        low, _, high = part.partition("-")
        if not low.isdigit() or (high and not high.isdigit()):
            raise ValueError(f'{where}: CPU numbers, e.g. "1" or "2-3,6" (got {value!r})')
        first, last = int(low), int(high or low)
        if last < first or last > 4095:
            raise ValueError(f"{where}: a range goes up, to at most 4095 (got {part!r})")
        cpus.update(range(first, last + 1))
    return tuple(sorted(cpus))


def _tls_cpus(section: dict[str, Any]) -> tuple[int, ...]:
    """``tls_cpus``, or ``process_cpus`` (its older name); both only when they agree."""
    named = {k: parse_cpus(section[k], f"[eap] {k}") for k in ("tls_cpus", "process_cpus") if k in section}
    if len(set(named.values())) > 1:
        raise ValueError("[eap] tls_cpus and process_cpus (its older name) name different CPUs: keep one")
    return next(iter(named.values()), ())


def parse_eap(section: dict[str, Any]) -> EapSettings:
    """EapSettings from the ``[eap]`` table; ValueError with the setting's name when invalid.
    An empty section disables EAP (every EAP request is rejected, as before)."""
    if not section:
        return EapSettings(methods=())
    unknown = set(section) - _KEYS
    if unknown:
        raise ValueError(f"[eap]: unknown setting {sorted(unknown)[0]!r}")
    allow_md5 = bool(section.get("allow_md5", False))
    default_methods = ["peap", "ttls", "tls"] if section.get("ca") else ["peap", "ttls"]
    methods = _methods(section.get("methods", default_methods), "[eap] methods", allow_md5)
    default_name = str(section.get("default_method", "")).lower()
    default = (
        eap.METHOD_BY_NAME.get(default_name, methods[0] if methods else 0)
        if default_name
        else (methods[0] if methods else 0)
    )
    if methods and default not in methods:
        raise ValueError(f"[eap] default_method {default_name!r} is not among the allowed methods")
    cert, key = str(section.get("cert", "")), str(section.get("key", ""))
    if any(m in methods for m in (eap.PEAP, eap.TTLS, eap.TLS)) and not (cert and key):
        raise ValueError("[eap] cert and key are needed for peap, ttls and tls")
    if eap.TLS in methods and not section.get("ca"):
        raise ValueError("[eap] ca is needed for tls (the CA of the client certificates)")
    plans = section.get("plan_methods", {}) or {}
    nases = section.get("nas_methods", {}) or {}
    if not isinstance(plans, dict) or not isinstance(nases, dict):
        raise ValueError("[eap] plan_methods and nas_methods are tables: name = [methods]")
    versions = ("1.2", "1.3")
    low, high = str(section.get("tls_min_version", "1.2")), str(section.get("tls_max_version", "1.3"))
    if low not in versions or high not in versions or low > high:
        raise ValueError("[eap] tls_min_version / tls_max_version: 1.2 or 1.3, min <= max")
    process = _bool(section.get("process", False), "[eap] process")
    try:
        settings = EapSettings(
            cert=cert,
            key=key,
            ca=str(section.get("ca", "")),
            crl=str(section.get("crl", "")),
            methods=methods,
            default_method=default,
            allow_md5=allow_md5,
            fragment_size=int(section.get("fragment_size", 1000)),
            max_conversations=int(section.get("max_conversations", 4096)),
            max_buffered=int(section.get("max_buffered", 8 * 1024 * 1024)),
            timeout=float(section.get("timeout", 30.0)),
            workers=int(section.get("workers", 1)),
            queue_max=int(section.get("queue_max", 256)),
            process=process,
            process_nice=int(section.get("process_nice", 10)),
            tls_cpus=_tls_cpus(section),
            tls_min_version=low,
            tls_max_version=high,
            plan_methods=tuple(
                (str(p), _methods(m, f"[eap] plan_methods.{p}", allow_md5)) for p, m in plans.items()
            ),
            nas_methods=tuple(
                (str(n), _methods(m, f"[eap] nas_methods.{n}", allow_md5)) for n, m in nases.items()
            ),
        )
    except (TypeError, ValueError) as exc:
        raise ValueError(f"[eap]: {exc}") from None
    for kind, table in (("plan_methods", settings.plan_methods), ("nas_methods", settings.nas_methods)):
        for name, listed in table:
            if not listed or not set(listed) <= set(methods):
                raise ValueError(f"[eap] {kind}.{name}: one or more of the allowed methods (methods = ...)")
    if not 0 <= settings.process_nice <= 19:
        raise ValueError("[eap] process_nice: 0 to 19")
    if not 64 <= settings.fragment_size <= 4000:
        raise ValueError("[eap] fragment_size: 64 to 4000 octets")
    if (
        settings.max_conversations < 1
        or settings.max_buffered < 1
        or settings.timeout <= 0
        or settings.workers < 1
        or settings.queue_max < 1
    ):
        raise ValueError(
            "[eap] max_conversations, max_buffered, timeout, workers and queue_max must be greater than 0"
        )
    return settings
