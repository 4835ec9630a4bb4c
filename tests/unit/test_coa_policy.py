"""RFC 5080 §2.2.1 retransmission arithmetic and reply checks of the CoA client (no sockets)."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from radiusd.coa.client import DynamicAuthClient, RetransmitPolicy
from radiusd.codec import Code, Packet, encode_reply

SECRET = b"unit-s3cret"


@given(st.lists(st.floats(min_value=-0.1, max_value=0.1), min_size=1, max_size=12))
def test_rt_follows_rfc5080_with_bounded_jitter(rands: list[float]) -> None:
    policy = RetransmitPolicy()
    rt = None
    for r in rands:
        new = policy.next_rt(rt, r)
        if rt is None:
            assert 1.8 <= new <= 2.2
        elif 2 * rt + r * rt <= 16.0:
            assert new == 2 * rt + r * rt
        else:
            assert 14.4 <= new <= 17.6  # MRT + RAND*MRT
        rt = new


def test_default_policy_is_rfc5080() -> None:
    p = RetransmitPolicy()
    assert (p.irt, p.mrc, p.mrt, p.mrd, p.rand) == (2.0, 5, 16.0, 30.0, 0.1)


def test_default_rand_is_uniform_within_ten_percent() -> None:
    client = DynamicAuthClient()
    values = [client.rand() for _ in range(2000)]
    assert all(-0.1 <= v <= 0.1 for v in values)
    assert min(values) < -0.08 and max(values) > 0.08


def _request(client: DynamicAuthClient) -> tuple[Packet, bytes]:
    from radiusd.codec import encode_request

    request = client.build(Code.DISCONNECT_REQUEST, [("User-Name", "alice")], identifier=17)
    return request, encode_request(request, SECRET, message_auth=True)


def test_check_reply_accepts_only_a_verified_answer() -> None:
    client = DynamicAuthClient(wallclock=lambda: 1_800_000_000.0)
    request, _ = _request(client)
    assert request.get("Event-Timestamp") == 1_800_000_000

    good = encode_reply(request.reply(Code.DISCONNECT_ACK), SECRET)
    assert client.check_reply(good, request, SECRET) is not None
    assert (
        client.check_reply(encode_reply(request.reply(Code.DISCONNECT_ACK), b"other"), request, SECRET)
        is None
    )
    wrong_code = encode_reply(request.reply(Code.COA_ACK), SECRET)
    assert client.check_reply(wrong_code, request, SECRET) is None
    other = request.reply(Code.DISCONNECT_ACK)
    other.identifier = 18
    assert client.check_reply(encode_reply(other, SECRET), request, SECRET) is None
    assert client.check_reply(good[:10], request, SECRET) is None

    stale = request.reply(Code.DISCONNECT_NAK)
    stale.add("Event-Timestamp", 1_800_000_000 - 301)  # outside RFC 5176 §6.3's 300 s window
    assert client.check_reply(encode_reply(stale, SECRET), request, SECRET) is None
    fresh = request.reply(Code.DISCONNECT_NAK)
    fresh.add("Event-Timestamp", 1_800_000_000 - 10)
    fresh.add("Error-Cause", 503)
    reply = client.check_reply(encode_reply(fresh, SECRET), request, SECRET)
    assert reply is not None and reply.get("Error-Cause") == 503


def test_identifiers_vary() -> None:
    client = DynamicAuthClient()
    random.seed(1)
    ids = {client.build(Code.COA_REQUEST, [("User-Name", "a")]).identifier for _ in range(64)}
    assert len(ids) > 16
