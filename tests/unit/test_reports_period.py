"""Period parsing for exports: dates are UTC day starts, datetimes become UTC, --to is exclusive."""

from __future__ import annotations

import datetime as dt

import pytest

from radiusd.store.errors import InvalidInput
from radiusd.store.reports import Period, parse_when

UTC = dt.UTC


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-01", dt.datetime(2024, 5, 1, tzinfo=UTC)),
        (" 2024-05-01 ", dt.datetime(2024, 5, 1, tzinfo=UTC)),
        ("2024-05-01T06:30", dt.datetime(2024, 5, 1, 6, 30, tzinfo=UTC)),  # naive means UTC
        ("2024-05-01 06:30:15", dt.datetime(2024, 5, 1, 6, 30, 15, tzinfo=UTC)),
        ("2024-05-01T06:30:00Z", dt.datetime(2024, 5, 1, 6, 30, tzinfo=UTC)),
        ("2024-05-01T06:30:00+02:00", dt.datetime(2024, 5, 1, 4, 30, tzinfo=UTC)),
        ("2024-05-01T00:30:00-01:00", dt.datetime(2024, 5, 1, 1, 30, tzinfo=UTC)),
    ],
)
def test_parse_when(text: str, expected: dt.datetime) -> None:
    got = parse_when(text)
    assert got == expected
    assert got.tzinfo is UTC


@pytest.mark.parametrize(
    "text", ["", "yesterday", "2024-13-01", "2024-02-30", "01/05/2024", "2024-05-01T25:00"]
)
def test_parse_when_rejects(text: str) -> None:
    with pytest.raises(InvalidInput, match="is not a date"):
        parse_when(text)


def test_period_must_not_be_empty() -> None:
    with pytest.raises(InvalidInput, match="period is empty"):
        Period.parse("2024-05-02", "2024-05-01")
    with pytest.raises(InvalidInput, match="period is empty"):
        Period.parse("2024-05-01", "2024-05-01T00:00Z")
    with pytest.raises(InvalidInput, match="timezone-aware"):
        Period(dt.datetime(2024, 5, 1), dt.datetime(2024, 5, 2))


def test_whole_days_widens_outwards() -> None:
    day = dt.timedelta(days=1)
    start = dt.datetime(2024, 5, 1, tzinfo=UTC)
    assert Period(start, start + day).whole_days() == Period(start, start + day)
    inner = Period(start + dt.timedelta(hours=5), start + day + dt.timedelta(seconds=1))
    assert inner.whole_days() == Period(start, start + 2 * day)
