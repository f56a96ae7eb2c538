"""calibration_holdout: lifetimes' calibration_and_holdout_data semantics."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pytest
import value_reference as ref
from hypothesis import given, settings
from hypothesis import strategies as st

from privdomain.errors import ValidationError
from privdomain.value import calibration_holdout

UTC = dt.UTC
IDS = np.array([1, 1, 1, 1, 2, 2, 3])
WHEN = np.array(
    [
        "2020-01-01T10:00",
        "2020-01-01T23:00",
        "2020-02-15T08:00",
        "2020-02-15T09:00",
        "2020-01-31T00:00",
        "2020-03-02T20:00",
        "2020-03-03T00:00",
    ],
    dtype="datetime64[s]",
)
AMOUNT = np.array([1.0, 2.0, 3.0, 5.0, 4.0, 5.0, 6.0])
CAL_END = dt.datetime(2020, 2, 1, tzinfo=UTC)
OBS_END = dt.datetime(2020, 3, 3, tzinfo=UTC)


def test_hand_built_split() -> None:
    out = calibration_holdout(IDS, WHEN, AMOUNT, calibration_end=CAL_END, observation_end=OBS_END)
    # Customer 3's only purchase is in the holdout: unknown to a calibrated model, left out.
    assert out.customer_ids.tolist() == [1, 2]
    assert out.frequency_cal.tolist() == [0.0, 0.0]
    assert out.T_cal.tolist() == [31.0, 1.0]
    # Customer 1 buys twice on 15 Feb: one holdout period, mean of the two transactions.
    assert out.frequency_holdout.tolist() == [1.0, 1.0]
    assert out.monetary_value_holdout is not None
    assert out.monetary_value_holdout.tolist() == [4.0, 5.0]
    assert out.duration_holdout == 31.0  # 1 Feb -> 3 Mar 2020
    cal = out.calibration
    assert cal.customer_ids.tolist() == [1, 2]
    assert cal.T.tolist() == [31.0, 1.0]
    frame = out.to_frame()
    assert list(frame.columns) == [
        "frequency_cal",
        "recency_cal",
        "T_cal",
        "monetary_value_cal",
        "frequency_holdout",
        "monetary_value_holdout",
        "duration_holdout",
    ]
    assert len(out.to_records()) == 2
    assert "holdout 31 D" in repr(out)


def test_customers_without_holdout_purchases_get_zeros() -> None:
    out = calibration_holdout(
        ["a", "a", "b"],
        np.array(["2024-01-01", "2024-01-05", "2024-01-02"], dtype="datetime64[s]"),
        calibration_end=np.datetime64("2024-01-03"),
        observation_end=np.datetime64("2024-01-31"),
        time_unit="W",
    )
    assert out.frequency_holdout.tolist() == [1.0, 0.0]
    assert out.monetary_value_holdout is None
    assert out.duration_holdout == pytest.approx(28 / 7)


@pytest.mark.parametrize(
    ("cal", "obs"),
    [(OBS_END, CAL_END), (CAL_END, CAL_END)],
)
def test_calibration_must_end_first(cal: dt.datetime, obs: dt.datetime) -> None:
    with pytest.raises(ValidationError, match="before"):
        calibration_holdout(IDS, WHEN, calibration_end=cal, observation_end=obs)


START = dt.datetime(2023, 12, 20, tzinfo=UTC)


@pytest.mark.filterwarnings("ignore::privdomain.value.PeriodUnitWarning")
@settings(max_examples=120, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(["ann", "bob", "cy", "dee"]),
            st.integers(0, 120 * 86_400),
            st.integers(1, 10_000).map(lambda c: c / 100),
        ),
        max_size=40,
    ),
    cal_seconds=st.integers(0, 100 * 86_400),
    extra=st.integers(1, 60 * 86_400),
    period=st.sampled_from(["h", "D", "W", "M"]),
    unit=st.sampled_from(["D", "W", "M"]),
    offset=st.sampled_from([dt.timedelta(0), dt.timedelta(hours=8)]),
)
def test_split_matches_reference(
    rows: list[tuple[str, int, float]],
    cal_seconds: int,
    extra: int,
    period: str,
    unit: str,
    offset: dt.timedelta,
) -> None:
    cal_end = START + dt.timedelta(seconds=cal_seconds)
    obs_end = cal_end + dt.timedelta(seconds=extra)
    ids = np.array([r[0] for r in rows], dtype=object)
    when = np.datetime64(START.replace(tzinfo=None), "s") + np.array(
        [r[1] for r in rows], dtype="timedelta64[s]"
    )
    amounts = np.array([r[2] for r in rows])
    got = calibration_holdout(
        ids,
        when,
        amounts,
        calibration_end=cal_end,
        observation_end=obs_end,
        period=period,  # type: ignore[arg-type]
        time_unit=unit,  # type: ignore[arg-type]
        utc_offset=offset,
    )
    rows_dt: list[tuple[Any, dt.datetime, float]] = [
        (c, START + dt.timedelta(seconds=s), a) for c, s, a in rows
    ]
    expected, duration = ref.holdout(rows_dt, cal_end, obs_end, period, unit, offset)
    assert got.duration_holdout == pytest.approx(duration, rel=1e-12)
    assert got.customer_ids.tolist() == sorted(expected)
    assert got.monetary_value_cal is not None
    assert got.monetary_value_holdout is not None
    for i, customer in enumerate(got.customer_ids):
        f, r, t, m, fh, mh = expected[customer]
        assert got.frequency_cal[i] == f
        assert got.recency_cal[i] == pytest.approx(r, rel=1e-12)
        assert got.T_cal[i] == pytest.approx(t, rel=1e-12)
        assert got.monetary_value_cal[i] == pytest.approx(m, rel=1e-12)
        assert got.frequency_holdout[i] == fh
        assert got.monetary_value_holdout[i] == pytest.approx(mh, rel=1e-12)
