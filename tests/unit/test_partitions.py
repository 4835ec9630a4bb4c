"""Partition arithmetic and names (radiusd.store.partitions), and the retention settings."""

from __future__ import annotations

import datetime as dt

import pytest

from radiusd.config import ConfigError, load_settings
from radiusd.store.partitions import ACCOUNTING, ASSIGNMENTS, INTERIMS, is_partition_name
from radiusd.store.retention import Retention


def test_month_partitions_step_over_the_year_end() -> None:
    starts = list(ACCOUNTING.starts(dt.date(2030, 11, 17), dt.date(2031, 2, 1)))
    assert starts == [dt.date(2030, 11, 1), dt.date(2030, 12, 1), dt.date(2031, 1, 1), dt.date(2031, 2, 1)]
    assert ACCOUNTING.partition_name(dt.date(2030, 12, 1)) == "radius_accounting_p203012"


def test_day_partitions_include_the_leap_day() -> None:
    days = list(INTERIMS.starts(dt.date(2032, 2, 28), dt.date(2032, 3, 1)))
    assert days == [dt.date(2032, 2, 28), dt.date(2032, 2, 29), dt.date(2032, 3, 1)]


def test_names_parse_back_and_foreign_tables_are_not_ours() -> None:
    assert INTERIMS.start_of("radius_interim_updates_p20310131") == dt.date(2031, 1, 31)
    assert ASSIGNMENTS.start_of("service_ip_assignments_p203102") == dt.date(2031, 2, 1)
    # a month name on a day table, a bad date, someone else's table: never dropped
    assert INTERIMS.start_of("radius_interim_updates_p203101") is None
    assert INTERIMS.start_of("radius_interim_updates_p20310231") is None
    assert INTERIMS.start_of("radius_interim_updates_archive") is None
    assert is_partition_name("radius_accounting_default")
    assert not is_partition_name("radius_accounting")


def test_floor_is_utc() -> None:
    late = dt.datetime(2031, 1, 31, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    assert INTERIMS.floor(late) == dt.date(2031, 2, 1)  # 04:30 UTC on the 1st
    assert ACCOUNTING.floor(late) == dt.date(2031, 2, 1)


def test_retention_from_settings() -> None:
    policy = Retention.from_settings(load_settings(interim_retention=10, events_retention=90))
    assert policy.days(INTERIMS) == 10 and policy.days("radius_accounting_events") == 90
    assert policy.days(ACCOUNTING) == 400 and policy.days(ASSIGNMENTS) == 400
    assert load_settings().interim_downsample_after == 0


@pytest.mark.parametrize(
    "overrides",
    [{"interim_retention": 0}, {"assignment_history_retention": -1}, {"interim_downsample_after": 35},
     {"interim_downsample_after": -2}, {"session_retention": "a year"}],
)  # fmt: skip
def test_invalid_retention_is_refused(overrides: dict[str, object]) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(None, **overrides)
    assert next(iter(overrides)) in str(info.value) and "\n" not in str(info.value)
