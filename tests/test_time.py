"""The time policy: units for numbers, the supported range, pandas columns, datetime64 units."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from privdomain.domain._time import epoch_micros, epoch_micros_array
from privdomain.errors import NaiveDatetimeError, PrivdomainError, ValidationError

JAN_2026 = 1_767_225_600  # 2026-01-01T00:00:00Z in seconds


@pytest.mark.parametrize(
    ("values", "unit", "expected_seconds"),
    [
        ([JAN_2026], "s", JAN_2026),
        ([JAN_2026 * 1000], "ms", JAN_2026),
        ([JAN_2026 * 1_000_000], "us", JAN_2026),
        ([JAN_2026 * 1_000_000_000], "ns", JAN_2026),
        (np.array([JAN_2026], dtype=np.uint64), "s", JAN_2026),
        ([float(JAN_2026) + 0.5], "s", JAN_2026),
    ],
)
def test_numbers_with_a_unit(values, unit, expected_seconds) -> None:
    micros = epoch_micros_array(values, epoch_unit=unit)
    assert micros.tolist() == [
        expected_seconds * 1_000_000 + (500_000 if isinstance(values[0], float) else 0)
    ]


@pytest.mark.parametrize(
    ("values", "unit"),
    [
        ([19970101], None),  # a YYYYMMDD column straight from read_csv
        ([JAN_2026], None),
        ([JAN_2026 * 1000], "s"),  # milliseconds read as seconds: the year 58,000
        (np.array([2**64 - 1], dtype=np.uint64), "us"),
        (np.array(["300000-01-01"], dtype="datetime64[D]"), None),
        (np.array(["1800-01-01"], dtype="datetime64[D]"), None),
        (np.array(["2200-01-01"], dtype="datetime64[s]"), None),
        (np.array(["NaT"], dtype="datetime64[s]"), None),
        (np.array([1], dtype="datetime64[ps]"), None),
        ([float("nan")], "s"),
        ([JAN_2026], "days"),
        (np.array([[JAN_2026]]), "s"),
        (JAN_2026, "s"),
        ("2026-01-01", None),
        ([True], "s"),
    ],
)
def test_refused(values, unit) -> None:
    with pytest.raises(ValidationError) as info:
        epoch_micros_array(values, epoch_unit=unit)
    assert isinstance(info.value, PrivdomainError)


def test_the_message_shows_how_to_pass_dates() -> None:
    with pytest.raises(ValidationError, match="YYYYMMDD"):
        epoch_micros_array([19970101])


def test_extreme_datetimes_with_an_offset_are_refused_not_overflowed() -> None:
    far = dt.timezone(dt.timedelta(hours=-12))
    for value in (
        dt.datetime(9999, 12, 31, 23, tzinfo=far),
        dt.datetime(1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=12))),
    ):
        with pytest.raises(ValidationError):
            epoch_micros(value)
    with pytest.raises(NaiveDatetimeError):
        epoch_micros(dt.datetime(2026, 1, 1))


def test_a_timezone_aware_pandas_column_is_read_in_utc() -> None:
    index = pd.Index([10, 20])
    series = pd.Series(
        pd.to_datetime(["2026-01-01 08:00", "2026-01-02 08:00"]).tz_localize("Asia/Shanghai"),
        index=index,
    )
    expected = np.array(["2026-01-01T00:00", "2026-01-02T00:00"], dtype="datetime64[us]")
    assert epoch_micros_array(series).tolist() == expected.astype(np.int64).tolist()
    assert (
        epoch_micros_array(pd.DatetimeIndex(series)).tolist() == expected.astype(np.int64).tolist()
    )


def test_datetime64_of_any_unit_from_years_to_nanoseconds() -> None:
    for unit in ("Y", "M", "W", "D", "h", "m", "s", "ms", "us", "ns"):
        value = np.array(["2026-01-01"], dtype="datetime64[D]").astype(f"datetime64[{unit}]")
        micros = epoch_micros_array(value)
        assert micros[0] <= JAN_2026 * 1_000_000 + 1  # floored to the unit's start
