"""What notebook users and lifetimes users do: frames in, rows selected, units and times named."""

from __future__ import annotations

import datetime as dt
import warnings
from typing import Any

import numpy as np
import pytest

from privdomain.errors import ValidationError
from privdomain.value import (
    BetaGeo,
    GammaGamma,
    ModifiedBetaGeo,
    PeriodUnitWarning,
    RFMSummary,
    calibration_holdout,
    customer_lifetime_value,
    rfm_summary,
    rfm_summary_from_snapshot,
)
from privdomain.value import clv as clv_module

UTC = dt.UTC
END = np.datetime64("2024-07-01")


def _log(n: int = 600, seed: int = 5) -> tuple[Any, Any, Any]:
    """Purchases drawn from BG/NBD (rates per day), ending before END, with amounts."""
    truth = BetaGeo.from_params(r=0.8, alpha=40.0, a=0.8, b=4.0)
    rng = np.random.default_rng(seed)
    ages = rng.uniform(60, 180, n)
    purchases = truth.simulate_purchases(ages, seed=seed)
    first = END.astype("datetime64[s]") - (ages * 86_400).astype("timedelta64[s]")
    when = first[purchases.customer] + (purchases.time * 86_400).astype("timedelta64[s]")
    scale = 1.0 / rng.gamma(4.0, 1.0 / 15.0, n)  # Gamma-Gamma spend: p=6, q=4, v=15
    amounts = np.round(rng.gamma(6.0, scale[purchases.customer]), 2)
    return purchases.customer, when, amounts


def _same(a: RFMSummary, b: RFMSummary) -> None:
    assert a.customer_ids.tolist() == b.customer_ids.tolist()
    for name in ("frequency", "recency", "T", "monetary_value"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert (a.period, a.time_unit) == (b.period, b.time_unit)


# -- frames in -----------------------------------------------------------------------------------


def test_a_pandas_frame_of_transactions_gives_the_same_summary() -> None:
    pd = pytest.importorskip("pandas")
    ids, when, amounts = _log()
    frame = pd.DataFrame({"cust": ids, "when": when, "paid": amounts})
    expected = rfm_summary(ids, when, amounts, observation_end=END, time_unit="W")
    got = rfm_summary(
        frame,
        customer_id_col="cust",
        datetime_col="when",
        monetary_value_col="paid",
        observation_end=END,
        time_unit="W",
    )
    _same(got, expected)
    # the id may be the frame's named index; an aware column is read in its own zone
    aware = frame.set_index("cust").assign(when=lambda f: f["when"].dt.tz_localize("UTC"))
    aware["when"] = aware["when"].dt.tz_convert("Asia/Shanghai")
    got = rfm_summary(
        aware,
        customer_id_col="cust",
        datetime_col="when",
        monetary_value_col="paid",
        observation_end=END,
        time_unit="W",
    )
    _same(got, expected)
    split = calibration_holdout(
        frame,
        customer_id_col="cust",
        datetime_col="when",
        calibration_end=np.datetime64("2024-05-01"),
        observation_end=END,
    )
    assert split.monetary_value_cal is None
    assert len(split) > 300


def test_models_take_a_summary_or_a_lifetimes_shaped_frame() -> None:
    pytest.importorskip("pandas")
    ids, when, amounts = _log()
    summary = rfm_summary(ids, when, amounts, observation_end=END, time_unit="W")
    frame = summary.to_frame()  # indexed by customer_id, lifetimes' columns
    columns = (summary.frequency, summary.recency, summary.T)
    for model_type in (BetaGeo, ModifiedBetaGeo):
        by_columns = model_type().fit(*columns)
        for source in (summary, frame):
            model = model_type().fit(source)
            assert model.params_ == pytest.approx(by_columns.params_, rel=1e-12)
            np.testing.assert_array_equal(model.p_alive(source), by_columns.p_alive(*columns))
            np.testing.assert_array_equal(
                model.predict_purchases(4.0, source), by_columns.predict_purchases(4.0, *columns)
            )
            np.testing.assert_array_equal(
                model.log_likelihood(source), by_columns.log_likelihood(*columns)
            )
    spend = GammaGamma().fit(summary.frequency, summary.monetary_value)
    for source in (summary, frame):
        assert GammaGamma().fit(source).params_ == pytest.approx(spend.params_, rel=1e-12)
        np.testing.assert_array_equal(
            spend.expected_spend(source),
            spend.expected_spend(summary.frequency, summary.monetary_value),
        )
    bgf = BetaGeo().fit(summary)
    expected = customer_lifetime_value(bgf, spend, summary, horizon=26, discount_rate=0.01)
    got = customer_lifetime_value(bgf, spend, frame, horizon=26, discount_rate=0.01)
    assert got.customer_ids.tolist() == expected.customer_ids.tolist()
    np.testing.assert_array_equal(got.clv, expected.clv)


def test_polars_frames_work_too() -> None:
    pl = pytest.importorskip("polars")
    ids, when, amounts = _log()
    frame = pl.DataFrame({"cust": ids, "when": when.astype("datetime64[us]"), "paid": amounts})
    expected = rfm_summary(ids, when, amounts, observation_end=END)
    got = rfm_summary(
        frame,
        customer_id_col="cust",
        datetime_col="when",
        monetary_value_col="paid",
        observation_end=END,
    )
    _same(got, expected)
    table = pl.DataFrame(expected.columns())
    bgf = BetaGeo().fit(expected)
    assert BetaGeo().fit(table).params_ == pytest.approx(bgf.params_, rel=1e-12)
    spend = GammaGamma().fit(table)
    value = customer_lifetime_value(bgf, spend, table, horizon=30, discount_rate=0.0)
    assert value.customer_ids.tolist() == expected.customer_ids.tolist()


def test_a_snapshot_frame_gives_the_snapshot_summary() -> None:
    pytest.importorskip("pandas")
    simulate = pytest.importorskip("privdomain.simulate")
    sim = simulate.simulate_pool(600, seed=4)
    pool = sim.pool()
    snapshot = pool.snapshot(as_of=sim.as_of)
    expected = rfm_summary_from_snapshot(snapshot, time_unit="W")
    got = rfm_summary_from_snapshot(
        snapshot.to_frame(), as_of=sim.as_of, utc_offset=pool.utc_offset, time_unit="W"
    )
    _same(got, expected)


# -- rows selected -------------------------------------------------------------------------------


def test_masks_row_numbers_and_slices_select_customers() -> None:
    ids, when, amounts = _log()
    summary = rfm_summary(ids, when, amounts, observation_end=END)
    repeat = summary[summary.frequency > 0]
    assert len(repeat) == int((summary.frequency > 0).sum())
    assert (repeat.frequency > 0).all()
    assert repeat.period == summary.period
    assert repeat.time_unit == summary.time_unit
    two = summary.take([0, 5])
    assert two.customer_ids.tolist() == [summary.customer_ids[0], summary.customer_ids[5]]
    assert two.monetary_value is not None
    assert summary.monetary_value is not None
    assert two.monetary_value.tolist() == summary.monetary_value[[0, 5]].tolist()
    assert summary[[-1]].customer_ids.tolist() == [summary.customer_ids[-1]]
    assert summary[2:4].customer_ids.tolist() == summary.customer_ids[2:4].tolist()
    assert len(summary.take([])) == 0
    assert len(summary[np.zeros(len(summary), dtype=bool)]) == 0
    without_money = rfm_summary(ids, when, observation_end=END)
    assert without_money[[1, 2]].monetary_value is None


def test_every_result_selects_rows_and_keeps_its_settings() -> None:
    ids, when, amounts = _log()
    split = calibration_holdout(
        ids, when, amounts, calibration_end=np.datetime64("2024-05-01"), observation_end=END
    )
    active = split[split.frequency_holdout > 0]
    assert (active.frequency_holdout > 0).all()
    assert active.duration_holdout == split.duration_holdout
    assert len(active.calibration) == len(active)
    summary = split.calibration
    bgf = BetaGeo().fit(summary)
    spend = GammaGamma().fit(summary)
    value = customer_lifetime_value(bgf, spend, summary, horizon=60, discount_rate=0.01, step=30)
    top = value[np.argsort(value.clv)[::-1][:10]]
    assert top.clv.tolist() == sorted(value.clv.tolist(), reverse=True)[:10]
    assert (top.horizon, top.step) == (60, 30)
    # a subset of customers is valued as the same customers in the whole summary
    some = customer_lifetime_value(
        bgf, spend, summary.take([3, 1]), horizon=60, discount_rate=0.01, step=30
    )
    np.testing.assert_allclose(some.clv, value.clv[[3, 1]], rtol=1e-12)


def test_a_summary_checks_its_columns_when_built() -> None:
    with pytest.raises(ValidationError, match="one entry per customer"):
        RFMSummary(
            customer_ids=np.array([1, 2]),
            frequency=np.array([0.0]),
            recency=np.array([0.0, 1.0]),
            T=np.array([3.0, 3.0]),
            monetary_value=None,
            period="D",
            time_unit="D",
        )
    ok = RFMSummary([1, 2], [0, 1], [0, 1], [3, 3], None, "D", "D")  # lists become arrays
    assert ok.frequency.dtype == np.float64


# -- units and times -----------------------------------------------------------------------------


def test_the_unit_follows_the_period_as_lifetimes_freq() -> None:
    ids, when, amounts = _log()
    weekly = rfm_summary(ids, when, amounts, observation_end=END, period="W")
    assert weekly.time_unit == "W"
    assert (np.round(weekly.T) == weekly.T).all()  # whole weeks between week starts
    explicit = rfm_summary(ids, when, amounts, observation_end=END, period="W", time_unit="W")
    _same(weekly, explicit)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # days measured in weeks (freq_multiplier=7): silent
        rfm_summary(ids, when, amounts, observation_end=END, period="D", time_unit="W")
    with pytest.warns(PeriodUnitWarning, match="freq='W' is period='W'"):
        in_days = rfm_summary(ids, when, amounts, observation_end=END, period="W", time_unit="D")
    np.testing.assert_allclose(in_days.T, weekly.T * 7)
    assert issubclass(PeriodUnitWarning, UserWarning)
    with pytest.warns(PeriodUnitWarning):
        calibration_holdout(
            ids,
            when,
            calibration_end=np.datetime64("2024-05-01"),
            observation_end=END,
            period="M",
            time_unit="W",
        )


@pytest.mark.parametrize(("unit", "scale"), [("s", 1), ("ms", 1_000), ("us", 10**6)])
def test_integer_times_with_their_unit(unit: str, scale: int) -> None:
    ids, when, amounts = _log()
    counts = when.astype("datetime64[s]").astype(np.int64) * scale
    expected = rfm_summary(ids, when, amounts, observation_end=END)
    got = rfm_summary(ids, counts, amounts, observation_end=END, epoch_unit=unit)  # type: ignore[arg-type]
    _same(got, expected)


def test_integer_dates_without_a_unit_say_how_to_parse_them() -> None:
    with pytest.raises(ValidationError, match="epoch_unit") as info:
        rfm_summary([1, 1], [19970101, 19970302], observation_end=np.datetime64("1997-06-30"))
    assert "%Y%m%d" in str(info.value)


# -- spend that cannot be modelled ---------------------------------------------------------------


def test_repeat_buyers_who_spent_nothing_are_left_out_and_still_valued() -> None:
    truth = BetaGeo.from_params(r=0.25, alpha=4.0, a=0.8, b=2.5)
    data = truth.simulate(39.0, n_customers=3_000, seed=3)
    spend_truth = GammaGamma.from_params(p=6.0, q=4.0, v=15.0)
    money = spend_truth.simulate_spend(data.frequency, seed=4)
    free = np.flatnonzero(data.frequency > 0)[:3]
    money[free] = 0.0
    money[free[2]] = -5.0  # e.g. a summary of net spend after a return
    data = RFMSummary(data.customer_ids, data.frequency, data.recency, data.T, money, "D", "W")

    ggf = GammaGamma().fit(data)
    assert ggf.n_excluded_ == 3
    assert ggf.n_customers_ == int((data.frequency > 0).sum()) - 3
    assert "3 left out" in repr(ggf)
    reference = GammaGamma().fit(data[data.monetary_value > 0])
    assert ggf.params_ == pytest.approx(reference.params_, rel=1e-9)
    assert reference.n_excluded_ == 0

    spend = ggf.expected_spend(data)
    p, q, v = (ggf.params_[n] for n in ("p", "q", "v"))
    np.testing.assert_allclose(spend[free], p * v / (q - 1))
    np.testing.assert_allclose(spend[data.frequency == 0], p * v / (q - 1))
    assert (ggf.log_likelihood(data)[free] == 0).all()

    bgf = BetaGeo().fit(data)
    value = customer_lifetime_value(bgf, ggf, data, horizon=52, discount_rate=0.01, step=4.345)
    assert np.isfinite(value.clv).all()
    assert (value.clv[free] > 0).all()


def test_many_steps_are_valued_in_smaller_blocks_with_the_same_result(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    truth = BetaGeo.from_params(r=0.25, alpha=4.0, a=0.8, b=2.5)
    data = truth.simulate(39.0, n_customers=500, seed=3)
    spend = GammaGamma.from_params(p=6.0, q=4.0, v=15.0)
    data = RFMSummary(
        data.customer_ids,
        data.frequency,
        data.recency,
        data.T,
        spend.simulate_spend(data.frequency, seed=1),
        "D",
        "W",
    )
    whole = customer_lifetime_value(truth, spend, data, horizon=52, discount_rate=0.01, step=0.5)
    monkeypatch.setattr(clv_module, "_BLOCK_VALUES", 1_000)  # 104 steps: blocks of 9 customers
    blocks = customer_lifetime_value(truth, spend, data, horizon=52, discount_rate=0.01, step=0.5)
    np.testing.assert_allclose(blocks.clv, whole.clv, rtol=1e-12)
    np.testing.assert_allclose(blocks.expected_purchases, whole.expected_purchases, rtol=1e-12)
    at_limit = customer_lifetime_value(
        truth, spend, data.take([0, 1]), horizon=clv_module.MAX_STEPS, discount_rate=0.0, step=1
    )
    assert np.isfinite(at_limit.clv).all()
