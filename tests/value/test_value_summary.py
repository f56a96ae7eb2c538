"""rfm_summary and rfm_summary_from_snapshot: lifetimes' semantics, hand-built and randomised."""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs
import numpy as np
import pytest
import value_reference as ref
from hypothesis import given, settings
from hypothesis import strategies as st

from privdomain.errors import EmptyPoolError, NaiveDatetimeError, ValidationError
from privdomain.value import (
    PeriodUnitWarning,
    RFMSummary,
    rfm_summary,
    rfm_summary_from_snapshot,
)

UTC = dt.UTC

# Six purchases of three customers. The expected numbers below are worked out by hand from
# lifetimes' rules (and are what lifetimes 0.11.3's summary_data_from_transaction_data returns).
IDS = np.array([1, 1, 1, 2, 2, 3])
WHEN = np.array(
    [
        "2020-01-01T10:00",
        "2020-01-01T23:00",
        "2020-02-15T00:00",
        "2020-01-31T00:00",
        "2020-03-02T20:00",
        "2020-03-03T00:00",
    ],
    dtype="datetime64[s]",
)
AMOUNT = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
END = dt.datetime(2020, 3, 2, 12, tzinfo=UTC)


def test_daily_periods_merge_same_day_and_hide_what_follows_the_end() -> None:
    s = rfm_summary(IDS, WHEN, AMOUNT, observation_end=END)
    # Customer 3 buys on the day after the end: left out. Customer 2's purchase at 20:00 on the
    # end day comes after the end instant (12:00): invisible, as in a snapshot as of END.
    assert s.customer_ids.tolist() == [1, 2]
    assert s.frequency.tolist() == [1.0, 0.0]  # 1 Jan (twice) and 15 Feb; 31 Jan only
    assert s.recency.tolist() == [45.0, 0.0]
    assert s.T.tolist() == [61.0, 31.0]  # 2020 is a leap year: 1 Jan -> 2 Mar is 61 days
    assert s.monetary_value is not None
    assert s.monetary_value.tolist() == [3.0, 0.0]  # the first day's 1 + 2 is excluded


def test_the_end_of_the_last_day_counts_that_day_whole_as_lifetimes_does() -> None:
    end_of_day = dt.datetime(2020, 3, 2, 23, 59, 59, 999_999, tzinfo=UTC)
    s = rfm_summary(IDS, WHEN, AMOUNT, observation_end=end_of_day)
    assert s.frequency.tolist() == [1.0, 1.0]  # 31 Jan and 2 Mar 20:00
    assert s.recency.tolist() == [45.0, 31.0]
    assert s.T.tolist() == [61.0, 31.0]


def test_weekly_periods_start_on_monday() -> None:
    end = dt.datetime(2020, 3, 3, tzinfo=UTC)
    weekly = rfm_summary(IDS, WHEN, AMOUNT, observation_end=end, period="W")
    # 1 Jan 2020 is a Wednesday: its week starts Mon 30 Dec 2019. 3 Mar 00:00 is the end.
    assert weekly.time_unit == "W"  # the unit follows the period, as lifetimes' freq
    assert weekly.customer_ids.tolist() == [1, 2, 3]
    assert weekly.frequency.tolist() == [1.0, 1.0, 0.0]
    assert weekly.recency.tolist() == [6.0, 5.0, 0.0]
    assert weekly.T.tolist() == [9.0, 5.0, 0.0]


def test_hourly_periods() -> None:
    s = rfm_summary(IDS, WHEN, AMOUNT, observation_end=END, period="h")
    assert s.frequency.tolist() == [2.0, 0.0]  # 20:00 on 2 Mar is after the end
    assert s.recency.tolist() == [44 * 24 + 14, 0.0]
    assert s.T.tolist() == [61 * 24 + 2, 31 * 24 + 12]
    assert s.monetary_value is not None
    assert s.monetary_value.tolist() == [2.5, 0.0]


def test_daily_periods_in_weeks() -> None:
    # lifetimes: freq="D", freq_multiplier=7.
    s = rfm_summary(IDS, WHEN, AMOUNT, observation_end=END, period="D", time_unit="W")
    np.testing.assert_allclose(s.recency, [45 / 7, 0.0])
    np.testing.assert_allclose(s.T, [61 / 7, 31 / 7])


def test_monthly_periods_count_calendar_months() -> None:
    end = dt.datetime(2020, 3, 3, tzinfo=UTC)
    s = rfm_summary(IDS, WHEN, AMOUNT, observation_end=end, period="M")
    assert s.customer_ids.tolist() == [1, 2, 3]
    assert s.frequency.tolist() == [1.0, 1.0, 0.0]
    assert s.recency.tolist() == [1.0, 2.0, 0.0]
    assert s.T.tolist() == [2.0, 2.0, 0.0]
    with pytest.warns(PeriodUnitWarning, match="leave time_unit out"):
        days = rfm_summary(IDS, WHEN, observation_end=end, period="M", time_unit="D")
    assert days.T.tolist() == [60.0, 60.0, 0.0]  # 1 Jan -> 1 Mar 2020


def test_utc_offset_moves_day_boundaries() -> None:
    ids = ["a", "a"]
    when = np.array(["2024-05-01T15:00", "2024-05-01T17:00"], dtype="datetime64[s]")
    end = dt.datetime(2024, 5, 10, tzinfo=UTC)
    assert rfm_summary(ids, when, observation_end=end).frequency.tolist() == [0.0]
    # In UTC+8 the second purchase falls on 2 May (01:00 local).
    shanghai = rfm_summary(ids, when, observation_end=end, utc_offset=dt.timedelta(hours=8))
    assert shanghai.frequency.tolist() == [1.0]
    assert shanghai.recency.tolist() == [1.0]


def test_without_amounts_and_with_aware_datetimes() -> None:
    tz = dt.timezone(dt.timedelta(hours=8))
    when = [dt.datetime(2024, 1, 1, 9, tzinfo=tz), dt.datetime(2024, 1, 3, 9, tzinfo=tz)]
    s = rfm_summary(["x", "x"], when, observation_end=dt.datetime(2024, 1, 5, tzinfo=tz))
    assert s.monetary_value is None
    assert (s.frequency[0], s.recency[0], s.T[0]) == (1.0, 2.0, 3.0)  # end is 4 Jan 16:00 UTC
    assert "monetary_value" not in s.columns()


def test_result_views() -> None:
    s = rfm_summary(IDS, WHEN, AMOUNT, observation_end=END)
    assert len(s) == 2
    assert s.to_records()[0] == {
        "customer_id": 1,
        "frequency": 1.0,
        "recency": 45.0,
        "T": 61.0,
        "monetary_value": 3.0,
    }
    frame = s.to_frame()
    assert list(frame.columns) == ["frequency", "recency", "T", "monetary_value"]
    assert frame.index.name == "customer_id"
    assert "RFMSummary(2 customers" in repr(s)
    assert "<table>" in s._repr_html_()


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"timestamps": WHEN[:3]}, ValidationError),
        ({"amounts": AMOUNT[:3]}, ValidationError),
        ({"amounts": np.array([1.0, np.nan, 1, 1, 1, 1])}, ValidationError),
        ({"period": "Q"}, ValidationError),
        ({"time_unit": "Y"}, ValidationError),
        ({"observation_end": dt.datetime(2020, 3, 2)}, NaiveDatetimeError),
        ({"customer_ids": np.array(["a", 1, "b", 2, 3, 4], dtype=object)}, ValidationError),
        ({"utc_offset": 8}, ValidationError),
    ],
)
def test_bad_input_is_refused_clearly(kwargs: dict[str, Any], error: type[Exception]) -> None:
    args: dict[str, Any] = {
        "customer_ids": IDS,
        "timestamps": WHEN,
        "amounts": AMOUNT,
        "observation_end": END,
    }
    args.update(kwargs)
    with pytest.raises(error):
        rfm_summary(**args)


def test_empty_log_gives_an_empty_summary() -> None:
    s = rfm_summary(
        np.array([], dtype=object), np.array([], dtype="datetime64[s]"), [], observation_end=END
    )
    assert len(s) == 0


# -- randomised comparison with the reference implementation ---------------------------------

START = dt.datetime(2023, 12, 20, tzinfo=UTC)
OFFSETS = [dt.timedelta(0), dt.timedelta(hours=8), dt.timedelta(hours=-5, minutes=-30)]

transactions = st.lists(
    st.tuples(
        st.sampled_from(["ann", "bob", "cy", "dee", "eve"]),
        st.integers(0, 150 * 86_400),  # seconds after START: spans month and year ends
        st.integers(1, 10_000).map(lambda cents: cents / 100),
    ),
    max_size=40,
)


def _columns(rows: list[tuple[str, int, float]]) -> tuple[Any, Any, Any]:
    ids = np.array([r[0] for r in rows], dtype=object)
    start = np.datetime64(START.replace(tzinfo=None), "s")
    when = start + np.array([r[1] for r in rows], dtype="timedelta64[s]")
    return ids, when.astype("datetime64[s]"), np.array([r[2] for r in rows])


def _rows(rows: list[tuple[str, int, float]]) -> list[tuple[str, dt.datetime, float]]:
    return [(c, START + dt.timedelta(seconds=s), a) for c, s, a in rows]


@pytest.mark.filterwarnings("ignore::privdomain.value.PeriodUnitWarning")
@settings(max_examples=150, deadline=None)
@given(
    rows=transactions,
    end_seconds=st.integers(0, 160 * 86_400),
    period=st.sampled_from(["h", "D", "W", "M"]),
    unit=st.sampled_from(["h", "D", "W", "M"]),
    offset=st.sampled_from(OFFSETS),
)
def test_summary_matches_reference(
    rows: list[tuple[str, int, float]],
    end_seconds: int,
    period: str,
    unit: str,
    offset: dt.timedelta,
) -> None:
    end = START + dt.timedelta(seconds=end_seconds)
    ids, when, amounts = _columns(rows)
    got = rfm_summary(
        ids, when, amounts, observation_end=end, period=period, time_unit=unit, utc_offset=offset
    )  # type: ignore[arg-type]
    expected = ref.summary(_rows(rows), end, period, unit, offset)
    assert got.customer_ids.tolist() == sorted(expected)
    assert got.monetary_value is not None
    for i, customer in enumerate(got.customer_ids):
        f, r, t, m = expected[customer]
        assert got.frequency[i] == f
        assert got.recency[i] == pytest.approx(r, rel=1e-12)
        assert got.T[i] == pytest.approx(t, rel=1e-12)
        assert got.monetary_value[i] == pytest.approx(m, rel=1e-12)


# -- the snapshot entry point ------------------------------------------------------------------


@attrs.frozen
class FakeSnapshot:
    """Exposes exactly the attributes a privdomain Snapshot gives rfm_summary_from_snapshot."""

    customer_ids: Any
    as_of: dt.datetime
    utc_offset: dt.timedelta
    first_purchase: Any
    last_purchase: Any
    purchase_days: Any
    gross_spend: Any
    first_day_spend: Any


def _snapshot(
    rows: list[tuple[str, dt.datetime, float]], as_of: dt.datetime, offset: dt.timedelta
) -> FakeSnapshot:
    customers = ["zed", *sorted({r[0] for r in rows}, reverse=True)]  # unsorted, one non-buyer
    first, last, days, gross, first_day = [], [], [], [], []
    for c in customers:
        mine = sorted((w, a) for cc, w, a in rows if cc == c)
        if not mine:
            first.append(np.datetime64("NaT", "s"))
            last.append(np.datetime64("NaT", "s"))
            days.append(0)
            gross.append(0.0)
            first_day.append(0.0)
            continue
        local_days = [ref.local(w, offset).date() for w, _ in mine]
        first.append(np.datetime64(mine[0][0].replace(tzinfo=None), "s"))
        last.append(np.datetime64(mine[-1][0].replace(tzinfo=None), "s"))
        days.append(len(set(local_days)))
        gross.append(sum(a for _, a in mine))
        first_day.append(
            sum(a for (_, a), d in zip(mine, local_days, strict=False) if d == local_days[0])
        )
    return FakeSnapshot(
        customer_ids=np.array(customers, dtype=object),
        as_of=as_of,
        utc_offset=offset,
        first_purchase=np.array(first, dtype="datetime64[s]"),
        last_purchase=np.array(last, dtype="datetime64[s]"),
        purchase_days=np.array(days, dtype=np.int64),
        gross_spend=np.array(gross),
        first_day_spend=np.array(first_day),
    )


@settings(max_examples=100, deadline=None)
@given(
    rows=transactions,
    after=st.integers(0, 40 * 86_400),
    unit=st.sampled_from(["D", "W", "M"]),
    offset=st.sampled_from(OFFSETS),
)
def test_snapshot_summary_equals_transaction_summary(
    rows: list[tuple[str, int, float]], after: int, unit: str, offset: dt.timedelta
) -> None:
    # A snapshot holds the purchases up to as_of, so as_of comes after every purchase.
    as_of = START + dt.timedelta(seconds=max((r[1] for r in rows), default=0) + after)
    ids, when, amounts = _columns(rows)
    expected = rfm_summary(
        ids, when, amounts, observation_end=as_of, time_unit=unit, utc_offset=offset
    )  # type: ignore[arg-type]
    got = rfm_summary_from_snapshot(_snapshot(_rows(rows), as_of, offset), time_unit=unit)  # type: ignore[arg-type]
    assert isinstance(got, RFMSummary)
    assert got.customer_ids.tolist() == expected.customer_ids.tolist()
    np.testing.assert_array_equal(got.frequency, expected.frequency)
    np.testing.assert_allclose(got.recency, expected.recency, rtol=1e-12)
    np.testing.assert_allclose(got.T, expected.T, rtol=1e-12)
    assert got.monetary_value is not None
    assert expected.monetary_value is not None
    np.testing.assert_allclose(got.monetary_value, expected.monetary_value, rtol=1e-9, atol=1e-9)


def test_snapshot_with_naive_as_of_is_refused() -> None:
    snap = _snapshot([], dt.datetime(2024, 1, 1, tzinfo=UTC), dt.timedelta(0))
    with pytest.raises(NaiveDatetimeError):
        rfm_summary_from_snapshot(attrs.evolve(snap, as_of=dt.datetime(2024, 1, 1)))


def test_empty_pool_error_is_a_validation_error() -> None:
    # Fitting needs customers; a summary of nobody is fine but a fit on it is not.
    from privdomain.value import BetaGeo

    with pytest.raises(EmptyPoolError):
        BetaGeo().fit([], [], [])
