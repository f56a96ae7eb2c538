"""Every public entry point of privdomain.value refuses bad input with privdomain's own errors.

One table per entry point: each row changes one argument of a valid call and names the exact
error class expected (a ``TypeError`` only where Python itself would raise one: a missing
argument). A fuzz test at the end throws arbitrary values at the
main entry points and accepts only privdomain errors.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import attrs
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from privdomain.errors import (
    EmptyPoolError,
    NaiveDatetimeError,
    NotFittedError,
    PrivdomainError,
    ValidationError,
)
from privdomain.value import (
    BetaGeo,
    CalibrationHoldout,
    CustomerValue,
    GammaGamma,
    ModifiedBetaGeo,
    ParetoNBD,
    RFMSummary,
    calibration_holdout,
    customer_lifetime_value,
    rfm_summary,
    rfm_summary_from_snapshot,
)

UTC = dt.UTC
IDS = np.array(["a", "a", "b", "c"], dtype=object)
WHEN = np.array(
    ["2024-01-01T10", "2024-01-09T10", "2024-01-03T08", "2024-02-01T00"], dtype="datetime64[s]"
)
AMOUNTS = np.array([10.0, 20.0, 5.0, 8.0])
END = dt.datetime(2024, 3, 1, tzinfo=UTC)
CAL_END = dt.datetime(2024, 1, 15, tzinfo=UTC)

MODELS = [
    BetaGeo.from_params(r=0.25, alpha=4.0, a=0.8, b=2.5),
    ModifiedBetaGeo.from_params(r=0.25, alpha=4.0, a=0.8, b=2.5),
    ParetoNBD.from_params(r=0.5, alpha=10.0, s=0.6, beta=12.0),
]
MODEL_IDS = ["BetaGeo", "ModifiedBetaGeo", "ParetoNBD"]
SPEND = GammaGamma.from_params(p=6.0, q=4.0, v=15.0)

NAN, INF = float("nan"), float("inf")


def check(error: type[BaseException], call: Callable[[], Any]) -> None:
    """``call()`` raises exactly ``error`` (not a subclass, not a foreign exception)."""
    with pytest.raises(BaseException) as info:  # noqa: PT011 - the exact type is checked below
        call()
    assert type(info.value) is error, f"{type(info.value).__name__}: {info.value}"


def _data() -> RFMSummary:
    """A small summary the models can be fitted on."""
    return BetaGeo.from_params(r=0.25, alpha=4.0, a=0.8, b=2.5).simulate(
        39.0, n_customers=400, seed=1
    )


# -- rfm_summary ---------------------------------------------------------------------------------

SUMMARY_ROWS: list[tuple[str, dict[str, Any], type[BaseException]]] = [
    ("ids 2-D", {"customer_ids": IDS.reshape(2, 2)}, ValidationError),
    ("ids a str", {"customer_ids": "abcd"}, ValidationError),
    ("ids None", {"customer_ids": None}, ValidationError),
    ("ids with None", {"customer_ids": np.array(["a", None, "b", "c"])}, ValidationError),
    ("ids with NaN", {"customer_ids": np.array([1.0, NAN, 2.0, 3.0])}, ValidationError),
    ("ids of mixed types", {"customer_ids": np.array(["a", 1, "b", 2], object)}, ValidationError),
    ("ids booleans", {"customer_ids": np.array([True, False, True, True])}, ValidationError),
    ("ids too short", {"customer_ids": IDS[:3]}, ValidationError),
    ("times too short", {"timestamps": WHEN[:3]}, ValidationError),
    ("times missing", {"timestamps": None}, ValidationError),
    ("times a str", {"timestamps": "2024-01-01"}, ValidationError),
    ("times 2-D", {"timestamps": WHEN.reshape(2, 2)}, ValidationError),
    ("times with NaT", {"timestamps": np.append(WHEN[:3], np.datetime64("NaT"))}, ValidationError),
    ("times as numbers", {"timestamps": np.array([20240101] * 4)}, ValidationError),
    (
        "times naive datetimes",
        {"timestamps": [dt.datetime(2024, 1, 1)] * 4},
        NaiveDatetimeError,
    ),
    (
        "times out of range",
        {"timestamps": np.array(["2300-01-01"] * 4, dtype="datetime64[D]")},
        ValidationError,
    ),
    ("times of strings", {"timestamps": np.array(["2024-01-01"] * 4)}, ValidationError),
    ("epoch_unit unknown", {"timestamps": np.arange(4), "epoch_unit": "days"}, ValidationError),
    ("amounts NaN", {"amounts": np.array([1.0, NAN, 1.0, 1.0])}, ValidationError),
    ("amounts infinite", {"amounts": np.array([1.0, INF, 1.0, 1.0])}, ValidationError),
    ("amounts negative", {"amounts": np.array([1.0, -1.0, 1.0, 1.0])}, ValidationError),
    ("amounts too short", {"amounts": AMOUNTS[:3]}, ValidationError),
    ("amounts text", {"amounts": ["x", "y", "z", "w"]}, ValidationError),
    ("amounts a str", {"amounts": "10"}, ValidationError),
    ("end naive", {"observation_end": dt.datetime(2024, 3, 1)}, NaiveDatetimeError),
    ("end a str", {"observation_end": "2024-03-01"}, ValidationError),
    ("end None", {"observation_end": None}, ValidationError),
    ("end NaT", {"observation_end": np.datetime64("NaT")}, ValidationError),
    ("end out of range", {"observation_end": np.datetime64("2400-01-01")}, ValidationError),
    ("period unknown", {"period": "Q"}, ValidationError),
    ("period not a str", {"period": 7}, ValidationError),
    ("time_unit unknown", {"time_unit": "Y"}, ValidationError),
    ("utc_offset a number", {"utc_offset": 8}, ValidationError),
    ("utc_offset two days", {"utc_offset": dt.timedelta(days=2)}, ValidationError),
    ("utc_offset fractional", {"utc_offset": dt.timedelta(milliseconds=5)}, ValidationError),
    ("column names without a frame", {"customer_id_col": "id"}, ValidationError),
]


@pytest.mark.parametrize(
    ("change", "error"), [(c, e) for _, c, e in SUMMARY_ROWS], ids=[i for i, _, _ in SUMMARY_ROWS]
)
def test_rfm_summary(change: dict[str, Any], error: type[BaseException]) -> None:
    args: dict[str, Any] = {
        "customer_ids": IDS,
        "timestamps": WHEN,
        "amounts": AMOUNTS,
        "observation_end": END,
    }
    args.update(change)
    check(error, lambda: rfm_summary(**args))


FRAME_ROWS: list[tuple[str, dict[str, Any], type[BaseException]]] = [
    ("no column names", {}, ValidationError),
    ("only the id column", {"customer_id_col": "id"}, ValidationError),
    ("unknown column", {"customer_id_col": "id", "datetime_col": "when"}, ValidationError),
    (
        "column name not a str",
        {"customer_id_col": 0, "datetime_col": "date"},
        ValidationError,
    ),
    (
        "frame and arrays",
        {"customer_id_col": "id", "datetime_col": "date", "timestamps": WHEN},
        ValidationError,
    ),
    (
        "naive dates are UTC, but amounts must be numbers",
        {"customer_id_col": "id", "datetime_col": "date", "monetary_value_col": "id"},
        ValidationError,
    ),
]


@pytest.mark.parametrize(
    ("change", "error"), [(c, e) for _, c, e in FRAME_ROWS], ids=[i for i, _, _ in FRAME_ROWS]
)
def test_rfm_summary_of_a_frame(change: dict[str, Any], error: type[BaseException]) -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"id": IDS, "date": WHEN, "amount": AMOUNTS})
    check(error, lambda: rfm_summary(frame, observation_end=END, **change))


# -- calibration_holdout -------------------------------------------------------------------------

HOLDOUT_ROWS: list[tuple[str, dict[str, Any], type[BaseException]]] = [
    ("calibration after the end", {"calibration_end": END + dt.timedelta(1)}, ValidationError),
    ("calibration at the end", {"calibration_end": END}, ValidationError),
    ("calibration naive", {"calibration_end": dt.datetime(2024, 1, 15)}, NaiveDatetimeError),
    ("calibration a str", {"calibration_end": "2024-01-15"}, ValidationError),
    ("end naive", {"observation_end": dt.datetime(2024, 3, 1)}, NaiveDatetimeError),
    ("ids too short", {"customer_ids": IDS[:2]}, ValidationError),
    ("amounts negative", {"amounts": -AMOUNTS}, ValidationError),
    ("times as numbers", {"timestamps": np.arange(4)}, ValidationError),
    ("period unknown", {"period": "Y"}, ValidationError),
    ("time_unit unknown", {"time_unit": "s"}, ValidationError),
    ("utc_offset a str", {"utc_offset": "+08:00"}, ValidationError),
]


@pytest.mark.parametrize(
    ("change", "error"), [(c, e) for _, c, e in HOLDOUT_ROWS], ids=[i for i, _, _ in HOLDOUT_ROWS]
)
def test_calibration_holdout(change: dict[str, Any], error: type[BaseException]) -> None:
    args: dict[str, Any] = {
        "customer_ids": IDS,
        "timestamps": WHEN,
        "amounts": AMOUNTS,
        "calibration_end": CAL_END,
        "observation_end": END,
    }
    args.update(change)
    check(error, lambda: calibration_holdout(**args))


# -- rfm_summary_from_snapshot -------------------------------------------------------------------


@attrs.frozen
class FakeSnapshot:
    customer_ids: Any = attrs.field(factory=lambda: np.array(["a", "b", "z"], dtype=object))
    as_of: Any = END
    utc_offset: Any = dt.timedelta(0)
    first_purchase: Any = attrs.field(
        factory=lambda: np.array(["2024-01-01", "2024-01-03", "NaT"], dtype="datetime64[s]")
    )
    last_purchase: Any = attrs.field(
        factory=lambda: np.array(["2024-01-09", "2024-01-03", "NaT"], dtype="datetime64[s]")
    )
    purchase_days: Any = attrs.field(factory=lambda: np.array([2, 1, 0]))
    gross_spend: Any = attrs.field(factory=lambda: np.array([30.0, 5.0, 0.0]))
    first_day_spend: Any = attrs.field(factory=lambda: np.array([10.0, 5.0, 0.0]))


SNAPSHOT_ROWS: list[tuple[str, Callable[[], Any], dict[str, Any], type[BaseException]]] = [
    ("not a snapshot", object, {}, ValidationError),
    ("None", lambda: None, {}, ValidationError),
    ("naive as_of", lambda: FakeSnapshot(as_of=dt.datetime(2024, 3, 1)), {}, NaiveDatetimeError),
    ("as_of a str", lambda: FakeSnapshot(as_of="2024-03-01"), {}, ValidationError),
    ("offset a number", lambda: FakeSnapshot(utc_offset=8), {}, ValidationError),
    (
        "first purchase not datetimes",
        lambda: FakeSnapshot(first_purchase=np.array([1, 2, 3])),
        {},
        ValidationError,
    ),
    (
        "first purchase without a last one",
        lambda: FakeSnapshot(
            last_purchase=np.array(["2024-01-09", "NaT", "NaT"], dtype="datetime64[s]")
        ),
        {},
        ValidationError,
    ),
    (
        "columns of different lengths",
        lambda: FakeSnapshot(purchase_days=np.array([2, 1])),
        {},
        ValidationError,
    ),
    (
        "NaN spend",
        lambda: FakeSnapshot(gross_spend=np.array([NAN, 5.0, 0.0])),
        {},
        ValidationError,
    ),
    (
        "buyer without a purchase day",
        lambda: FakeSnapshot(purchase_days=np.array([0, 1, 0])),
        {},
        ValidationError,
    ),
    (
        "purchase after as_of",
        lambda: FakeSnapshot(as_of=dt.datetime(2024, 1, 5, tzinfo=UTC)),
        {},
        ValidationError,
    ),
    ("time_unit unknown", FakeSnapshot, {"time_unit": "Y"}, ValidationError),
    ("as_of for a Snapshot", FakeSnapshot, {"as_of": END}, ValidationError),
]


@pytest.mark.parametrize(
    ("make", "kwargs", "error"),
    [(m, k, e) for _, m, k, e in SNAPSHOT_ROWS],
    ids=[i for i, _, _, _ in SNAPSHOT_ROWS],
)
def test_rfm_summary_from_snapshot(
    make: Callable[[], Any], kwargs: dict[str, Any], error: type[BaseException]
) -> None:
    check(error, lambda: rfm_summary_from_snapshot(make(), **kwargs))


def test_rfm_summary_from_snapshot_frames() -> None:
    pd = pytest.importorskip("pandas")
    snap = FakeSnapshot()
    frame = pd.DataFrame({c: getattr(snap, c) for c in attrs.fields_dict(FakeSnapshot)})
    frame = frame.drop(columns=["as_of", "utc_offset"]).set_index("customer_ids")
    frame.index.name = "customer_id"  # as Snapshot.to_frame() gives it
    check(ValidationError, lambda: rfm_summary_from_snapshot(frame))  # no as_of
    check(ValidationError, lambda: rfm_summary_from_snapshot(frame, as_of=END))  # no offset
    transactions = pd.DataFrame({"id": IDS, "date": WHEN})
    check(
        ValidationError,
        lambda: rfm_summary_from_snapshot(transactions, as_of=END, utc_offset=dt.timedelta(0)),
    )
    got = rfm_summary_from_snapshot(frame, as_of=END, utc_offset=dt.timedelta(0))
    assert got.customer_ids.tolist() == ["a", "b"]


# -- result objects: construction and row selection ----------------------------------------------

RESULT_ROWS: list[tuple[str, dict[str, Any], type[BaseException]]] = [
    ("frequency too short", {"frequency": np.zeros(2)}, ValidationError),
    ("monetary too long", {"monetary_value": np.zeros(5)}, ValidationError),
    ("ids 2-D", {"customer_ids": np.zeros((3, 1))}, ValidationError),
    ("T text", {"T": np.array(["a", "b", "c"])}, ValidationError),
    ("recency 2-D", {"recency": np.zeros((3, 2))}, ValidationError),
]


@pytest.mark.parametrize(
    ("change", "error"), [(c, e) for _, c, e in RESULT_ROWS], ids=[i for i, _, _ in RESULT_ROWS]
)
def test_rfm_summary_construction(change: dict[str, Any], error: type[BaseException]) -> None:
    args: dict[str, Any] = {
        "customer_ids": np.array([1, 2, 3]),
        "frequency": np.array([0.0, 1.0, 2.0]),
        "recency": np.array([0.0, 3.0, 5.0]),
        "T": np.array([9.0, 9.0, 9.0]),
        "monetary_value": None,
        "period": "D",
        "time_unit": "D",
    }
    args.update(change)
    check(error, lambda: RFMSummary(**args))


def _results() -> list[RFMSummary | CalibrationHoldout | CustomerValue]:
    summary = rfm_summary(IDS, WHEN, AMOUNTS, observation_end=END)
    split = calibration_holdout(IDS, WHEN, AMOUNTS, calibration_end=CAL_END, observation_end=END)
    value = customer_lifetime_value(MODELS[0], SPEND, summary, horizon=30, discount_rate=0.01)
    return [summary, split, value]


ROW_ROWS: list[tuple[str, Callable[[int], Any], type[BaseException]]] = [
    ("mask too short", lambda n: np.ones(n - 1, dtype=bool), ValidationError),
    ("mask too long", lambda n: np.ones(n + 1, dtype=bool), ValidationError),
    ("row out of range", lambda n: [0, n], ValidationError),
    ("negative row out of range", lambda n: [-n - 1], ValidationError),
    ("rows 2-D", lambda n: np.zeros((1, 1), dtype=int), ValidationError),
    # the one result base refuses anything that is not a mask, row numbers or a slice alike
    ("a single number", lambda n: 1, ValidationError),
    ("a str", lambda n: "a", ValidationError),
    ("None", lambda n: None, ValidationError),
    ("floats", lambda n: np.array([0.0, 1.0]), ValidationError),
    ("a dict", lambda n: {"a": 1}, ValidationError),
    ("a repeated row", lambda n: [0, 0], ValidationError),  # one row per customer
]


@pytest.mark.parametrize("kind", ["take", "getitem"])
@pytest.mark.parametrize(
    ("make", "error"), [(m, e) for _, m, e in ROW_ROWS], ids=[i for i, _, _ in ROW_ROWS]
)
def test_row_selection(kind: str, make: Callable[[int], Any], error: type[BaseException]) -> None:
    for result in _results():
        rows = make(len(result))
        if kind == "take":
            check(error, lambda r=result, k=rows: r.take(k))  # type: ignore[misc]
        else:
            check(error, lambda r=result, k=rows: r[k])  # type: ignore[misc]


def test_results_are_not_iterated_row_by_row() -> None:
    for result in _results():
        check(TypeError, lambda r=result: iter(r))  # type: ignore[misc]


# -- the repeat-purchase models ------------------------------------------------------------------

X, TX, AGE = np.array([0.0, 2.0, 5.0]), np.array([0.0, 10.0, 30.0]), np.array([39.0, 39.0, 39.0])

FIT_ROWS: list[tuple[str, dict[str, Any], dict[str, Any], type[BaseException]]] = [
    ("frequency NaN", {"frequency": [NAN, 2.0, 5.0]}, {}, ValidationError),
    ("frequency infinite", {"frequency": [INF, 2.0, 5.0]}, {}, ValidationError),
    ("frequency negative", {"frequency": [-1.0, 2.0, 5.0]}, {}, ValidationError),
    ("frequency fractional", {"frequency": [0.5, 2.0, 5.0]}, {}, ValidationError),
    ("frequency text", {"frequency": ["a", "b", "c"]}, {}, ValidationError),
    ("frequency a str", {"frequency": "123"}, {}, ValidationError),
    ("frequency 2-D", {"frequency": np.zeros((3, 1))}, {}, ValidationError),
    ("frequency datetimes", {"frequency": WHEN[:3]}, {}, ValidationError),
    ("recency after T", {"recency": [0.0, 10.0, 40.0]}, {}, ValidationError),
    ("recency without repeats", {"recency": [1.0, 10.0, 30.0]}, {}, ValidationError),
    ("T negative", {"T": [-1.0, 39.0, 39.0]}, {}, ValidationError),
    ("lengths differ", {"T": [39.0, 39.0]}, {}, ValidationError),
    ("T missing", {"T": None}, {}, TypeError),
    ("recency missing", {"recency": None}, {}, TypeError),
    ("weights negative", {"weights": [1.0, -1.0, 1.0]}, {}, ValidationError),
    ("weights NaN", {"weights": [1.0, NAN, 1.0]}, {}, ValidationError),
    ("weights all zero", {"weights": [0.0, 0.0, 0.0]}, {}, ValidationError),
    ("weights too short", {"weights": [1.0, 1.0]}, {}, ValidationError),
    ("no customers", {"frequency": [], "recency": [], "T": []}, {}, EmptyPoolError),
    (
        "no repeat purchases",
        {"frequency": [0.0, 0.0], "recency": [0.0, 0.0], "T": [5.0, 9.0]},
        {},
        ValidationError,
    ),
    ("penalizer negative", {}, {"penalizer_coef": -1.0}, ValidationError),
    ("penalizer NaN", {}, {"penalizer_coef": NAN}, ValidationError),
    ("penalizer a str", {}, {"penalizer_coef": "0.1"}, ValidationError),
    ("max_iter zero", {}, {"max_iter": 0}, ValidationError),
    ("max_iter fractional", {}, {"max_iter": 2.5}, ValidationError),
    ("max_iter a str", {}, {"max_iter": "100"}, ValidationError),
]


@pytest.mark.parametrize("model", MODELS, ids=MODEL_IDS)
@pytest.mark.parametrize(
    ("change", "params", "error"),
    [(c, p, e) for _, c, p, e in FIT_ROWS],
    ids=[i for i, _, _, _ in FIT_ROWS],
)
def test_model_fit(
    model: Any, change: dict[str, Any], params: dict[str, Any], error: type[BaseException]
) -> None:
    args: dict[str, Any] = {"frequency": X, "recency": TX, "T": AGE}
    args.update(change)
    fresh = type(model)(**params)
    check(error, lambda: fresh.fit(**args))


SUMMARY_ARG_ROWS: list[tuple[str, Callable[[], Any], type[BaseException]]] = [
    ("an object without columns", object, ValidationError),
    ("a calibration/holdout split", lambda: _results()[1], ValidationError),
    ("a list of lists", lambda: [[0.0, 1.0], [0.0, 2.0], [1.0, 3.0]], ValidationError),
]


@pytest.mark.parametrize("model", MODELS, ids=MODEL_IDS)
@pytest.mark.parametrize(
    ("make", "error"),
    [(m, e) for _, m, e in SUMMARY_ARG_ROWS],
    ids=[i for i, _, _ in SUMMARY_ARG_ROWS],
)
def test_model_fit_on_one_summary(
    model: Any, make: Callable[[], Any], error: type[BaseException]
) -> None:
    fresh = type(model)()
    check(error, lambda: fresh.fit(make()))
    check(error, lambda: model.p_alive(make()))


def test_model_fit_on_a_frame_without_the_columns() -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"frequency": X, "recency": TX})
    check(ValidationError, lambda: BetaGeo().fit(frame))
    check(ValidationError, lambda: GammaGamma().fit(frame))


PARAM_ROWS: list[tuple[str, Any, dict[str, Any], type[BaseException]]] = [
    ("missing one", None, {"r": 1.0}, ValidationError),
    ("an unknown one", {"r": 1, "alpha": 1, "a": 1, "b": 1, "s": 1}, {}, ValidationError),
    ("negative", {"r": -1, "alpha": 1, "a": 1, "b": 1}, {}, ValidationError),
    ("zero", {"r": 0, "alpha": 1, "a": 1, "b": 1}, {}, ValidationError),
    ("NaN", {"r": NAN, "alpha": 1, "a": 1, "b": 1}, {}, ValidationError),
    ("infinite", {"r": INF, "alpha": 1, "a": 1, "b": 1}, {}, ValidationError),
    ("text", {"r": "x", "alpha": 1, "a": 1, "b": 1}, {}, ValidationError),
    ("text keyword", None, {"r": "x", "alpha": 1, "a": 1, "b": 1}, ValidationError),
    ("not a mapping", [1.0, 2.0, 3.0, 4.0], {}, ValidationError),
]


@pytest.mark.parametrize(
    ("params", "kwargs", "error"),
    [(p, k, e) for _, p, k, e in PARAM_ROWS],
    ids=[i for i, _, _, _ in PARAM_ROWS],
)
def test_model_from_params(params: Any, kwargs: dict[str, Any], error: type[BaseException]) -> None:
    check(error, lambda: BetaGeo.from_params(params, **kwargs))


PREDICT_ROWS: list[tuple[str, dict[str, Any], type[BaseException]]] = [
    ("t negative", {"t": -1.0}, ValidationError),
    ("t NaN", {"t": NAN}, ValidationError),
    ("t infinite", {"t": INF}, ValidationError),
    ("t a str", {"t": "13"}, ValidationError),
    ("t 2-D", {"t": np.ones((2, 2))}, ValidationError),
    ("t does not broadcast", {"t": [1.0, 2.0]}, ValidationError),
    ("frequency NaN", {"frequency": [NAN, 2.0, 5.0]}, ValidationError),
    ("frequency fractional", {"frequency": [0.5, 2.0, 5.0]}, ValidationError),
    ("recency after T", {"recency": [0.0, 10.0, 50.0]}, ValidationError),
    ("lengths differ", {"recency": [0.0, 10.0]}, ValidationError),
    ("T missing", {"T": None}, TypeError),
]


@pytest.mark.parametrize("model", MODELS, ids=MODEL_IDS)
@pytest.mark.parametrize(
    ("change", "error"), [(c, e) for _, c, e in PREDICT_ROWS], ids=[i for i, _, _ in PREDICT_ROWS]
)
def test_model_predictions(model: Any, change: dict[str, Any], error: type[BaseException]) -> None:
    args: dict[str, Any] = {"t": 13.0, "frequency": X, "recency": TX, "T": AGE}
    args.update(change)
    check(error, lambda: model.predict_purchases(**args))
    horizons = args.pop("t")
    if "t" not in change:
        check(error, lambda: model.cumulative_purchases([13.0], **args))
        check(error, lambda: model.p_alive(**args))
        check(error, lambda: model.log_likelihood(**args))
    elif np.ndim(horizons) != 1:  # a list of horizons is fine for these two
        check(error, lambda: model.cumulative_purchases(np.atleast_1d(horizons), **args))
        check(error, lambda: model.expected_purchases_new_customer(horizons))


@pytest.mark.parametrize("model", MODELS, ids=MODEL_IDS)
def test_unfitted_models(model: Any) -> None:
    fresh = type(model)()
    for call in (
        lambda: fresh.p_alive(X, TX, AGE),
        lambda: fresh.predict_purchases(13, X, TX, AGE),
        lambda: fresh.cumulative_purchases([13], X, TX, AGE),
        lambda: fresh.log_likelihood(X, TX, AGE),
        lambda: fresh.expected_purchases_new_customer(13),
        lambda: fresh.simulate(39.0, n_customers=3, seed=1),
        lambda: fresh.simulate_purchases(39.0, n_customers=3, seed=1),
    ):
        check(NotFittedError, call)


SIMULATE_ROWS: list[tuple[str, dict[str, Any], type[BaseException]]] = [
    ("T negative", {"T": -1.0}, ValidationError),
    ("T NaN", {"T": NAN}, ValidationError),
    ("T a str", {"T": "39"}, ValidationError),
    ("no n_customers for a scalar T", {"n_customers": None}, ValidationError),
    ("n_customers negative", {"n_customers": -1}, ValidationError),
    ("n_customers fractional", {"n_customers": 2.5}, ValidationError),
    ("n_customers a bool", {"n_customers": True}, ValidationError),
    ("n_customers a str", {"n_customers": "10"}, ValidationError),
    ("n_customers absurd", {"n_customers": 10**12}, ValidationError),
    ("n_customers disagrees with T", {"T": [39.0, 39.0], "n_customers": 3}, ValidationError),
    ("seed a str", {"seed": "x"}, ValidationError),
    ("seed negative", {"seed": -1}, ValidationError),
    ("seed a float", {"seed": 1.5}, ValidationError),
]


@pytest.mark.parametrize("model", MODELS, ids=MODEL_IDS)
@pytest.mark.parametrize(
    ("change", "error"),
    [(c, e) for _, c, e in SIMULATE_ROWS],
    ids=[i for i, _, _ in SIMULATE_ROWS],
)
def test_model_simulation(model: Any, change: dict[str, Any], error: type[BaseException]) -> None:
    args: dict[str, Any] = {"T": 39.0, "n_customers": 10, "seed": 1}
    args.update(change)
    check(error, lambda: model.simulate(**args))
    check(error, lambda: model.simulate_purchases(**args))


def test_simulation_time_unit_is_checked() -> None:
    check(ValidationError, lambda: MODELS[0].simulate(39.0, n_customers=3, time_unit="days"))


# -- Gamma-Gamma ---------------------------------------------------------------------------------

M = np.array([0.0, 12.0, 30.0])

SPEND_ROWS: list[tuple[str, dict[str, Any], type[BaseException]]] = [
    ("spend NaN", {"monetary_value": [0.0, NAN, 30.0]}, ValidationError),
    ("spend infinite", {"monetary_value": [0.0, INF, 30.0]}, ValidationError),
    ("spend text", {"monetary_value": ["a", "b", "c"]}, ValidationError),
    ("frequency negative", {"frequency": [-1.0, 2.0, 5.0]}, ValidationError),
    ("frequency fractional", {"frequency": [0.5, 2.0, 5.0]}, ValidationError),
    ("lengths differ", {"monetary_value": [0.0, 12.0]}, ValidationError),
    ("frequency alone, not a summary", {"monetary_value": None}, ValidationError),
]


@pytest.mark.parametrize(
    ("change", "error"), [(c, e) for _, c, e in SPEND_ROWS], ids=[i for i, _, _ in SPEND_ROWS]
)
def test_gamma_gamma(change: dict[str, Any], error: type[BaseException]) -> None:
    args: dict[str, Any] = {"frequency": X, "monetary_value": M}
    args.update(change)
    check(error, lambda: GammaGamma().fit(**args))
    check(error, lambda: SPEND.expected_spend(**args))
    check(error, lambda: SPEND.log_likelihood(**args))


GG_FIT_ROWS: list[tuple[str, dict[str, Any], dict[str, Any], type[BaseException]]] = [
    ("no repeat buyer", {"frequency": [0.0, 0.0, 0.0]}, {}, ValidationError),
    ("no positive spend", {"monetary_value": [0.0, 0.0, 0.0]}, {}, ValidationError),
    ("weights negative", {"weights": [1.0, -1.0, 1.0]}, {}, ValidationError),
    ("weights too long", {"weights": [1.0, 1.0, 1.0, 1.0]}, {}, ValidationError),
    ("penalizer negative", {}, {"penalizer_coef": -0.1}, ValidationError),
    ("penalizer None", {}, {"penalizer_coef": None}, ValidationError),
    ("max_iter negative", {}, {"max_iter": -5}, ValidationError),
]


@pytest.mark.parametrize(
    ("change", "params", "error"),
    [(c, p, e) for _, c, p, e in GG_FIT_ROWS],
    ids=[i for i, _, _, _ in GG_FIT_ROWS],
)
def test_gamma_gamma_fit(
    change: dict[str, Any], params: dict[str, Any], error: type[BaseException]
) -> None:
    args: dict[str, Any] = {"frequency": X, "monetary_value": M}
    args.update(change)
    check(error, lambda: GammaGamma(**params).fit(**args))


GG_OTHER_ROWS: list[tuple[str, Callable[[], Any], type[BaseException]]] = [
    ("from_params missing v", lambda: GammaGamma.from_params(p=1.0, q=2.0), ValidationError),
    ("from_params negative", lambda: GammaGamma.from_params(p=-1, q=2, v=3), ValidationError),
    ("from_params text", lambda: GammaGamma.from_params(p="a", q=2, v=3), ValidationError),
    ("unfitted expected_spend", lambda: GammaGamma().expected_spend(X, M), NotFittedError),
    ("unfitted log_likelihood", lambda: GammaGamma().log_likelihood(X, M), NotFittedError),
    ("unfitted simulate_spend", lambda: GammaGamma().simulate_spend(X), NotFittedError),
    ("simulate_spend negative", lambda: SPEND.simulate_spend([-1.0]), ValidationError),
    ("simulate_spend NaN", lambda: SPEND.simulate_spend([NAN]), ValidationError),
    ("simulate_spend bad seed", lambda: SPEND.simulate_spend(X, seed="x"), ValidationError),
]


@pytest.mark.parametrize(
    ("call", "error"), [(c, e) for _, c, e in GG_OTHER_ROWS], ids=[i for i, _, _ in GG_OTHER_ROWS]
)
def test_gamma_gamma_other_methods(call: Callable[[], Any], error: type[BaseException]) -> None:
    check(error, call)


# -- customer_lifetime_value ---------------------------------------------------------------------


def _summary() -> RFMSummary:
    return rfm_summary(IDS, WHEN, AMOUNTS, observation_end=END)


@attrs.frozen
class Ragged:
    customer_ids: Any = attrs.field(factory=lambda: np.array([1, 2, 3]))
    frequency: Any = attrs.field(factory=lambda: np.array([0.0, 1.0]))
    recency: Any = attrs.field(factory=lambda: np.array([0.0, 1.0, 2.0]))
    T: Any = attrs.field(factory=lambda: np.array([5.0, 5.0, 5.0]))
    monetary_value: Any = attrs.field(factory=lambda: np.array([0.0, 5.0, 5.0]))


CLV_ROWS: list[tuple[str, dict[str, Any], type[BaseException]]] = [
    ("horizon negative", {"horizon": -1.0}, ValidationError),
    ("horizon NaN", {"horizon": NAN}, ValidationError),
    ("horizon infinite", {"horizon": INF}, ValidationError),
    ("horizon a str", {"horizon": "12"}, ValidationError),
    ("horizon a bool", {"horizon": True}, ValidationError),
    ("step zero", {"step": 0.0}, ValidationError),
    ("step negative", {"step": -30.0}, ValidationError),
    ("billions of steps", {"horizon": 1e6, "step": 1e-4}, ValidationError),
    ("a tiny step", {"step": 5e-324}, ValidationError),
    ("a huge horizon", {"horizon": 1e300}, ValidationError),
    ("discount negative", {"discount_rate": -0.01}, ValidationError),
    ("discount NaN", {"discount_rate": NAN}, ValidationError),
    ("margin negative", {"margin": -1.0}, ValidationError),
    ("margin None", {"margin": None}, ValidationError),
    (
        "no monetary value",
        {"summary": attrs.evolve(_summary(), monetary_value=None)},
        ValidationError,
    ),
    ("summary not a summary", {"summary": object()}, ValidationError),
    ("summary columns of different lengths", {"summary": Ragged()}, ValidationError),
    ("transaction model not a model", {"transaction_model": object()}, ValidationError),
    ("spend model not a model", {"spend_model": MODELS[0]}, ValidationError),
    ("transaction model unfitted", {"transaction_model": BetaGeo()}, NotFittedError),
    ("spend model unfitted", {"spend_model": GammaGamma()}, NotFittedError),
]


@pytest.mark.parametrize(
    ("change", "error"), [(c, e) for _, c, e in CLV_ROWS], ids=[i for i, _, _ in CLV_ROWS]
)
def test_customer_lifetime_value(change: dict[str, Any], error: type[BaseException]) -> None:
    args: dict[str, Any] = {
        "transaction_model": MODELS[0],
        "spend_model": SPEND,
        "summary": _summary(),
        "horizon": 360.0,
        "discount_rate": 0.01,
        "margin": 1.0,
        "step": 30.0,
    }
    args.update(change)
    check(error, lambda: customer_lifetime_value(**args))


def test_the_step_limit_is_checked_before_any_work() -> None:
    class Exploding:
        def predict_purchases(self, *args: Any) -> Any:
            raise AssertionError("no purchases may be predicted for a refused horizon")

    check(
        ValidationError,
        lambda: customer_lifetime_value(
            Exploding(), SPEND, _summary(), horizon=1e9, discount_rate=0.0, step=1.0
        ),
    )


# -- fuzz: anything at all goes in, only privdomain errors come out ------------------------------

garbage = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=5),
    st.binary(max_size=5),
    st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=4),
    st.lists(st.integers(-(10**20), 10**20), max_size=4),
    st.lists(st.text(max_size=3), max_size=4),
    st.lists(st.none() | st.integers(), max_size=4),
    st.dictionaries(st.text(max_size=3), st.floats(), max_size=3),
    st.just(object()),
    st.just(np.zeros((2, 2))),
    st.just(np.array(["NaT", "2024-01-01"], dtype="datetime64[D]")),
    st.just(dt.datetime(2024, 1, 1)),
    st.just(dt.timedelta(hours=30)),
    st.just(10**5000),  # its repr raises; float() overflows
    st.just([10**400, 1]),
    st.just(np.array([1, 2], dtype=np.uint64) * np.uint64(2**63)),
    st.just([[[[[1.0]]]]]),
    st.just(np.float32(3.0)),
    st.just(np.array([1.0, 2.0, 3.0], dtype=np.float16)),
    st.just(np.ma.masked_array([1.0, 2.0], mask=[False, True])),
)


def _only_privdomain_errors(call: Callable[[], Any]) -> None:
    try:
        call()
    except PrivdomainError:
        pass
    except TypeError as exc:  # the Python convention: missing arguments
        if "missing" not in str(exc):
            raise


FUZZ_SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@FUZZ_SETTINGS
@given(which=st.integers(0, 4), value=garbage)
def test_fuzz_rfm_summary(which: int, value: Any) -> None:
    args: list[Any] = [IDS, WHEN, AMOUNTS, END, "D"]
    args[which] = value
    _only_privdomain_errors(
        lambda: rfm_summary(args[0], args[1], args[2], observation_end=args[3], period=args[4])
    )


@FUZZ_SETTINGS
@given(which=st.integers(0, 4), value=garbage)
def test_fuzz_models(which: int, value: Any) -> None:
    args: list[Any] = [X, TX, AGE, None, 13.0]
    args[which] = value
    _only_privdomain_errors(lambda: BetaGeo().fit(*args[:4]))
    _only_privdomain_errors(lambda: MODELS[2].predict_purchases(args[4], *args[:3]))
    _only_privdomain_errors(lambda: GammaGamma().fit(args[0], args[2] if which != 1 else value))


@FUZZ_SETTINGS
@given(which=st.integers(0, 6), value=garbage)
def test_fuzz_customer_lifetime_value(which: int, value: Any) -> None:
    args: list[Any] = [MODELS[0], SPEND, _summary(), 360.0, 0.01, 1.0, 30.0]
    args[which] = value
    _only_privdomain_errors(lambda: customer_lifetime_value(*args[:6], step=args[6]))


@FUZZ_SETTINGS
@given(which=st.integers(0, 3), value=garbage)
def test_fuzz_holdout_simulation_and_rows(which: int, value: Any) -> None:
    args: list[Any] = [IDS, WHEN, CAL_END, END]
    args[which] = value
    _only_privdomain_errors(
        lambda: calibration_holdout(
            args[0], args[1], calibration_end=args[2], observation_end=args[3]
        )
    )
    _only_privdomain_errors(lambda: rfm_summary_from_snapshot(FakeSnapshot(as_of=value)))
    _only_privdomain_errors(lambda: MODELS[0].simulate(value, n_customers=3, seed=1))
    if not (isinstance(value, int) and 0 <= value <= 10**9):  # valid, but slow to draw
        _only_privdomain_errors(lambda: MODELS[0].simulate(39.0, n_customers=value, seed=1))
    _only_privdomain_errors(lambda: MODELS[1].simulate_purchases(39.0, n_customers=3, seed=value))
    _only_privdomain_errors(lambda: SPEND.expected_spend(value, X))
    _only_privdomain_errors(lambda: BetaGeo.from_params(r=value, alpha=1, a=1, b=1))
    _only_privdomain_errors(lambda: _summary().take(value))
