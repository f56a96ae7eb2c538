"""customer_lifetime_value: discounting, horizons, chunking, memory."""

from __future__ import annotations

import tracemalloc

import attrs
import numpy as np
import pytest

from privdomain.errors import ValidationError
from privdomain.value import (
    BetaGeo,
    GammaGamma,
    ParetoNBD,
    RFMSummary,
    customer_lifetime_value,
)
from privdomain.value import clv as clv_module

BG = BetaGeo.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426)
PNBD = ParetoNBD.from_params(r=0.553, alpha=10.58, s=0.606, beta=11.67)
GG = GammaGamma.from_params(p=6.25, q=3.74, v=15.44)
SUMMARY = RFMSummary(
    customer_ids=np.array(["a", "b", "c", "d"]),
    frequency=np.array([0.0, 2.0, 7.0, 2.0]),
    recency=np.array([0.0, 30.43, 35.0, 30.43]),
    T=np.array([38.86, 38.86, 39.0, 38.86]),
    monetary_value=np.array([0.0, 22.5, 40.0, 22.5]),
    period="D",
    time_unit="W",
)


@pytest.mark.parametrize("model", [BG, PNBD])
def test_without_discounting_value_is_purchases_times_spend(model: BetaGeo) -> None:
    value = customer_lifetime_value(model, GG, SUMMARY, horizon=52, discount_rate=0, margin=0.3)
    purchases = model.predict_purchases(52, SUMMARY.frequency, SUMMARY.recency, SUMMARY.T)
    spend = GG.expected_spend(SUMMARY.frequency, SUMMARY.monetary_value)  # type: ignore[arg-type]
    np.testing.assert_allclose(value.expected_purchases, purchases, rtol=1e-12)
    np.testing.assert_allclose(value.expected_spend, spend, rtol=1e-12)
    np.testing.assert_allclose(value.clv, 0.3 * purchases * spend, rtol=1e-12)
    assert value.clv[1] == value.clv[3]  # same history, same value


def test_lifetimes_monthly_discounting() -> None:
    # lifetimes: sum over months i of spend * (E[X(30 i)] - E[X(30 (i-1))]) / (1 + d)^i.
    daily = attrs.evolve(SUMMARY, recency=SUMMARY.recency * 7, T=SUMMARY.T * 7, time_unit="D")
    model = BetaGeo.from_params(r=0.243, alpha=4.414 * 7, a=0.793, b=2.426)  # rate per day
    value = customer_lifetime_value(model, GG, daily, horizon=360, discount_rate=0.01, step=30)
    spend = np.asarray(GG.expected_spend(daily.frequency, daily.monetary_value))  # type: ignore[arg-type]
    expected = np.zeros(4)
    for month in range(1, 13):
        now = model.predict_purchases(30 * month, daily.frequency, daily.recency, daily.T)
        before = model.predict_purchases(30 * (month - 1), daily.frequency, daily.recency, daily.T)
        expected += spend * (np.asarray(now) - np.asarray(before)) / 1.01**month
    np.testing.assert_allclose(value.clv, expected, rtol=1e-12)


def test_partial_last_step_is_discounted_by_its_end() -> None:
    value = customer_lifetime_value(BG, GG, SUMMARY, horizon=6, discount_rate=0.1, step=4)
    f, r, t = SUMMARY.frequency, SUMMARY.recency, SUMMARY.T
    first = np.asarray(BG.predict_purchases(4, f, r, t))
    total = np.asarray(BG.predict_purchases(6, f, r, t))
    spend = np.asarray(value.expected_spend)
    expected = spend * (first / 1.1 + (total - first) / 1.1**1.5)
    np.testing.assert_allclose(value.clv, expected, rtol=1e-12)


def test_discounting_lowers_value_and_zero_horizon_is_worth_nothing() -> None:
    flat = customer_lifetime_value(BG, GG, SUMMARY, horizon=52, discount_rate=0.0)
    discounted = customer_lifetime_value(BG, GG, SUMMARY, horizon=52, discount_rate=0.01)
    assert (discounted.clv < flat.clv).all()
    nothing = customer_lifetime_value(BG, GG, SUMMARY, horizon=0, discount_rate=0.01)
    assert (nothing.clv == 0).all()


def test_blocks_of_customers_give_the_same_values(monkeypatch: pytest.MonkeyPatch) -> None:
    data = BG.simulate(39.0, n_customers=1000, seed=1)
    data = attrs.evolve(data, monetary_value=GG.simulate_spend(data.frequency, seed=2))
    whole = customer_lifetime_value(BG, GG, data, horizon=26, discount_rate=0.01, step=4.35)
    monkeypatch.setattr(clv_module, "_CHUNK", 37)
    parts = customer_lifetime_value(BG, GG, data, horizon=26, discount_rate=0.01, step=4.35)
    np.testing.assert_array_equal(whole.clv, parts.clv)


def test_result_views() -> None:
    value = customer_lifetime_value(BG, GG, SUMMARY, horizon=52, discount_rate=0.01)
    assert len(value) == 4
    assert value.to_frame().index.name == "customer_id"
    # the history the models read, then the value (no buyer column: a summary holds buyers)
    assert list(value.to_records()[0]) == [
        "customer_id",
        "frequency",
        "recency",
        "T",
        "monetary_value",
        "p_alive",
        "expected_purchases",
        "expected_spend",
        "clv",
    ]
    assert "CustomerValue(4 customers" in repr(value)
    np.testing.assert_allclose(value.p_alive, BG.p_alive(SUMMARY))
    first = value.customer_ids[0]
    assert f"CLV = {value.clv[0]:.2f}" in value.explain(first)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"horizon": -1}, "horizon"),
        ({"step": 0}, "step"),
        ({"discount_rate": float("nan")}, "discount_rate"),
        ({"margin": "high"}, "margin"),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict[str, object], match: str) -> None:
    args: dict[str, object] = {"horizon": 52, "discount_rate": 0.01}
    args.update(kwargs)
    with pytest.raises(ValidationError, match=match):
        customer_lifetime_value(BG, GG, SUMMARY, **args)  # type: ignore[arg-type]


def test_summary_without_amounts_is_refused() -> None:
    with pytest.raises(ValidationError, match="monetary_value"):
        customer_lifetime_value(
            BG, GG, attrs.evolve(SUMMARY, monetary_value=None), horizon=52, discount_rate=0.01
        )


def test_a_million_customers_fit_in_memory() -> None:
    data = BG.simulate(39.0, n_customers=1_000_000, seed=5)
    data = attrs.evolve(data, monetary_value=GG.simulate_spend(data.frequency, seed=6))
    tracemalloc.start()
    try:
        value = customer_lifetime_value(PNBD, GG, data, horizon=52, discount_rate=0.01, step=13)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 500 * 2**20
    assert np.isfinite(value.clv).all()
