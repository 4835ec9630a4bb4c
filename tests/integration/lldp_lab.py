"""A real LLDP topology for tests: network namespaces joined by veth pairs, lldpd in each,
LLDP-MIB served by snmpd through lldpd's AgentX sub-agent (``lldpd -x -X``, snmpd
``master agentx``).

Each node gets a management veth to the root namespace (10.X.N.1 here, 10.X.N.2 there, X
from the test process's pid so parallel workers do not collide) on
which only snmpd listens; lldpd is limited (``-I``) to the lab links, so it never speaks LLDP
on the management side. Everything made here is removed by :meth:`Lab.close`, which also runs
when a start fails half way.
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

TOOLS = ("ip", "lldpd", "lldpcli", "snmpd")
COMMUNITY = "lab-public-7"
V3_USER = "labv3"
V3_AUTH = "lab-auth-pass-1"
V3_PRIV = "lab-priv-pass-1"


def missing_tools() -> list[str]:
    return [t for t in TOOLS if shutil.which(t) is None and not Path("/usr/sbin", t).exists()]


NET = 100 + os.getpid() % 100  # second octet of this process's lab addresses


def require_tools() -> None:
    """Skip locally when a tool is missing; fail under CI=true (tests/conftest.py's rule)."""
    import pytest

    missing = missing_tools()
    if os.geteuid() != 0:
        missing.append("root (network namespaces)")
    if missing:
        message = f"LLDP lab needs {', '.join(missing)}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


_SERIAL = itertools.count()


@dataclass
class Node:
    name: str
    index: int
    mgmt: str  # the node's management address, reachable from the root namespace
    tag: str = ""
    links: list[str] = field(default_factory=list)  # interface names inside the namespace
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def netns(self) -> str:
        return f"rdl{self.tag}-{self.name}"


def _run_folder() -> Path:
    """A folder lldpd's own lldpcli (run as _lldpd) can reach: pytest's tmp_path is 0700."""
    folder = Path(tempfile.mkdtemp(prefix="radiusd-lldp-"))
    folder.chmod(0o755)
    return folder


@dataclass
class Lab:
    folder: Path = field(default_factory=_run_folder)
    nodes: dict[str, Node] = field(default_factory=dict)
    veths: list[str] = field(default_factory=list)  # root-side names, deleted with their peers
    serial: int = field(default_factory=lambda: next(_SERIAL) % 20)

    @property
    def _tag(self) -> str:
        return f"{os.getpid() % 1000}x{self.serial}"

    def node(self, name: str) -> Node:
        index = self.serial * 10 + len(self.nodes) + 1
        node = Node(name, index, f"10.{NET}.{index}.2", self._tag)
        self.nodes[name] = node
        _ip("netns", "add", node.netns)
        _ip("-n", node.netns, "link", "set", "lo", "up")
        root_end, ns_end = f"rdm{self._tag}n{len(self.nodes)}", "mgmt0"
        _ip("link", "add", root_end, "type", "veth", "peer", "name", ns_end, "netns", node.netns)
        self.veths.append(root_end)
        _ip("addr", "add", f"10.{NET}.{index}.1/30", "dev", root_end)
        _ip("link", "set", root_end, "up")
        _ip("-n", node.netns, "addr", "add", f"{node.mgmt}/30", "dev", ns_end)
        _ip("-n", node.netns, "link", "set", ns_end, "up")
        return node

    def link(self, a: str, a_port: str, b: str, b_port: str) -> None:
        """A veth pair between two namespaces, ``a_port`` in ``a`` and ``b_port`` in ``b``."""
        na, nb = self.nodes[a], self.nodes[b]
        _ip(
            "link",
            "add",
            a_port,
            "netns",
            na.netns,
            "type",
            "veth",
            "peer",
            "name",
            b_port,
            "netns",
            nb.netns,
        )
        _ip("-n", na.netns, "link", "set", a_port, "up")
        _ip("-n", nb.netns, "link", "set", b_port, "up")
        na.links.append(a_port)
        nb.links.append(b_port)

    def unlink(self, a: str, a_port: str) -> None:
        """Deletes a lab link (its peer goes with it): the neighbours age out of LLDP."""
        _ip("-n", self.nodes[a].netns, "link", "del", a_port)

    def heard_on(self, name: str) -> set[str]:
        """The lab ports on which ``name``'s lldpd currently has a neighbour (lldpcli's view)."""
        out = subprocess.run(
            ["lldpcli", "-u", str(self.folder / name / "ctl"), "show", "neighbors", "-f", "keyvalue"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout
        return {line.split(".")[1] for line in out.splitlines() if line.startswith("lldp.")}

    def start(self, *, ready_timeout: float = 20.0) -> None:
        for node in self.nodes.values():
            self._start(node)
        deadline = time.monotonic() + ready_timeout
        for node in self.nodes.values():
            while True:
                out = subprocess.run(
                    [
                        "lldpcli",
                        "-u",
                        str(self.folder / node.name / "ctl"),
                        "show",
                        "neighbors",
                        "-f",
                        "keyvalue",
                    ],
                    capture_output=True,
                    text=True,
                    timeout=10,
                ).stdout
                if all(f"lldp.{port}." in out for port in node.links):
                    break
                if time.monotonic() > deadline:
                    log = (self.folder / node.name / "lldpd.log").read_text()[-800:]
                    raise RuntimeError(
                        f"lldpd of {node.name} saw no neighbour within {ready_timeout}s: {out} {log}"
                    )
                time.sleep(0.2)

    def _start(self, node: Node) -> None:
        folder = self.folder / node.name
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o755)  # lldpd's lldpcli (run as _lldpd) reaches its control socket here
        agentx = folder / "agentx.sock"
        conf = folder / "snmpd.conf"
        conf.write_text(
            "master agentx\n"
            f"agentXSocket {agentx}\n"
            f"rocommunity {COMMUNITY} 10.{NET}.0.0/16\n"
            f'createUser {V3_USER} SHA "{V3_AUTH}" AES "{V3_PRIV}"\n'
            f"rouser {V3_USER} priv\n"
        )
        conf.chmod(0o600)
        (folder / "persist").mkdir(exist_ok=True)
        env = {**os.environ, "SNMP_PERSISTENT_DIR": str(folder / "persist")}
        snmpd = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                node.netns,
                "snmpd",
                "-f",
                "-Lf",
                str(folder / "snmpd.log"),
                "-C",
                "-c",
                str(conf),
                "-p",
                str(folder / "snmpd.pid"),
                f"udp:{node.mgmt}:161",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        node.procs.append(snmpd)
        deadline = time.monotonic() + 10
        while not agentx.exists():
            if snmpd.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"snmpd of {node.name} did not start: {(folder / 'snmpd.log').read_text()}"
                )
            time.sleep(0.05)
        lldpconf = folder / "lldpd.conf"
        lldpconf.write_text(
            f"configure system hostname {node.name}\nconfigure lldp tx-interval 1\nconfigure lldp tx-hold 2\n"
        )
        lldpd = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                node.netns,
                "lldpd",
                "-d",
                "-x",
                "-X",
                str(agentx),
                "-u",
                str(folder / "ctl"),
                "-I",
                ",".join(node.links) or "none",
                "-C",
                ",".join(node.links) or "none",
                "-m",
                node.mgmt,
                "-O",
                str(lldpconf),
            ],
            stdout=subprocess.DEVNULL,
            stderr=open(folder / "lldpd.log", "wb"),  # noqa: SIM115  lldpd writes it while it runs
            start_new_session=True,
        )
        node.procs.append(lldpd)

    def close(self) -> None:
        for node in self.nodes.values():
            for proc in reversed(node.procs):
                if proc.poll() is None:
                    try:
                        os.killpg(proc.pid, signal.SIGTERM)
                    except ProcessLookupError:
                        pass
            for proc in node.procs:
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=5)
        for veth in self.veths:
            subprocess.run(["ip", "link", "del", veth], capture_output=True, timeout=10)
        for node in self.nodes.values():
            subprocess.run(["ip", "netns", "del", node.netns], capture_output=True, timeout=10)
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
