"""Bounded fuzzing of radiusd.codec.decode (it reads whatever the network sends: never a crash, a hang or a
truncated value, and any input of up to 4096 bytes decodes in bounded time).

Valid packets (RFC 2865 §3 layout, with VSAs, tagged, extended and long-extended
attributes and a Message-Authenticator) are mutated: bit flips, byte overwrites,
truncation, insertion, Length-field and attribute-length edits. Each input must decode or
raise MalformedPacket, and every accessor the daemon uses must then work on it.

Time budget: RADIUSD_FUZZ_SECONDS (default 10) is split between a Hypothesis run and a
seeded random-mutation loop (RADIUSD_FUZZ_SEED to replay one). Crashes found become hex
files in tests/fuzz/corpus/, replayed by test_corpus on every run.
"""

from __future__ import annotations

import os
import random
import signal
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from radiusd.codec import MalformedPacket, Packet, decode, encode_reply, encode_request
from radiusd.codec.dictionary import AttributeDef, Dictionary, default_dictionary_path
from radiusd.codec.scanning import verify_message_authenticator

BUDGET = float(os.environ.get("RADIUSD_FUZZ_SECONDS", "10"))
SEED = int(os.environ.get("RADIUSD_FUZZ_SEED", str(random.SystemRandom().randrange(2**32))))
CORPUS = Path(__file__).parent / "corpus"
SECRET = b"fuzz-secret"
PER_CALL_LIMIT = 0.05  # seconds: decode of up to 4096 octets
HANG_LIMIT = 1.0  # seconds: everything check() does with one input


def _dictionary() -> Dictionary:
    """The shipped dictionaries plus long-extended attributes (none ship in 245/246)."""
    d = Dictionary.load(default_dictionary_path())
    with tempfile.TemporaryDirectory() as tmp:
        extra = Path(tmp) / "dictionary.fuzz"
        extra.write_text(
            "ATTRIBUTE Fuzz-Long 245.200 octets\n"
            "ATTRIBUTE Fuzz-Evs 246.26.9.7 octets\n"
            "ATTRIBUTE Fuzz-Ext-Evs 241.26.9.5 integer\n"
        )
        d.load_file(extra)
    return d


D = _dictionary()
DEFS_BY_TYPE: dict[int, list[AttributeDef]] = {}
for _d in D.by_key.values():
    DEFS_BY_TYPE.setdefault(_d.key[0], []).append(_d)


def _seeds() -> list[bytes]:
    """Valid packets to mutate: every attribute shape the codec knows."""
    auth = bytes(range(16))
    req = Packet(1, 1, auth, dictionary=D)
    req.add("User-Name", "alice@example.net").set_user_password(b"hunter2", SECRET)
    req.add("NAS-IP-Address", "10.0.0.1").add("NAS-Port", 7).add("Calling-Station-Id", "aa-bb")
    req.add("Framed-IPv6-Prefix", "2001:db8::/56").add("Event-Timestamp", 1_700_000_000)
    req.add("Cisco-AVPair", "ip:addr-pool=x").add("Mikrotik-Rate-Limit", "10M/10M")
    req.add_raw(33, b"proxy")
    req.authenticator = auth
    seeds = [encode_request(req, SECRET, message_auth=True)]
    acc = Packet(2, 1, auth, dictionary=D)
    acc.add("Tunnel-Type", "VLAN", tag=1).add("Tunnel-Private-Group-Id", "100", tag=1)
    acc.add("Framed-Interface-Id", "0011:2233:4455:6677").add("Ubiquiti-Data-Rate-DL", 2**33)
    acc.add("Frag-Status", 1).add("Fuzz-Long", bytes(range(256)) * 2).add("Fuzz-Evs", b"\x01\x02")
    acc.add("MS-MPPE-Send-Key", bytes(34)).add("Framed-IP-Address", "100.64.0.1")
    seeds.append(encode_reply(acc, SECRET))
    seeds.append(
        bytes.fromhex("0cda00268a54f4686fb394c52866e302185d062350125a665e2e1e8411f3e243822097c84fa3")
    )
    return seeds


SEEDS = _seeds()


class Hang(Exception):
    """Raised by SIGALRM when one input takes longer than HANG_LIMIT: a hang is a failure."""


def _alarm(signum: int, frame: object) -> None:
    raise Hang(f"no result after {HANG_LIMIT} s")


signal.signal(signal.SIGALRM, _alarm)


def check(data: bytes) -> None:
    """:func:`_check` under an alarm, so that a hang fails with its input instead of
    blocking the run."""
    signal.setitimer(signal.ITIMER_REAL, HANG_LIMIT)
    try:
        _check(data)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def _assert_fast(data: bytes, elapsed: float) -> None:
    """Decode must take < PER_CALL_LIMIT. The machine is shared, so one slow wall-clock
    reading (a scheduling or GC pause) is re-timed: a truly slow input is slow every time."""
    if elapsed < PER_CALL_LIMIT:
        return
    for _ in range(3):
        start = time.perf_counter()
        try:
            decode(data, D)
        except MalformedPacket:
            pass
        elapsed = min(elapsed, time.perf_counter() - start)
    assert elapsed < PER_CALL_LIMIT, f"decode took {elapsed * 1000:.1f} ms (best of 4)"


def _check(data: bytes) -> None:
    """The oracle: decode succeeds or raises MalformedPacket, quickly; an accepted packet
    can be read, logged, answered and re-encoded with no other exception."""
    start = time.perf_counter()
    try:
        p = decode(data, D)
    except MalformedPacket as e:
        assert e.reason
        _assert_fast(data, time.perf_counter() - start)
        if len(data) >= 20:
            verify_message_authenticator(data, SECRET)
        return
    _assert_fast(data, time.perf_counter() - start)
    length = (data[2] << 8) | data[3]
    assert p.to_bytes() == data[:length]
    verify_message_authenticator(data, SECRET, offset=p.ma_offset or None)
    for t in {t for t, _ in p.attributes}:
        for d in DEFS_BY_TYPE.get(t, ()):
            p.get(d)
            p.get_all(d)
            p.get_tagged(d)
    for _name, _value, _def in p.items():
        pass
    try:
        p.user_password(SECRET)
    except MalformedPacket as e:
        assert e.reason == "bad-user-password"
    try:
        encode_reply(p.reply(2), SECRET)
    except ValueError as e:  # only "too long" is acceptable
        assert "exceeds" in str(e)


def mutate(rng: random.Random, data: bytes) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(8)
        if op == 0 and b:  # bit flip
            b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
        elif op == 1 and b:  # byte overwrite with an interesting value
            b[rng.randrange(len(b))] = rng.choice([0, 1, 2, 3, 6, 18, 26, 80, 127, 128, 245, 253, 254, 255])
        elif op == 2:  # truncate
            del b[rng.randrange(len(b) + 1) :]
        elif op == 3 and len(b) >= 4:  # Length field edit
            n = rng.choice([0, 19, 20, len(b) - 1, len(b), len(b) + 1, 4096, 4097, rng.randrange(65536)])
            b[2:4] = (n % 65536).to_bytes(2, "big")
        elif op == 4 and len(b) > 21:  # attribute length octet edit (on the attribute walk)
            offsets, i = [], 20
            while i + 1 < len(b) and b[i + 1] >= 2:
                offsets.append(i)
                i += b[i + 1]
            if offsets:
                b[rng.choice(offsets) + 1] = rng.choice([0, 1, 2, 3, rng.randrange(256)])
        elif op == 5:  # insert random octets
            at = rng.randrange(len(b) + 1)
            b[at:at] = rng.randbytes(rng.randint(1, 8))
        elif op == 6:  # append padding / garbage
            b += rng.randbytes(rng.randint(1, 16))
        elif op == 7 and len(b) > 26:  # vendor sub-attribute length edit inside a VSA
            i = b.find(26, 20)
            if i > 0 and i + 7 < len(b):
                b[i + 7] = rng.choice([0, 1, 2, 255])
    return bytes(b[:4200])


# -- corpus ------------------------------------------------------------------------------


def _corpus() -> list[Path]:
    return sorted(CORPUS.glob("*.hex"))


@pytest.mark.parametrize("path", _corpus(), ids=lambda p: p.stem)
def test_corpus(path: Path) -> None:
    """Every input that once crashed or hung the codec stays fixed."""
    data = bytes.fromhex(
        "".join(line.split("#", 1)[0] for line in path.read_text().splitlines()).replace(" ", "")
    )
    check(data)


def test_seeds_are_valid() -> None:
    """The mutation seeds decode (otherwise the fuzz would only test the header checks)."""
    for s in SEEDS:
        decode(s, D)
        check(s)


def test_worst_case_inputs_are_fast() -> None:
    """RFC 2865 §3 caps Length at 4096: the most attributes (2038 of 2 octets), the most
    vendor sub-attributes and a 16-fragment long-extended chain all decode within budget."""
    header = bytes((1, 1, 0x10, 0x00)) + bytes(16)
    fill = b"\x12\xfb" + b"y" * 249  # one 251-octet Reply-Message completes 4096
    vsa = b"\x1a\xff\x00\x00\x00\x09" + b"\x01\x02" * 123 + b"\x01\x03x"
    cases = [
        header + b"\x1a\x02" * 2038,
        header + vsa * 15 + fill,
        header + (b"\xf5\xff\xc8\x80" + bytes(251)) * 15 + fill,
        header + b"\x50\x12" + bytes(16) + b"\x02\x02" * 2029,
    ]
    for data in cases:
        assert len(data) == 4096
        start = time.perf_counter()
        check(data)
        assert time.perf_counter() - start < 1.0


# -- the fuzz ----------------------------------------------------------------------------


@settings(
    max_examples=max(100, int(BUDGET * 150)),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
    phases=(Phase.generate,),  # no shrinking: each failing input is printed as hex already
)
@given(st.sampled_from(SEEDS), st.randoms(use_true_random=False), st.integers(1, 6))
def test_fuzz_hypothesis_mutations(seed: bytes, rng: random.Random, rounds: int) -> None:
    """Hypothesis-driven mutation chains of the seeds (shrinks a failure to few mutations)."""
    data = seed
    for _ in range(rounds):
        data = mutate(rng, data)
        try:
            check(data)
        except BaseException as e:
            raise AssertionError(f"input={data.hex()}") from e


def test_fuzz_random_mutations_for_budget() -> None:
    """Seeded mutation loop for half the budget; the seed is in the failure message."""
    rng = random.Random(SEED)
    deadline = time.monotonic() + BUDGET / 2
    n = 0
    while time.monotonic() < deadline:
        data = rng.choice(SEEDS)
        for _ in range(rng.randint(1, 6)):
            data = mutate(rng, data)
            try:
                check(data)
            except BaseException as e:
                raise AssertionError(f"RADIUSD_FUZZ_SEED={SEED} input={data.hex()}") from e
        n += 1
    assert n > 0


def test_fuzz_arbitrary_bytes_for_budget() -> None:
    """Unstructured input, including headers whose Length matches (so attributes are walked)."""
    rng = random.Random(SEED ^ 0x5A5A)
    deadline = time.monotonic() + BUDGET / 5
    while time.monotonic() < deadline:
        body = rng.randbytes(rng.randrange(0, 300))
        data = bytes((rng.randrange(256), 0)) + (20 + len(body)).to_bytes(2, "big") + bytes(16) + body
        for candidate in (data, rng.randbytes(rng.randrange(0, 64))):
            try:
                check(candidate)
            except BaseException as e:
                raise AssertionError(f"RADIUSD_FUZZ_SEED={SEED} input={candidate.hex()}") from e
