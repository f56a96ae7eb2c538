"""Uplift learners recover a known heterogeneous effect from simulated randomised contacts,
keep scikit-learn's estimator contract, and refuse logs they cannot learn from."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.tree import DecisionTreeClassifier
from threadpoolctl import threadpool_limits

from privdomain.errors import NotFittedError, ValidationError
from privdomain.nudges import (
    ClassTransformation,
    TLearner,
    XLearner,
    off_policy_value,
    qini_auc_score,
)

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """Gradient boosting's OpenMP threads spin when the cores are busy with other work (a
    600-row fit then takes seconds instead of a fraction of one): these small fits run on one
    thread."""
    with threadpool_limits(1):
        yield


def sigmoid(z: Any) -> Any:
    return 1.0 / (1.0 + np.exp(-z))


def purchases(seed: int, n: int, share: float = 0.5) -> dict[str, Any]:
    """0/1 purchases: the nudge helps customers with a high x1 and hurts those with a low one
    (sleeping dogs); x0 drives buying anyway (sure things)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    t = rng.random(n) < share
    p0 = sigmoid(X[:, 0] - 1.0)
    p1 = sigmoid(X[:, 0] - 1.0 + 1.2 * X[:, 1])
    y = (rng.random(n) < np.where(t, p1, p0)).astype(float)
    return {"X": X, "t": t, "y": y, "tau": p1 - p0}


def revenue(seed: int, n: int, share: float = 0.5) -> dict[str, Any]:
    """A real outcome linear in X with an effect linear in X: linear models are exact."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    t = rng.random(n) < share
    tau = 1.0 + 2.0 * X[:, 1]
    y = 3.0 + 2.0 * X[:, 0] + t * tau + rng.normal(size=n)
    return {"X": X, "t": t, "y": y, "tau": tau}


# ---------------------------------------------------------------------- recovery
@pytest.mark.parametrize(
    "learner",
    [
        TLearner(LinearRegression()),
        XLearner(LinearRegression(), LinearRegression()),
    ],
    ids=["T", "X"],
)
def test_linear_effects_are_recovered(learner: Any) -> None:
    d = revenue(0, 4000)
    model = learner.fit(d["X"], d["y"], d["t"], propensity=0.5)
    grid = np.array([[0.0, -1.0], [0.0, 0.0], [5.0, 1.0]])
    np.testing.assert_allclose(model.predict(grid), 1.0 + 2.0 * grid[:, 1], atol=0.15)
    mu0, mu1 = model.predict_outcomes(grid)
    np.testing.assert_allclose(mu0, 3.0 + 2.0 * grid[:, 0], atol=0.15)
    np.testing.assert_allclose(mu1 - mu0, 1.0 + 2.0 * grid[:, 1], atol=0.15)


@pytest.mark.parametrize("name", ["T", "X", "CT"])
def test_heterogeneous_purchase_effects_are_recovered(name: str) -> None:
    d = purchases(1, 16000)
    fast = HistGradientBoostingClassifier(max_iter=60, random_state=0)
    learner = {
        "T": TLearner(fast),
        "X": XLearner(fast),
        "CT": ClassTransformation(fast),
    }[name].fit(d["X"], d["y"], d["t"], propensity=0.5)
    test = purchases(2, 4000)
    predicted = learner.predict(test["X"])
    assert np.corrcoef(predicted, test["tau"])[0, 1] > 0.85
    strong = np.abs(test["tau"]) > 0.15
    assert np.mean(np.sign(predicted[strong]) == np.sign(test["tau"][strong])) > 0.85
    # the average effect lies within the randomised test's interval of the difference in means
    t, y = test["t"], test["y"]
    diff = y[t].mean() - y[~t].mean()
    se = np.sqrt(y[t].var() / t.sum() + y[~t].var() / (~t).sum())
    assert abs(predicted.mean() - diff) < 3 * se
    # on held-out logs, ranking by the estimate is nearly as good as ranking by the truth
    assert qini_auc_score(y, predicted, t) > 0.8 * qini_auc_score(y, test["tau"], t)


def test_x_learner_uses_a_small_holdout_better_than_t() -> None:
    """A 10% holdout: the X-learner leans on the large treated arm (Künzel et al. 2019)."""
    errors: dict[str, list[float]] = {"T": [], "X": []}
    for seed in range(3):
        d = revenue(10 + seed, 1500, share=0.9)
        # the control arm is small; a flexible outcome model overfits it
        d["y"] = d["y"] + 0.5 * np.sin(3 * d["X"][:, 0])
        for name, learner in (
            ("T", TLearner(LinearRegression())),
            ("X", XLearner(LinearRegression(), LinearRegression())),
        ):
            model = learner.fit(d["X"], d["y"], d["t"], propensity=0.9)
            errors[name].append(float(np.mean((model.predict(d["X"]) - d["tau"]) ** 2)))
    assert np.mean(errors["X"]) <= np.mean(errors["T"])


def test_per_row_and_estimated_propensities() -> None:
    rng = np.random.default_rng(5)
    n = 6000
    X = rng.normal(size=(n, 2))
    p = sigmoid(0.8 * X[:, 0])  # contacted more often when x0 is high: known probabilities
    t = rng.random(n) < p
    tau = 1.0 + X[:, 1]
    y = 2.0 * X[:, 0] + t * tau + rng.normal(size=n)
    for propensity in (p, "estimate"):
        model = XLearner(LinearRegression(), LinearRegression()).fit(X, y, t, propensity=propensity)
        assert model.propensity_ is None
        g = model.propensity_estimator_.predict_proba(X)[:, 1]
        assert np.corrcoef(g, p)[0, 1] > 0.95
        assert np.abs(model.predict(X) - tau).mean() < 0.1
        given_g = model.predict(X[:3], propensity=p[:3])
        assert given_g.shape == (3,)
    model = TLearner(LinearRegression()).fit(X, y, t, propensity=p)
    assert np.abs(model.predict(X) - tau).mean() < 0.1


def test_doubly_robust_evaluation_with_a_t_learner() -> None:
    """predict_outcomes feeds off_policy_value: the value of 'contact who gains' is found."""
    fit, logs = revenue(20, 4000), revenue(21, 4000)
    model = TLearner(LinearRegression()).fit(fit["X"], fit["y"], fit["t"], propensity=0.5)
    target = (model.predict(logs["X"]) > 0).astype(float)
    truth = np.mean(3.0 + 2.0 * logs["X"][:, 0] + target * logs["tau"])
    dr = off_policy_value(
        logs["y"], logs["t"], 0.5, target, method="dr", outcomes=model.predict_outcomes(logs["X"])
    )
    ips = off_policy_value(logs["y"], logs["t"], 0.5, target, method="ips")
    assert dr.low <= truth <= dr.high
    assert dr.std_error < ips.std_error


def test_constant_arms_and_regressors() -> None:
    rng = np.random.default_rng(2)
    X = rng.normal(size=(200, 2))
    t = np.arange(200) % 2 == 0
    y = t.astype(float)  # every treated customer bought, no control customer did
    model = TLearner(LogisticRegression()).fit(X, y, t, propensity=0.5)
    np.testing.assert_array_equal(model.predict(X[:5]), np.ones(5))
    x = XLearner().fit(X, y, t, propensity=0.5)
    np.testing.assert_allclose(x.predict(X[:5]), np.ones(5))
    # a real outcome gets regressors by default
    real = TLearner().fit(X, y * 10.0 + X[:, 0], t, propensity=0.5)
    assert type(real.estimator_treated_).__name__ == "HistGradientBoostingRegressor"
    binary = TLearner().fit(X, (X[:, 0] > 0).astype(float), t, propensity=0.5)
    assert type(binary.estimator_treated_).__name__ == "HistGradientBoostingClassifier"
    # a separate control model
    two = TLearner(LinearRegression(), control_estimator=LogisticRegression()).fit(
        X, (X[:, 0] > 0).astype(float), t, propensity=0.5
    )
    assert type(two.estimator_control_).__name__ == "LogisticRegression"


@pytest.mark.parametrize("value", [0.0, 1.0])
def test_class_transformation_refuses_an_outcome_constant_in_both_arms(value: float) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    t = rng.random(300) < 0.5
    y = np.full(300, value)  # nobody (or everybody) bought: the true uplift is 0 everywhere
    with pytest.raises(ValidationError, match="constant in each arm"):
        ClassTransformation().fit(X, y, t, propensity=0.5)
    # the T- and X-learner fit a constant model per arm: exactly no uplift
    np.testing.assert_array_equal(TLearner().fit(X, y, t, propensity=0.5).predict(X), 0.0)
    np.testing.assert_allclose(XLearner().fit(X, y, t, propensity=0.5).predict(X), 0.0)
    # one constant arm is fine: nobody in the holdout bought, the treated bought at random
    y1 = np.where(t, (rng.random(300) < 0.3).astype(float), 0.0)
    lift = ClassTransformation(LogisticRegression()).fit(X, y1, t, propensity=0.5).predict(X)
    assert np.all(np.isfinite(lift))
    assert abs(float(lift.mean()) - 0.3) < 0.15  # the treated arm's rate minus none


@pytest.mark.parametrize("learner", [TLearner, XLearner])
def test_outcomes_too_large_for_the_models_are_refused(learner: Any) -> None:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 2))
    t = np.arange(200) % 2 == 0
    y = rng.normal(size=200)
    with pytest.raises(ValidationError, match="rescale y"):
        learner().fit(X, y * 1e200, t, propensity=0.5)
    with pytest.raises(ValidationError, match="float32"):
        learner().fit(X, y * 1e40, t, propensity=0.5)  # the default regressor
    linear = (
        TLearner(LinearRegression())
        if learner is TLearner
        else XLearner(LinearRegression(), LinearRegression())
    )
    assert np.all(np.isfinite(linear.fit(X, y * 1e100, t, propensity=0.5).predict(X)))
    with pytest.raises(ValidationError, match="rescale y"):
        linear.fit(X, y * 1e160, t, propensity=0.5)


# ---------------------------------------------------------------------- estimator contract
@pytest.mark.parametrize(
    "learner",
    [TLearner(LinearRegression(), min_arm_size=3), XLearner(min_arm_size=5), ClassTransformation()],
)
def test_estimator_contract(learner: Any) -> None:
    params = learner.get_params()
    twin = clone(learner)
    assert twin.get_params().keys() == params.keys()
    twin.set_params(min_arm_size=12)
    assert twin.min_arm_size == 12
    assert learner.min_arm_size != 12
    with pytest.raises(NotFittedError):
        twin.predict(np.zeros((2, 2)))
    d = purchases(3, 600)
    fitted = twin.fit(d["X"], d["y"], d["t"], propensity=0.5)
    assert fitted is twin
    assert fitted.n_features_in_ == 3
    assert fitted.n_treated_ + fitted.n_control_ == 600
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.predict(d["X"][:20]), fitted.predict(d["X"][:20]))
    with pytest.raises(ValidationError, match="features"):
        fitted.predict(np.zeros((2, 4)))
    # refitting on other data forgets the first fit
    other = purchases(4, 600)
    assert not np.array_equal(
        clone(twin).fit(other["X"], other["y"], other["t"], propensity=0.5).predict(d["X"][:20]),
        fitted.predict(d["X"][:20]),
    )


def test_class_transformation_has_no_outcome_models() -> None:
    d = purchases(3, 400)
    model = ClassTransformation(LogisticRegression()).fit(d["X"], d["y"], d["t"], propensity=0.5)
    assert not hasattr(model, "predict_outcomes")
    assert np.all(np.abs(model.predict(d["X"])) <= 1.0)


# ---------------------------------------------------------------------- bad input
def good() -> dict[str, Any]:
    d = purchases(6, 100)
    return {"X": d["X"], "y": d["y"], "treatment": d["t"], "propensity": 0.5}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"propensity": None}, "randomised"),
        ({"propensity": 0.0}, "positivity"),
        ({"propensity": 1.0}, "positivity"),
        ({"propensity": np.r_[np.full(99, 0.5), 1.0]}, "positivity"),
        ({"propensity": np.full(99, 0.5)}, "rows"),
        ({"propensity": np.r_[np.full(99, 0.5), np.nan]}, "finite"),
        ({"propensity": "known"}, "estimate"),
        ({"propensity": True}, "propensity"),
        ({"propensity": 0.02}, "randomised"),
        ({"treatment": np.r_[np.ones(50), np.full(50, 2)]}, "binary"),
        ({"treatment": np.ones(100)}, "min_arm_size"),
        ({"treatment": np.r_[np.ones(95), np.zeros(5)], "propensity": 0.95}, "control arm"),
        ({"treatment": np.ones(99)}, "rows"),
        ({"y": np.r_[np.zeros(99), np.nan]}, "finite"),
        ({"y": np.zeros(101)}, "rows"),
        ({"y": np.array(["a"] * 100)}, "numbers"),
        ({"X": np.full((100, 3), np.nan)}, "NaN"),
        ({"X": np.zeros((99, 3))}, "rows"),
    ],
)
@pytest.mark.parametrize("learner", [TLearner, XLearner, ClassTransformation])
def test_bad_input_is_refused(learner: Any, change: dict[str, Any], message: str) -> None:
    args = good()
    args.update(change)
    X, y, treatment = args.pop("X"), args.pop("y"), args.pop("treatment")
    with pytest.raises(ValidationError, match=message):
        learner(LogisticRegression()).fit(X, y, treatment, **args)


def test_learner_specific_refusals() -> None:
    args = good()
    X, y, t = args["X"], args["y"], args["treatment"]
    with pytest.raises(ValidationError, match="classifier"):
        TLearner(LogisticRegression()).fit(X, y + 0.5, t, propensity=0.5)
    with pytest.raises(ValidationError, match="50/50"):
        ClassTransformation().fit(X, y, t, propensity=0.4)
    with pytest.raises(ValidationError, match="50/50"):
        ClassTransformation().fit(X, y, t, propensity="estimate")
    with pytest.raises(ValidationError, match="0/1"):
        ClassTransformation().fit(X, y * 3, t, propensity=0.5)
    with pytest.raises(ValidationError, match="classifier"):
        ClassTransformation(LinearRegression()).fit(X, y, t, propensity=0.5)
    with pytest.raises(ValidationError, match="regressor"):
        XLearner(effect_estimator=LogisticRegression()).fit(X, y, t, propensity=0.5)
    with pytest.raises(ValidationError, match="estimator"):
        TLearner("gbm").fit(X, y, t, propensity=0.5)
    with pytest.raises(ValidationError, match="min_arm_size"):
        TLearner(min_arm_size=0).fit(X, y, t, propensity=0.5)
    fitted = XLearner(LinearRegression(), LinearRegression()).fit(X, y, t, propensity=0.5)
    with pytest.raises(ValidationError, match="positivity"):
        fitted.predict(X, propensity=1.0)


@st.composite
def small_logs(draw: Any) -> Any:
    n = draw(st.integers(0, 30))
    X = np.array(
        draw(st.lists(st.floats(-1e3, 1e3), min_size=2 * n, max_size=2 * n)), dtype=float
    ).reshape(n, 2)
    y = np.array(draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)), dtype=float)
    t = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
    extra = draw(st.integers(-1, 1))  # a column of the wrong length, now and then
    if extra and n:
        y = np.resize(y, n + extra)
    return X, y, t


@FAST
@given(
    logs=small_logs(),
    propensity=st.one_of(st.floats(-0.5, 1.5), st.just("estimate"), st.none()),
    learner=st.sampled_from([TLearner, XLearner, ClassTransformation]),
)
def test_fit_succeeds_or_refuses_clearly(logs: Any, propensity: Any, learner: Any) -> None:
    X, y, t = logs
    # a tree: no iterative solver, so no convergence warning on wild scales
    model = learner(DecisionTreeClassifier(max_depth=3, random_state=0), min_arm_size=2)
    try:
        model.fit(X, y, t, propensity=propensity)
    except ValidationError:
        return
    predicted = model.predict(X)
    assert predicted.shape == (X.shape[0],)
    assert np.all(np.isfinite(predicted))
