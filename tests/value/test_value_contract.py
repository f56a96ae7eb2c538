"""The value models on the strategy contract: summaries merge exactly, partitions fit and apply
as the whole does, and results line up with the snapshot's rows."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from privdomain import Channel, Customer, Money, Pool, Snapshot, TouchKind, Touchpoint
from privdomain.errors import (
    EmptyPoolError,
    NotFittedError,
    UnknownCustomerError,
    ValidationError,
)
from privdomain.strategy import SummarizingStrategy, fit_partitioned, merge
from privdomain.value import (
    BetaGeo,
    CustomerValue,
    GammaGamma,
    LifetimeValue,
    ModifiedBetaGeo,
    ParetoNBD,
    PurchaseForecast,
    RepeatSummary,
    SpendForecast,
    SpendSummary,
    customer_lifetime_value,
    customer_rfm,
    rfm_summary_from_snapshot,
)

REPEAT_MODELS = [BetaGeo, ModifiedBetaGeo, ParetoNBD]


@pytest.fixture(scope="module")
def snapshot() -> Snapshot:
    simulate = pytest.importorskip("privdomain.simulate")
    sim = simulate.simulate_pool(3_000, seed=7)
    snap: Snapshot = sim.pool().snapshot(as_of=sim.as_of)
    assert 0 < snap.buyers.sum() < len(snap)  # buyers and customers who never bought
    return snap


def partitions(snap: Snapshot, seed: int, k: int) -> list[Snapshot]:
    """``k`` random, disjoint partitions of the snapshot's customers (some may be empty)."""
    part = np.random.default_rng(seed).integers(0, k, len(snap))
    return [snap.take(np.flatnonzero(part == i)) for i in range(k)]


def relative(a: dict[str, float], b: dict[str, float]) -> float:
    return max(abs(a[k] / b[k] - 1) for k in a)


# -- the contract -------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [*REPEAT_MODELS, GammaGamma, LifetimeValue])
def test_every_value_model_is_a_summarizing_strategy(cls: type[Any]) -> None:
    assert isinstance(cls(), SummarizingStrategy)


@pytest.mark.parametrize("cls", REPEAT_MODELS)
@pytest.mark.parametrize("unit", ["D", "W"])
def test_fit_on_a_snapshot_is_the_fit_on_its_rfm_summary(
    snapshot: Snapshot, cls: type[Any], unit: str
) -> None:
    from_snapshot = cls(time_unit=unit).fit(snapshot)
    from_table = cls().fit(rfm_summary_from_snapshot(snapshot, time_unit=unit))  # type: ignore[arg-type]
    assert from_snapshot.params_ == from_table.params_
    assert from_snapshot.n_customers_ == snapshot.buyers.sum()
    assert from_snapshot.time_unit_ == unit


def test_spend_fit_on_a_snapshot_is_the_fit_on_its_rfm_summary(snapshot: Snapshot) -> None:
    from_snapshot = GammaGamma().fit(snapshot)
    from_table = GammaGamma().fit(rfm_summary_from_snapshot(snapshot))
    assert from_snapshot.params_ == from_table.params_
    assert from_snapshot.n_excluded_ == from_table.n_excluded_


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 2**32 - 1), k=st.integers(1, 6), which=st.sampled_from(range(3)))
def test_fitting_on_partitions_is_fitting_on_the_whole(
    snapshot: Snapshot, seed: int, k: int, which: int
) -> None:
    cls = REPEAT_MODELS[which]
    parts = partitions(snapshot, seed, k)
    whole = cls(time_unit="W").fit(snapshot)
    merged = merge(cls(time_unit="W").summarize(p) for p in parts)
    summary = cls(time_unit="W").summarize(snapshot)
    # the merged summary is the summary of the whole: the same rows, weights and order
    assert isinstance(merged, RepeatSummary)
    for name in ("frequency", "recency", "T", "weights"):
        np.testing.assert_array_equal(getattr(merged, name), getattr(summary, name))
    assert merged.never_bought == summary.never_bought == (~snapshot.buyers).sum()
    fitted = fit_partitioned(cls(time_unit="W"), parts)
    assert relative(fitted.params_, whole.params_) <= 1e-8
    assert fitted.log_likelihood_ == pytest.approx(whole.log_likelihood_, rel=1e-12)
    assert fitted.n_customers_ == whole.n_customers_


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 2**32 - 1), k=st.integers(1, 6))
def test_fitting_spend_on_partitions_is_fitting_on_the_whole(
    snapshot: Snapshot, seed: int, k: int
) -> None:
    parts = partitions(snapshot, seed, k)
    whole = GammaGamma().fit(snapshot)
    merged = merge(GammaGamma().summarize(p) for p in parts)
    assert isinstance(merged, SpendSummary)
    summary = GammaGamma().summarize(snapshot)
    np.testing.assert_array_equal(merged.monetary_value, summary.monetary_value)
    np.testing.assert_array_equal(merged.weights, summary.weights)
    fitted = fit_partitioned(GammaGamma(), parts)
    assert relative(fitted.params_, whole.params_) <= 1e-8
    assert fitted.n_excluded_ == whole.n_excluded_


def _same_rows(parts: Any, whole: Any) -> None:
    """Two results agree row for row: the same customers in order, the same numbers."""
    assert type(parts) is type(whole)
    got, expected = parts.columns(), whole.columns()
    assert list(got) == list(expected)
    for name, column in expected.items():
        if column.dtype.kind == "f":
            # the same formula per row; a series may take another number of terms in
            # another batch, so the last bits may differ
            np.testing.assert_allclose(got[name], column, rtol=1e-12, atol=0, err_msg=name)
        else:
            np.testing.assert_array_equal(got[name], column, err_msg=name)


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 2**32 - 1), k=st.integers(1, 5), which=st.sampled_from(range(3)))
def test_applying_per_partition_is_applying_once(
    snapshot: Snapshot, seed: int, k: int, which: int
) -> None:
    model = REPEAT_MODELS[which](time_unit="W", horizon=13.0).fit(snapshot)
    parts = partitions(snapshot, seed, k)
    whole = model.apply(Snapshot.concat(parts))
    _same_rows(PurchaseForecast.concat([model.apply(p) for p in parts]), whole)


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 2**32 - 1), k=st.integers(1, 5))
def test_spend_and_value_per_partition_are_spend_and_value_once(
    snapshot: Snapshot, seed: int, k: int
) -> None:
    parts = partitions(snapshot, seed, k)
    together = Snapshot.concat(parts)
    spend = GammaGamma().fit(snapshot)
    _same_rows(SpendForecast.concat([spend.apply(p) for p in parts]), spend.apply(together))
    value = LifetimeValue(ParetoNBD(time_unit="W"), horizon=52.0, step=4.345)
    value = fit_partitioned(value, parts)
    _same_rows(CustomerValue.concat([value.apply(p) for p in parts]), value.apply(together))


# -- results aligned to the snapshot's rows ---------------------------------------------------


@pytest.mark.parametrize("cls", REPEAT_MODELS)
def test_apply_gives_every_customer_in_snapshot_order(snapshot: Snapshot, cls: type[Any]) -> None:
    model = cls(time_unit="W", horizon=13.0).fit(snapshot)
    forecast = model.apply(snapshot)
    assert isinstance(forecast, PurchaseForecast)
    assert forecast.customer_ids.tolist() == snapshot.customer_ids.tolist()
    np.testing.assert_array_equal(forecast.buyer, snapshot.buyers)
    # buyers: what the array API gives on lifetimes' summary table
    table = rfm_summary_from_snapshot(snapshot, time_unit="W")
    rows = snapshot.rows(table.customer_ids)
    np.testing.assert_allclose(forecast.p_alive[rows], model.p_alive(table), rtol=1e-12)
    np.testing.assert_allclose(
        forecast.expected_purchases[rows], model.predict_purchases(13.0, table), rtol=1e-12
    )
    # customers who never bought: the formula for x = 0, since the day they joined
    never = ~snapshot.buyers
    tenure = forecast.T[never]
    assert (forecast.frequency[never] == 0).all()
    assert (forecast.recency[never] == 0).all()
    np.testing.assert_allclose(tenure, np.floor(snapshot.tenure_days[never] + 1e-9) / 7, atol=1 / 7)
    np.testing.assert_allclose(forecast.p_alive[never], model.p_alive(0, 0, tenure), rtol=1e-12)
    assert np.isfinite(forecast.p_alive).all()
    assert np.isfinite(forecast.expected_purchases).all()


def test_spend_forecast_gives_the_population_mean_without_usable_spend(snapshot: Snapshot) -> None:
    model = GammaGamma().fit(snapshot)
    forecast = model.apply(snapshot)
    assert forecast.customer_ids.tolist() == snapshot.customer_ids.tolist()
    p, q, v = (model.params_[n] for n in ("p", "q", "v"))
    usable = (forecast.frequency > 0) & (forecast.monetary_value > 0)
    np.testing.assert_allclose(forecast.expected_spend[~usable], p * v / (q - 1), rtol=1e-12)
    np.testing.assert_allclose(
        forecast.expected_spend[usable],
        model.expected_spend(forecast.frequency[usable], forecast.monetary_value[usable]),
    )
    assert "the population mean" in forecast.explain(snapshot.customer_ids[~snapshot.buyers][0])


def test_lifetime_value_is_customer_lifetime_value_of_the_snapshot(snapshot: Snapshot) -> None:
    strategy = LifetimeValue(BetaGeo(time_unit="W"), horizon=52.0, step=4.345, margin=0.3)
    value = strategy.fit(snapshot).apply(snapshot)
    same = customer_lifetime_value(
        strategy.transaction_model_,
        strategy.spend_model_,
        snapshot,
        horizon=52.0,
        discount_rate=0.01,
        margin=0.3,
        step=4.345,
    )
    np.testing.assert_array_equal(value.clv, same.clv)
    assert value.customer_ids.tolist() == snapshot.customer_ids.tolist()
    assert value.buyer is not None
    assert value.p_alive is not None
    assert np.isfinite(value.clv).all()
    assert (value.clv > 0).all()
    # buyers: the value of lifetimes' summary table, row for row
    table = rfm_summary_from_snapshot(snapshot, time_unit="W")
    of_table = customer_lifetime_value(
        strategy.transaction_model_,
        strategy.spend_model_,
        table,
        horizon=52.0,
        discount_rate=0.01,
        margin=0.3,
        step=4.345,
    )
    rows = snapshot.rows(table.customer_ids)
    np.testing.assert_allclose(value.clv[rows], of_table.clv, rtol=1e-12)
    assert of_table.time_unit == "W"
    assert of_table.buyer is None
    assert of_table.as_of is None
    # the template models are left as they were: clones are fitted
    assert not hasattr(strategy.transaction_model, "params_")


def test_customer_rfm_lines_up_with_the_snapshot(snapshot: Snapshot) -> None:
    rfm = customer_rfm(snapshot, time_unit="W")
    assert rfm.customer_ids.tolist() == snapshot.customer_ids.tolist()
    table = rfm_summary_from_snapshot(snapshot, time_unit="W")
    buyers = rfm[rfm.buyer]
    order = np.argsort(buyers.customer_ids)
    for name in ("customer_ids", "frequency", "recency", "T", "monetary_value"):
        np.testing.assert_array_equal(getattr(buyers, name)[order], getattr(table, name))
    assert "never bought" in rfm.explain(snapshot.customer_ids[~snapshot.buyers][0])


# -- a small pool, worked by hand -------------------------------------------------------------

_START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _pool() -> Pool:
    """ann buys on days 0, 3 and 10; bob on day 2 only; cy joins on day 5 and never buys."""
    pool = Pool("brand")
    day = dt.timedelta(days=1)
    pool.ingest(
        [
            Customer("ann", tenant="brand", joined_at=_START),
            Customer("bob", tenant="brand", joined_at=_START),
            Customer("cy", tenant="brand", joined_at=_START + 5 * day),
            *(
                Touchpoint(
                    f"t{i}",
                    tenant="brand",
                    customer_id=who,
                    at=_START + when * day + dt.timedelta(hours=9),
                    channel=Channel.MINI_PROGRAM,
                    kind=TouchKind.PURCHASED,
                    amount=Money.of(amount),
                )
                for i, (who, when, amount) in enumerate(
                    [("ann", 0, "10"), ("ann", 3, "20"), ("ann", 10, "40"), ("bob", 2, "15")]
                )
            ),
        ]
    )
    return pool


def test_a_small_pool_by_hand() -> None:
    snap = _pool().snapshot(as_of=_START + dt.timedelta(days=20, hours=12))
    model = BetaGeo.from_params(r=0.5, alpha=5.0, a=0.8, b=2.5)
    forecast = model.apply(snap)
    assert forecast.customer_ids.tolist() == ["ann", "bob", "cy"]
    assert forecast.buyer.tolist() == [True, True, False]
    assert forecast.frequency.tolist() == [2.0, 0.0, 0.0]
    assert forecast.recency.tolist() == [10.0, 0.0, 0.0]
    assert forecast.T.tolist() == [20.0, 18.0, 15.0]
    np.testing.assert_allclose(forecast.p_alive, model.p_alive([2, 0, 0], [10, 0, 0], [20, 18, 15]))
    np.testing.assert_allclose(
        forecast.expected_purchases,
        model.predict_purchases(30, [2, 0, 0], [10, 0, 0], [20, 18, 15]),
    )
    text = forecast.explain("ann")
    assert "2 repeat purchase days" in text
    assert f"P(alive) = {forecast.p_alive[0]:.4g}" in text
    assert "never bought; joined 15 days before as_of" in forecast.explain("cy")
    records = forecast.to_records()
    assert records[2] == {
        "customer_id": "cy",
        "buyer": False,
        "frequency": 0.0,
        "recency": 0.0,
        "T": 15.0,
        "p_alive": 1.0,
        "expected_purchases": pytest.approx(forecast.expected_purchases[2]),
    }
    rfm = customer_rfm(snap)
    assert rfm.monetary_value.tolist() == [30.0, 0.0, 0.0]  # ann: (20 + 40) / 2
    spend = GammaGamma.from_params(p=6.0, q=4.0, v=15.0).apply(snap)
    np.testing.assert_allclose(spend.expected_spend[1:], 6.0 * 15.0 / 3.0)
    assert spend.expected_spend[0] == pytest.approx(6.0 * (15.0 + 2 * 30.0) / (6.0 * 2 + 3.0))


def test_an_empty_partition_summarises_and_applies() -> None:
    snap = _pool().snapshot(as_of=_START + dt.timedelta(days=20))
    empty = snap.take(np.zeros(0, dtype=np.int64))
    summary = BetaGeo().summarize(empty)
    assert len(summary) == 0
    assert summary.n_customers == 0
    with pytest.raises(EmptyPoolError):
        BetaGeo().fit_summary(summary)
    assert len(GammaGamma().summarize(empty)) == 0
    assert len(BetaGeo.from_params(r=0.5, alpha=5.0, a=0.8, b=2.5).apply(empty)) == 0
    assert len(GammaGamma.from_params(p=6.0, q=4.0, v=15.0).apply(empty)) == 0


# -- refusals -------------------------------------------------------------------------------


def test_apply_before_fit_says_so(snapshot: Snapshot) -> None:
    for model in (BetaGeo(), GammaGamma(), LifetimeValue()):
        with pytest.raises(NotFittedError):
            model.apply(snapshot)


def test_a_model_fitted_in_another_unit_refuses_to_read_snapshots(snapshot: Snapshot) -> None:
    weekly = rfm_summary_from_snapshot(snapshot, time_unit="W")
    model = BetaGeo().fit(weekly)  # time_unit="D": the snapshot would be read in days
    assert model.time_unit_ == "W"
    with pytest.raises(ValidationError, match="time_unit='W'"):
        model.apply(snapshot)
    model.set_params(time_unit="W")
    assert len(model.apply(snapshot)) == len(snapshot)
    # columns carry no unit: the model trusts time_unit
    assert BetaGeo().fit(weekly.frequency, weekly.recency, weekly.T).time_unit_ is None


def test_fit_takes_a_snapshot_alone(snapshot: Snapshot) -> None:
    with pytest.raises(ValidationError, match="snapshot alone"):
        BetaGeo().fit(snapshot, np.zeros(3), np.zeros(3))
    with pytest.raises(ValidationError, match="snapshot alone"):
        GammaGamma().fit(snapshot, np.zeros(3))


def test_summaries_merge_only_with_their_kind(snapshot: Snapshot) -> None:
    days = BetaGeo().summarize(snapshot)
    weeks = BetaGeo(time_unit="W").summarize(snapshot)
    with pytest.raises(ValidationError, match="time units"):
        days.merge(weeks)
    with pytest.raises(ValidationError):
        days.merge(GammaGamma().summarize(snapshot))  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="RepeatSummary"):
        BetaGeo().fit_summary(GammaGamma().summarize(snapshot))  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="Snapshot"):
        BetaGeo().summarize(rfm_summary_from_snapshot(snapshot))  # type: ignore[arg-type]


def test_one_check_fitted() -> None:
    import privdomain.value._fitting as fitting

    assert not hasattr(fitting, "check_fitted")


# -- the one result base ----------------------------------------------------------------------


def test_value_results_share_the_one_result_base(snapshot: Snapshot) -> None:
    from privdomain.result import Result
    from privdomain.value import CalibrationHoldout, CustomerRFM, RFMSummary

    for cls in (
        RFMSummary,
        CalibrationHoldout,
        CustomerValue,
        CustomerRFM,
        PurchaseForecast,
        SpendForecast,
    ):
        assert issubclass(cls, Result)
    forecast = BetaGeo(time_unit="W").fit(snapshot).apply(snapshot)
    assert "<table>" in forecast._repr_html_()
    assert list(forecast.to_frame().columns)[:2] == ["buyer", "frequency"]
    assert forecast[forecast.buyer].buyer.all()


def test_summaries_of_logs_with_number_ids_explain_by_those_ids() -> None:
    data = BetaGeo.from_params(r=0.5, alpha=5.0, a=0.8, b=2.5).simulate(39.0, n_customers=5, seed=1)
    assert data.customer_ids.tolist() == [0, 1, 2, 3, 4]
    assert "frequency" in data.explain(3)
    with pytest.raises(UnknownCustomerError):
        data.explain(7)
    with pytest.raises(UnknownCustomerError):
        data.explain("3")


def test_concat_refuses_forecasts_of_other_models(snapshot: Snapshot) -> None:
    parts = partitions(snapshot, 1, 2)
    days = BetaGeo().fit(snapshot)
    weeks = BetaGeo(time_unit="W").fit(snapshot)
    with pytest.raises(ValidationError, match="one fitted model"):
        PurchaseForecast.concat([days.apply(parts[0]), weeks.apply(parts[1])])
    with pytest.raises(ValidationError, match="disjoint"):
        PurchaseForecast.concat([days.apply(parts[0]), days.apply(parts[0])])


def test_lifetime_value_is_a_scikit_learn_meta_estimator(snapshot: Snapshot) -> None:
    from sklearn.base import clone

    strategy = LifetimeValue(ParetoNBD(time_unit="W", penalizer_coef=0.01), horizon=52.0)
    params = strategy.get_params(deep=True)
    assert params["transaction_model__time_unit"] == "W"
    assert params["horizon"] == 52.0
    copy = clone(strategy).set_params(transaction_model__penalizer_coef=0.0)
    assert copy.transaction_model.penalizer_coef == 0.0
    assert strategy.transaction_model.penalizer_coef == 0.01
    fitted = copy.fit(snapshot)
    assert fitted.transaction_model_.params_ == ParetoNBD(time_unit="W").fit(snapshot).params_
    with pytest.raises(ValidationError, match="transaction_model"):
        LifetimeValue(GammaGamma()).fit(snapshot)


def test_from_params_reads_snapshots_in_the_unit_it_is_given() -> None:
    snap = _pool().snapshot(as_of=_START + dt.timedelta(days=20, hours=12))
    model = BetaGeo.from_params(r=0.5, alpha=5.0, a=0.8, b=2.5).set_params(time_unit="W")
    assert model.apply(snap).T.tolist() == [20 / 7, 18 / 7, 15 / 7]
