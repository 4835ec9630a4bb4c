"""Bounded fuzzing of the server's datagram handler: a malformed datagram is dropped and
counted, never a crash.

``Dispatcher.datagram_received(data, addr, send)`` is fed mutated valid Access- and
Accounting-Requests: bit flips, truncations, Length edits, attribute-length edits,
attribute duplication, thousands of attributes, VSA damage. Half of the mutants are signed
again after mutation (Message-Authenticator, Accounting Request Authenticator), so they get
past the authenticity checks and reach the policies instead of stopping at
"bad-authenticator". The oracle, for every input:

- no exception escapes ``datagram_received`` (nor a done-callback: the loop's exception
  handler is watched);
- each datagram ends either answered (a reply sent, or a cached reply replayed) or dropped
  with a counted reason: ``sum(drops) + duplicates + sum(requests) == datagrams fed``, and
  nothing is left in flight;
- memory stays bounded: the dedupe cache never exceeds ``dedupe_max_entries``, the writer
  queue never exceeds ``writer_queue_max``, and the process RSS grows by less than a cap.

Two setups: the real daemon wiring (AccessPolicy, AccountingPolicy, IpamService, the
group-commit writer) on a SQLite file with a NAS, a pool and subscribers; and stub handlers
that answer at once, answer later, answer nothing or raise, so the dispatcher's own
bookkeeping is fuzzed in every outcome.

Time budget: RADIUSD_FUZZ_SECONDS (default 10), split between the two; RADIUSD_FUZZ_SEED
replays one run. Inputs that once broke the handler are hex files in
tests/fuzz/corpus/datagram/ (``# port: auth|acct`` on a comment line), replayed every run.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import random
import resource
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from radiusd.codec.codes import Code
from radiusd.codec.crypto import ZERO16
from radiusd.codec.dictionary import Dictionary, default_dictionary
from radiusd.codec.packet import Packet, encode_request
from radiusd.codec.scanning import message_authenticator_offset
from radiusd.config import Settings
from radiusd.daemon import Daemon
from radiusd.model.request import NasClient, Request
from radiusd.server.dedupe import DedupeCache
from radiusd.server.dispatcher import Dispatcher
from radiusd.server.nas import NasRegistry
from radiusd.store.nas import add_nas
from radiusd.store.plans import add_plan
from radiusd.store.pools import add_pool
from radiusd.store.subscribers import import_subscribers

BUDGET = float(os.environ.get("RADIUSD_FUZZ_SECONDS", "10"))
SEED = int(os.environ.get("RADIUSD_FUZZ_SEED", str(random.SystemRandom().randrange(2**32))))
CORPUS = Path(__file__).parent / "corpus" / "datagram"
SECRET = b"fuzz-dgram-secret"
NAS_ADDR = "127.0.0.1"
SOURCE = (NAS_ADDR, 40000)
STRANGER = ("127.0.0.2", 40000)
DEDUPE_MAX = 500
WRITER_MAX = 200
RSS_CAP_MB = 64.0  # growth of the process's resident set over a whole fuzz run
BATCH = 64  # datagrams fed between two waits for the writer (many in flight at once)
USERS = [("fz-pool", "pw-pool", "pooled"), ("fz-plain", "pw-plain", None), ("fz-chap", "chap-pw", None)]
PROXY_STATE = 33
VSA = 26
MA = 80

D: Dictionary = default_dictionary()


# -- valid seeds ------------------------------------------------------------------------------


def _access(user: str, password: bytes, ident: int, *, chap: bool = False, extra: int = 0) -> bytes:
    p = Packet(Code.ACCESS_REQUEST, ident, dictionary=D)
    p.add("User-Name", user)
    if chap:
        p.authenticator = bytes(range(16))
        chap_id = 7
        p.add_raw(3, bytes((chap_id,)) + hashlib.md5(bytes((chap_id,)) + password + p.authenticator).digest())
    else:
        p.set_user_password(password, SECRET)
    p.add("NAS-IP-Address", NAS_ADDR).add("NAS-Port", 3).add("Calling-Station-Id", "aa-bb-cc")
    p.add("Mikrotik-Rate-Limit", "1M/1M").add_raw(PROXY_STATE, b"ps-" + bytes((extra,)))
    return encode_request(p, SECRET, message_auth=True)


def _accounting(status: str, user: str, sid: str, ident: int, **attrs: Any) -> bytes:
    p = Packet(Code.ACCOUNTING_REQUEST, ident, dictionary=D)
    p.add("Acct-Status-Type", status).add("User-Name", user).add("Acct-Session-Id", sid)
    p.add("NAS-IP-Address", NAS_ADDR).add("NAS-Port", 3).add("Framed-IP-Address", "100.64.0.10")
    for name, value in attrs.items():
        p.add(name.replace("_", "-"), value)
    p.add("Cisco-AVPair", "ip:addr-pool=x").add_raw(PROXY_STATE, b"acct")
    return encode_request(p, SECRET, message_auth=bool(ident % 2))


INTERIM = {"Acct_Session_Time": 60, "Acct_Input_Octets": 1000, "Acct_Output_Octets": 2000}
STOP = {"Acct_Session_Time": 90, "Acct_Input_Octets": 1500, "Acct_Terminate_Cause": "User-Request"}


def _seeds() -> list[tuple[str, bytes]]:
    seeds = [
        ("auth", _access("fz-pool", b"pw-pool", 1)),
        ("auth", _access("fz-plain", b"pw-plain", 2)),
        ("auth", _access("fz-chap", b"chap-pw", 3, chap=True)),
        ("auth", _access("nobody", b"x" * 20, 4)),
        ("acct", _accounting("Start", "fz-pool", "s-1", 5)),
        ("acct", _accounting("Interim-Update", "fz-pool", "s-1", 6, **INTERIM)),
        ("acct", _accounting("Stop", "fz-pool", "s-1", 7, **STOP)),
        ("acct", _accounting("Accounting-On", "", "on-1", 8)),
    ]
    status = Packet(Code.STATUS_SERVER, 9, dictionary=D)
    status.add("NAS-Identifier", "fuzz")
    seeds.append(("auth", encode_request(status, SECRET)))
    return seeds


SEEDS = _seeds()


# -- mutation -----------------------------------------------------------------------------------


def _walk(b: bytes | bytearray) -> list[int]:
    """Offsets of the attributes a well-formed walk finds (stops at the first bad length)."""
    out, i, end = [], 20, min(len(b), (b[2] << 8) | b[3] if len(b) >= 4 else 0)
    while i + 1 < end and b[i + 1] >= 2 and i + b[i + 1] <= end:
        out.append(i)
        i += b[i + 1]
    return out


def _fix_length(b: bytearray) -> None:
    if len(b) >= 4:
        b[2:4] = min(len(b), 65535).to_bytes(2, "big")


def mutate(rng: random.Random, data: bytes) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(12)
        offs = _walk(b)
        if op == 0 and b:  # bit flip anywhere
            b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
        elif op == 1 and b:  # truncation (Length left as it was)
            del b[rng.randrange(len(b) + 1) :]
        elif op == 2 and len(b) >= 4:  # Length field edit
            n = rng.choice([0, 19, 20, len(b) - 1, len(b) + 1, 4096, 4097, rng.randrange(65536)])
            b[2:4] = (n % 65536).to_bytes(2, "big")
        elif op == 3 and offs:  # attribute length octet edit
            b[rng.choice(offs) + 1] = rng.choice([0, 1, 2, 3, 255, rng.randrange(256)])
        elif op == 4 and offs:  # duplicate one attribute a few times
            o = rng.choice(offs)
            attr = bytes(b[o : o + b[o + 1]])
            b += attr * rng.randint(1, 4)
            _fix_length(b)
        elif op == 5 and offs:  # huge attribute count: repeat one attribute up to ~4096 octets
            o = rng.choice(offs)
            attr = bytes(b[o : o + b[o + 1]])
            room = max(0, 4096 + rng.choice([0, 0, 1, 40]) - len(b))
            b += attr * (room // len(attr))
            _fix_length(b)
        elif op == 6:  # thousands of empty attributes of a random type (2 octets each)
            t = rng.choice([PROXY_STATE, 1, 2, 3, 18, VSA, 60, 79, 241, 245, rng.randrange(256)])
            count = rng.choice([1, 10, 500, 2000, rng.randrange(2100)])
            b += bytes((t, 2)) * count
            _fix_length(b)
        elif op == 7 and offs:  # a VSA's inner damage: vendor length / vendor id / truncated VSA
            vsas = [o for o in offs if b[o] == VSA and b[o + 1] >= 8]
            if vsas:
                o = rng.choice(vsas)
                k = rng.choice([o + 7, o + 2, o + 6])
                b[k] = rng.choice([0, 1, 2, 255, rng.randrange(256)])
            else:
                b += bytes((VSA, rng.choice([2, 5, 6, 7, 8]))) + rng.randbytes(6)
                _fix_length(b)
        elif op == 8 and offs:  # remove an attribute
            o = rng.choice(offs)
            del b[o : o + b[o + 1]]
            _fix_length(b)
        elif op == 9:  # a second / misplaced / short Message-Authenticator
            short = bytes((MA, rng.choice([2, 10, 20]))) + bytes(8)
            b += rng.choice([bytes((MA, 18)) + rng.randbytes(16), short])
            _fix_length(b)
        elif op == 10 and len(b) >= 1:  # another code
            b[0] = rng.choice([1, 2, 3, 4, 5, 11, 12, 40, 43, 0, 255])
        elif op == 11 and offs:  # the value of an attribute replaced by one of another size
            o = rng.choice(offs)
            value = rng.choice([b"", b"\x00", rng.randbytes(rng.choice([1, 4, 15, 16, 17, 128, 130, 253]))])
            b[o : o + b[o + 1]] = bytes((b[o], 2 + len(value))) + value
            _fix_length(b)
    return bytes(b[:4200])


def resign(data: bytes) -> bytes:
    """Sign a mutant again: Message-Authenticator (where the walk finds one), then the
    Accounting/CoA Request Authenticator. Malformed inputs are returned unchanged."""
    if len(data) < 20:
        return data
    length = (data[2] << 8) | data[3]
    if length < 20 or length > len(data):
        return data
    b = bytearray(data[:length])
    off = message_authenticator_offset(bytes(b))
    hashed = b[0] in (4, 40, 43)
    if off and off + 16 <= len(b):
        b[off : off + 16] = ZERO16
        if hashed:
            b[4:20] = ZERO16
        b[off : off + 16] = hmac.new(SECRET, bytes(b), "md5").digest()
    if hashed:
        b[4:20] = ZERO16
        b[4:20] = hashlib.md5(bytes(b) + SECRET).digest()
    return bytes(b) + data[length:]


# -- the oracle ---------------------------------------------------------------------------------


class Harness:
    """Feeds datagrams to the auth and acct dispatchers and checks the books balance."""

    def __init__(self, auth: Dispatcher, acct: Dispatcher, writer: Any = None) -> None:
        self.ports = {"auth": auth, "acct": acct}
        self.writer = writer
        self.fed = 0
        stats = auth.stats
        self.base = sum(stats.drops.values()) + stats.duplicates + sum(stats.requests.values())
        self.sent: list[bytes] = []
        self.loop_errors: list[dict[str, Any]] = []
        self.max_dedupe = 0
        self.max_writer = 0
        asyncio.get_running_loop().set_exception_handler(lambda _loop, ctx: self.loop_errors.append(ctx))

    def send(self, data: bytes, addr: Any) -> None:
        assert len(data) <= 4096, f"a reply of {len(data)} octets"
        self.sent.append(data)

    def feed(self, port: str, data: bytes, addr: tuple[str, int] = SOURCE) -> None:
        d = self.ports[port]
        try:
            d.datagram_received(data, addr, self.send)
        except BaseException as e:
            raise AssertionError(f"exception escaped datagram_received ({port}): input={data.hex()}") from e
        self.fed += 1
        self.max_dedupe = max(self.max_dedupe, len(d.dedupe))
        if self.writer is not None:
            self.max_writer = max(self.max_writer, self.writer.depth)

    async def settle(self, context: str, timeout: float = 20.0) -> None:  # noqa: ASYNC109  (fails the test with its context)
        """Wait until nothing is in flight, then check that every datagram is accounted for."""
        deadline = time.monotonic() + timeout
        while any(d.in_flight for d in self.ports.values()):
            assert time.monotonic() < deadline, f"requests still in flight after {timeout} s: {context}"
            await asyncio.sleep(0.002)
        await asyncio.sleep(0)  # done-callbacks scheduled by the last completions
        stats = self.ports["auth"].stats
        assert stats is self.ports["acct"].stats
        outcomes = sum(stats.drops.values()) + stats.duplicates + sum(stats.requests.values()) - self.base
        assert outcomes == self.fed, (
            f"{self.fed} datagrams but {outcomes} outcomes (drops {dict(stats.drops)}, "
            f"duplicates {stats.duplicates}, replies {sum(stats.requests.values())}): {context}"
        )
        assert len(self.sent) <= outcomes, context
        assert all(d.in_flight == 0 for d in self.ports.values()), context
        assert not self.loop_errors, f"{self.loop_errors[0]}: {context}"
        for d in self.ports.values():
            assert len(d.dedupe) <= d.dedupe.max_entries, context
            assert not d._tasks, context


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def run_fuzz(h: Harness, rng: random.Random, seconds: float, label: str) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    rss_start = rss_mb()
    rounds = 0
    while time.monotonic() < deadline:
        batch: list[str] = []
        for _ in range(BATCH):
            port, data = rng.choice(SEEDS)
            for _ in range(rng.randint(1, 3)):
                data = mutate(rng, data)
            if rng.random() < 0.5:
                data = resign(data)
            if rng.random() < 0.1:  # the other port: wrong code for the port
                port = "acct" if port == "auth" else "auth"
            # a source port per datagram, so that mutants sharing Identifier and authenticator
            # are not taken for retransmissions of each other (RFC 5080 §2.2.2 keys)
            source = (STRANGER[0] if rng.random() < 0.02 else NAS_ADDR, rng.randrange(1024, 65536))
            h.feed(port, data, source)
            if rng.random() < 0.05:  # a retransmission of the same bytes
                h.feed(port, data, source)
            batch.append(f"{port}:{data.hex()}")
        await h.settle(f"RADIUSD_FUZZ_SEED={SEED} {label}; one of the last {len(batch)}: {batch[-3:]}")
        rounds += 1
    grown = rss_mb() - rss_start
    figures = {"label": label, "datagrams": h.fed, "rounds": rounds, "rss_growth_mb": round(grown, 1),
               "max_dedupe": h.max_dedupe, "max_writer_depth": h.max_writer}  # fmt: skip
    print(f"datagram fuzz {figures}")
    assert grown < RSS_CAP_MB, f"RSS grew by {grown:.1f} MB in {label} (seed {SEED})"
    return figures


@pytest.fixture(autouse=True)
def quiet_logs(monkeypatch: pytest.MonkeyPatch) -> None:
    """One log line per drop would make the fuzz measure the terminal; the oracle is the stats."""
    import logging

    import structlog

    quiet = structlog.wrap_logger(
        structlog.PrintLogger(),
        wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL),
        processors=[structlog.processors.KeyValueRenderer()],
    )
    for name, module in list(sys.modules.items()):
        if name.startswith("radiusd.") and hasattr(module, "log"):
            monkeypatch.setattr(module, "log", quiet)


# -- setups ---------------------------------------------------------------------------------------


async def _seed_db(url: str) -> None:
    from radiusd.store.engine import create_engine, ensure_schema

    engine = create_engine(url)
    try:
        await ensure_schema(engine)
        await add_nas(engine, "fuzz-nas", NAS_ADDR, SECRET.decode())
        await add_pool(engine, "pooled", ranges=["100.64.0.0/26"])
        await add_plan(engine, "pooled", pool="pooled", rate_limit="10M/10M", session_timeout=3600,
                       interim_interval=300)  # fmt: skip
        rows = [{"username": u, "password": pw, "plan": plan or ""} for u, pw, plan in USERS]
        await import_subscribers(engine, rows)
    finally:
        await engine.dispose()


@pytest.fixture
async def daemon(tmp_path: Path) -> AsyncIterator[Daemon]:
    """The daemon's real wiring on a SQLite file, without sockets (Daemon.start minus bind)."""
    url = f"sqlite+aiosqlite:///{(tmp_path / 'fuzz.sqlite3').as_posix()}"
    await _seed_db(url)
    settings = Settings(
        database_url=url,
        data_dir=tmp_path,
        reject_delay=0.0,
        dedupe_max_entries=DEDUPE_MAX,
        writer_queue_max=WRITER_MAX,
    )
    d = Daemon(settings)
    await d.reload_all()
    await d.load_sessions()
    d.writer.start()
    await d.ipam.start()
    assert len(d.registry) == 1 and len(d.directory.subscribers) == len(USERS)
    try:
        yield d
    finally:
        await d.writer.close()
        await d.engine.dispose()


class Stub:
    """A handler whose outcome is drawn per request: sync reply, later reply, None, raise."""

    def __init__(self, rng: random.Random, reply_code: int) -> None:
        self.rng = rng
        self.reply_code = reply_code

    def handle(self, req: Request) -> Any:
        roll = self.rng.randrange(6)
        if roll == 0:
            raise RuntimeError("stub failure")
        if roll == 1:
            return None
        reply = req.packet.reply(self.reply_code)
        reply.add("Reply-Message", "x" * self.rng.choice([1, 200, 253]))
        if roll == 2:
            return reply

        async def later() -> Packet | None:
            await asyncio.sleep(self.rng.choice([0, 0, 0.001]))
            if roll == 3:
                raise ConnectionError("stub database away")
            return reply if roll == 4 else None

        return later()


def stub_dispatchers(rng: random.Random) -> tuple[Dispatcher, Dispatcher]:
    from radiusd.server.stats import Stats

    registry = NasRegistry([NasClient(1, "fuzz-nas", NAS_ADDR, SECRET)])
    stats = Stats()

    def make(handlers: dict[int, Any]) -> Dispatcher:
        return Dispatcher(registry=registry, handlers=handlers, dictionary=D, stats=stats,
                          dedupe=DedupeCache(30.0, DEDUPE_MAX), reject_delay=0.0)  # fmt: skip

    auth = make({Code.ACCESS_REQUEST: Stub(rng, Code.ACCESS_ACCEPT), Code.STATUS_SERVER: Stub(rng, 2)})
    acct = make({Code.ACCOUNTING_REQUEST: Stub(rng, Code.ACCOUNTING_RESPONSE)})
    return auth, acct


# -- tests ------------------------------------------------------------------------------------------


def _corpus() -> list[Path]:
    return sorted(CORPUS.glob("*.hex"))


def read_corpus(path: Path) -> tuple[str, bytes]:
    port = "auth"
    hexes = []
    for line in path.read_text().splitlines():
        body, _, comment = line.partition("#")
        if comment.strip().startswith("port:"):
            port = comment.split(":", 1)[1].strip()
        hexes.append(body.replace(" ", ""))
    return port, bytes.fromhex("".join(hexes))


@pytest.mark.parametrize("path", _corpus(), ids=lambda p: p.stem)
async def test_corpus(path: Path, daemon: Daemon) -> None:
    """Every input that once broke the datagram handler stays handled, on both setups."""
    port, data = read_corpus(path)
    h = Harness(daemon.auth_dispatcher, daemon.acct_dispatcher, daemon.writer)
    h.feed(port, data)
    h.feed(port, resign(data))
    await h.settle(path.name)
    for roll in range(6):  # each stub outcome in turn
        s = Harness(*stub_dispatchers(random.Random(roll)))
        s.feed(port, data)
        s.feed(port, resign(data))
        await s.settle(f"{path.name} (stubs)")


async def test_seeds_are_answered(daemon: Daemon) -> None:
    """The unmutated seeds pass every check and are answered (else the fuzz would only test drops)."""
    h = Harness(daemon.auth_dispatcher, daemon.acct_dispatcher, daemon.writer)
    for port, data in SEEDS:
        h.feed(port, data)
        await h.settle(f"seed {data.hex()}")
    stats = daemon.auth_dispatcher.stats
    assert sum(stats.drops.values()) == 0, dict(stats.drops)
    assert stats.requests[("access", "accept")] == 3, stats.requests
    assert stats.requests[("access", "reject")] == 1
    assert stats.requests[("accounting", "ok")] == 4


async def test_fuzz_real_policies_for_budget(daemon: Daemon) -> None:
    """Mutants through the real policies on SQLite; the seed is in any failure message."""
    h = Harness(daemon.auth_dispatcher, daemon.acct_dispatcher, daemon.writer)
    figures = await run_fuzz(h, random.Random(SEED), BUDGET * 0.6, "real policies, SQLite")
    stats = daemon.auth_dispatcher.stats
    print(f"  drops by reason: {dict(stats.drops.most_common())}")
    print(f"  replies: {dict(stats.requests)} duplicates {stats.duplicates}")
    assert figures["max_dedupe"] <= DEDUPE_MAX and figures["max_writer_depth"] <= WRITER_MAX
    assert sum(stats.requests.values()) > 0, "no mutant was ever answered: the fuzz is too shallow"
    deep = {"bad-authenticator", "bad-message-authenticator", "unexpected-code", "truncated"}
    assert deep & set(stats.drops), dict(stats.drops)


async def test_fuzz_stub_handlers_for_budget() -> None:
    """Mutants through stub handlers with every outcome (reply now/later, none, raise)."""
    rng = random.Random(SEED ^ 0xA5A5)
    auth, acct = stub_dispatchers(rng)
    h = Harness(auth, acct)
    await run_fuzz(h, rng, BUDGET * 0.4, "stub handlers")
    assert {"handler-error", "no-reply"} <= set(auth.stats.drops), dict(auth.stats.drops)


async def test_flood_of_distinct_requests_keeps_dedupe_bounded() -> None:
    """More distinct requests than the dedupe cache holds: it stays at its bound."""
    auth, acct = stub_dispatchers(random.Random(SEED))
    auth.handlers = {Code.ACCESS_REQUEST: Answer()}
    h = Harness(auth, acct)
    for i in range(DEDUPE_MAX * 4):
        h.feed("auth", _access("fz-plain", b"pw", i % 256, extra=i % 251))
    await h.settle("dedupe flood")
    assert len(auth.dedupe) == DEDUPE_MAX
    assert sum(auth.stats.requests.values()) == DEDUPE_MAX * 4


class Answer:
    def handle(self, req: Request) -> Packet:
        return req.packet.reply(Code.ACCESS_ACCEPT)
