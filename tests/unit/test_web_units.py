"""The web console's pure parts: the search box's parsing, MAC forms, SVG charts (escaped,
sized, threshold marked), request rates from counter samples, operator password hashing."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from collections import Counter

import pytest

from radiusd.store.errors import InvalidInput
from radiusd.store.operators import check_new_password, check_password, hash_password, session_key
from radiusd.web import _safe_next, is_console
from radiusd.web.charts import hbars, human_bytes, sparkline, usage_chart, utilisation_bar
from radiusd.web.lookup import mac_forms, parse_query
from radiusd.web.rates import Rates


@pytest.mark.parametrize(
    ("text", "kind", "parsed", "at"),
    [
        ("100.64.3.7", "address", "100.64.3.7", None),
        ("100.64.3.7/32", "address", "100.64.3.7", None),
        (
            "100.64.3.7 2026-11-02 14:00",
            "address",
            "100.64.3.7",
            dt.datetime(2026, 11, 2, 14, 0, tzinfo=dt.UTC),
        ),
        (
            "100.64.3.7 2026-11-02T14:00+01:00",
            "address",
            "100.64.3.7",
            dt.datetime(2026, 11, 2, 13, tzinfo=dt.UTC),
        ),
        ("100.64.3.0/24", "prefix", "100.64.3.0/24", None),
        ("2001:db8:1::/56", "address", "2001:db8:1::/56", None),
        ("AA-BB-CC-00-11-22", "mac", "aabbcc001122", None),
        ("aabb.cc00.1122", "mac", "aabbcc001122", None),
        ("alice", "username", "alice", None),
        ("ab:cd", "username", "ab:cd", None),
    ],
)
def test_search_box_guesses_the_kind(text: str, kind: str, parsed: str, at: dt.datetime | None) -> None:
    q = parse_query(text)
    assert (q.kind, q.text, q.at) == (kind, parsed, at)


def test_search_box_refuses_what_it_cannot_read() -> None:
    for text, kind in (("", "auto"), ("nope", "address"), ("12:34", "mac"), ("100.64.3.7 yesterday", "auto")):
        with pytest.raises(InvalidInput):
            parse_query(text, kind)
    assert parse_query("ether5", "port").kind == "port"


def test_mac_forms_cover_what_nas_send() -> None:
    forms = mac_forms("aabbcc001122")
    for text in ("aa:bb:cc:00:11:22", "AA-BB-CC-00-11-22", "aabbcc001122", "AABB.CC00.1122"):
        assert text in forms


def test_charts_are_valid_svg_with_escaped_text() -> None:
    bar = utilisation_bar(95.0, 90.0, label="<pool>")
    root = ET.fromstring(str(bar))
    rects = root.findall("{*}rect") or root.findall("rect")
    assert rects[1].get("width") == "190.0" and rects[1].get("fill") == "#c0392b"  # over the threshold
    assert root.find("line") is not None and "&lt;pool&gt;" in str(bar)
    assert utilisation_bar(10.0, 90.0).count("#2e7d32") == 1
    full = utilisation_bar(250.0, None)
    assert 'width="200.0"' in full and "<line" not in full  # clamped, no threshold line
    bars = hbars([("<script>", 3), ("b", 1)])
    ET.fromstring(str(bars))
    assert "<script>" not in bars and "&lt;script&gt;" in bars
    start = dt.date(2026, 11, 1)
    chart = usage_chart([(start, 10**9, 4 * 10**9)], start=start, end=start + dt.timedelta(days=29))
    svg = ET.fromstring(str(chart))
    assert len(svg.findall("g")) == 30 and "5.0 GB" in chart


def test_sparkline_and_rate_history() -> None:
    r = Rates()
    for t, n in ((0.0, 0), (5.0, 50), (10.0, 50), (15.0, 200)):
        r.update(Counter(access=n), now=t)
    assert r.history("access") == [10.0, 0.0, 30.0]
    line = sparkline(r.history("access"), label="a<b")
    svg = ET.fromstring(str(line))
    points = svg.find("polyline").get("points").split()  # type: ignore[union-attr]
    assert len(points) == 3 and points[2].endswith(",2.0") and points[1].endswith(",26.0")  # top, bottom
    assert sparkline([1.0]) == ""


def test_human_bytes() -> None:
    assert [human_bytes(n) for n in (0, 999, 1000, 1_500_000, 2 * 10**12)] == ["0 B", "999 B", "1.0 kB",
                                                                              "1.5 MB", "2.0 TB"]  # fmt: skip


def test_rates_from_counter_samples() -> None:
    r = Rates(window=10)
    assert r.update(Counter(a=0), now=100.0) is None  # nothing to compare with yet
    assert r.update(Counter(a=5), now=100.5) is None  # under a second
    assert r.update(Counter(a=20), now=102.0) == {"a": 10.0}
    rates = r.update(Counter(a=120), now=112.0)
    assert rates == {"a": 10.0}  # (120 - 5) / 11.5: against the newest sample at least 10 s old


def test_operator_passwords() -> None:
    stored = hash_password("correct horse battery", rounds=4)
    assert stored.startswith("$2b$04$") and check_password("correct horse battery", stored)
    assert not check_password("correct horse batterx", stored)
    assert not check_password("x", "not-a-hash")
    long = "p" * 100  # longer than bcrypt's 72 bytes: the whole of it counts
    assert not check_password(long + "q", hash_password(long + "r", rounds=4))
    with pytest.raises(InvalidInput):
        check_new_password("short")
    assert session_key("a") != session_key("b") and len(session_key("a")) == 64


def test_console_paths_and_redirects() -> None:
    assert (
        is_console("/ui") and is_console("/ui/login") and not is_console("/uix") and not is_console("/docs")
    )
    assert _safe_next("/ui/subscribers/alice?days=90") == "/ui/subscribers/alice?days=90"
    for bad in ("https://evil.example/", "//evil.example/ui/", "/docs", "/ui\\..\\x", ""):
        assert _safe_next(bad) == "/ui/dashboard"
