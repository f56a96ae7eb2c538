"""Uplift metrics, bootstrap intervals and off-policy values.

The metrics are checked three ways: against numbers scikit-uplift 0.5.1 itself printed on seeded
datasets (fixtures below), against slow references written here from the published
definitions, and by properties (row order, the perfect ranking scores 1, bad input refused).
The off-policy estimators are checked on simulations whose true policy value is known.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from privdomain.errors import ValidationError
from privdomain.nudges import (
    MetricInterval,
    PolicyValue,
    bootstrap,
    off_policy_value,
    perfect_qini_curve,
    perfect_uplift_curve,
    qini_auc_score,
    qini_curve,
    uplift_at_k,
    uplift_auc_score,
    uplift_curve,
)

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ---------------------------------------------------------------------- scikit-uplift's numbers
def dataset(seed: int, n: int, decimals: int) -> tuple[Any, Any, Any]:
    """The same rows as ``benchmarks/sklift_fixtures.py`` draws (kept identical on purpose)."""
    rng = np.random.default_rng(seed)
    treatment = (rng.random(n) < 0.4).astype(np.int64)
    score = rng.normal(size=n)
    base = 1.0 / (1.0 + np.exp(-(score - 1.0)))
    lift = 0.08 + 0.15 * np.tanh(score)
    y = (rng.random(n) < np.clip(base + treatment * lift, 0.0, 1.0)).astype(np.int64)
    uplift = np.round(score + rng.normal(scale=0.5, size=n), decimals)
    return y, uplift, treatment


DATASETS = {11: (500, 1), 12: (3000, 2), 13: (2000, 12)}

# Produced by `.venv-bench-nudges/bin/python -m benchmarks.sklift_fixtures` with
# scikit-uplift 0.5.1 (benchmarks/requirements-nudges.txt), pasted unchanged.
SKLIFT_0_5_1 = {
    (11, "uplift_auc_score", "[]"): 0.10198032756375805,
    (11, "qini_auc_score", "[]"): 0.08533444950517662,
    (11, "qini_auc_score", "[('negative_effect', False)]"): 0.8075621485411845,
    (11, "uplift_at_k", "[('k', 0.3), ('strategy', 'overall')]"): 0.1699134199134199,
    (11, "uplift_at_k", "[('k', 0.1), ('strategy', 'overall')]"): 0.1217948717948718,
    (11, "uplift_at_k", "[('k', 0.3), ('strategy', 'by_group')]"): 0.18040293040293043,
    (11, "uplift_at_k", "[('k', 57), ('strategy', 'overall')]"): 0.059259259259259234,
    (11, "uplift_at_k", "[('k', 40), ('strategy', 'by_group')]"): 0.07500000000000007,
    (12, "uplift_auc_score", "[]"): 0.07953068830671639,
    (12, "qini_auc_score", "[]"): 0.07648380771715822,
    (12, "qini_auc_score", "[('negative_effect', False)]"): 0.6028963656519826,
    (12, "uplift_at_k", "[('k', 0.3), ('strategy', 'overall')]"): 0.16668808041977812,
    (12, "uplift_at_k", "[('k', 0.1), ('strategy', 'overall')]"): 0.24318677747342032,
    (12, "uplift_at_k", "[('k', 0.3), ('strategy', 'by_group')]"): 0.16214439765841632,
    (12, "uplift_at_k", "[('k', 57), ('strategy', 'overall')]"): 0.3134920634920635,
    (12, "uplift_at_k", "[('k', 40), ('strategy', 'by_group')]"): 0.275,
    (13, "uplift_auc_score", "[]"): 0.10279122432989317,
    (13, "qini_auc_score", "[]"): 0.08974042682863602,
    (13, "qini_auc_score", "[('negative_effect', False)]"): 0.8545252974988862,
    (13, "uplift_at_k", "[('k', 0.3), ('strategy', 'overall')]"): 0.1960793443844292,
    (13, "uplift_at_k", "[('k', 0.1), ('strategy', 'overall')]"): 0.3074648928307464,
    (13, "uplift_at_k", "[('k', 0.3), ('strategy', 'by_group')]"): 0.19055090655509066,
    (13, "uplift_at_k", "[('k', 57), ('strategy', 'overall')]"): 0.36904761904761896,
    (13, "uplift_at_k", "[('k', 40), ('strategy', 'by_group')]"): 0.35,
}

# (points, sum of x, sum of heights, middle height), printed by the same script.
SKLIFT_0_5_1_CURVES = {
    (11, "uplift_curve"): (60, 14045, 1459.2164434400468, 34.79757085020241),
    (11, "qini_curve"): (60, 14045, 612.4400532883247, 14.692307692307693),
    (11, "perfect_uplift_curve"): (5, 1268, 553.9137224282648, 275.0),
    (11, "perfect_qini_curve"): (4, 993, 186.1063829787234, 86.0),
    (12, "uplift_curve"): (532, 813306, 84291.63201583644, 210.30352619911233),
    (12, "qini_curve"): (532, 813306, 34116.438240497126, 85.05313496280553),
    (12, "perfect_uplift_curve"): (5, 7623, 3294.0156724418166, 1704.0),
    (12, "perfect_qini_curve"): (4, 5919, 993.2016806722688, 452.0),
    (13, "uplift_curve"): (2001, 2001000, 239984.3748989396, 144.66852535100756),
    (13, "qini_curve"): (2001, 2001000, 94905.29669689869, 57.57807308970101),
    (13, "perfect_uplift_curve"): (5, 5036, 2203.9666720878736, 1119.0),
    (13, "perfect_qini_curve"): (4, 3917, 687.7787021630616, 318.0),
}

METRIC_FUNCTIONS = {
    "uplift_auc_score": uplift_auc_score,
    "qini_auc_score": qini_auc_score,
    "uplift_at_k": uplift_at_k,
}


@pytest.mark.parametrize("key", sorted(SKLIFT_0_5_1, key=repr))
def test_metrics_equal_scikit_uplift(key: tuple[int, str, str]) -> None:
    seed, name, kwargs_repr = key
    y, uplift, treatment = dataset(seed, *DATASETS[seed])
    kwargs = dict(eval(kwargs_repr))  # the fixture's own repr of the keyword arguments
    got = METRIC_FUNCTIONS[name](y, uplift, treatment, **kwargs)
    assert got == pytest.approx(SKLIFT_0_5_1[key], rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("key", sorted(SKLIFT_0_5_1_CURVES))
def test_curves_equal_scikit_uplift(key: tuple[int, str]) -> None:
    seed, name = key
    y, uplift, treatment = dataset(seed, *DATASETS[seed])
    if name.startswith("perfect"):
        x, h = {
            "perfect_uplift_curve": perfect_uplift_curve,
            "perfect_qini_curve": perfect_qini_curve,
        }[name](y, treatment)
    else:
        x, h = {"uplift_curve": uplift_curve, "qini_curve": qini_curve}[name](y, uplift, treatment)
    points, x_sum, h_sum, middle = SKLIFT_0_5_1_CURVES[key]
    assert len(x) == len(h) == points
    assert int(np.sum(x)) == x_sum
    assert float(np.sum(h)) == pytest.approx(h_sum, rel=1e-12)
    assert float(h[len(h) // 2]) == pytest.approx(middle, rel=1e-12)


# ---------------------------------------------------------------------- slow references
def ref_curve(kind: str, y: Any, u: Any, t: Any) -> tuple[list[float], list[float]]:
    """Published definition, one threshold at a time: the rows scoring at least each distinct
    score, highest first; the curve at that many rows; (0, 0) first."""
    xs, hs = [0.0], [0.0]
    for v in sorted(set(u.tolist()), reverse=True):
        top = [i for i in range(len(u)) if u[i] >= v]
        nt = sum(1 for i in top if t[i] == 1)
        nc = len(top) - nt
        yt = sum(float(y[i]) for i in top if t[i] == 1)
        yc = sum(float(y[i]) for i in top if t[i] == 0)
        if kind == "uplift":
            rt = yt / nt if nt else 0.0
            rc = yc / nc if nc else 0.0
            h = (rt - rc) * len(top)
        else:
            h = yt - yc * (nt / nc if nc else 0.0)
        xs.append(float(len(top)))
        hs.append(h)
    return xs, hs


def ref_area(xs: list[float], hs: list[float]) -> float:
    return sum((xs[i] - xs[i - 1]) * (hs[i] + hs[i - 1]) / 2 for i in range(1, len(xs)))


def ref_perfect_score(kind: str, y: Any, t: Any) -> Any:
    """scikit-uplift's perfect rankings, written from its documentation."""
    if kind == "qini":
        return y * t - y * (1 - t)
    control_responders = int(np.sum((y == 1) & (t == 0)))
    treated_non_responders = int(np.sum((y == 0) & (t == 1)))
    summand = y if control_responders > treated_non_responders else t
    return 2 * (y == t) + summand


def ref_auc_score(kind: str, y: Any, u: Any, t: Any) -> float:
    actual = ref_curve(kind, y, u, t)
    perfect = ref_curve(kind, y, ref_perfect_score(kind, y, t), t)
    baseline = perfect[0][-1] * perfect[1][-1] / 2
    return (ref_area(*actual) - baseline) / (ref_area(*perfect) - baseline)


def ref_uplift_at_k(y: Any, u: Any, t: Any, strategy: str, k: Any) -> float:
    """Rank by score, highest first, equal scores by row number, highest first."""
    n = len(y)
    ranked = sorted(range(n), key=lambda i: (-u[i], -i))

    def rate(rows: list[int]) -> float:
        return sum(float(y[i]) for i in rows) / len(rows)

    if strategy == "overall":
        size = int(n * k) if isinstance(k, float) else k
        top = ranked[:size]
        return rate([i for i in top if t[i] == 1]) - rate([i for i in top if t[i] == 0])
    treated = [i for i in ranked if t[i] == 1]
    control = [i for i in ranked if t[i] == 0]
    size_t = int(len(treated) * k) if isinstance(k, float) else k
    size_c = int(len(control) * k) if isinstance(k, float) else k
    return rate(treated[:size_t]) - rate(control[:size_c])


@st.composite
def logged(draw: Any, min_size: int = 2, binary: bool = True, ties: bool = True) -> Any:
    """(y, uplift, treatment) with both arms present; scores with or without ties."""
    n = draw(st.integers(min_size, 40))
    t = np.array(draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)))
    if t.min() == t.max():
        t[0] = 1 - t[0]
    if binary:
        y = np.array(draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)), dtype=float)
    else:
        y = np.array(draw(st.lists(st.floats(-100, 100, allow_nan=False), min_size=n, max_size=n)))
    if ties:
        u = np.array(draw(st.lists(st.integers(-3, 3), min_size=n, max_size=n)), dtype=float)
    else:
        u = np.array(draw(st.lists(st.floats(-1e6, 1e6), min_size=n, max_size=n, unique=True)))
    return y, u, t


@FAST
@given(data=logged(binary=False))
def test_curves_equal_the_definition(data: Any) -> None:
    y, u, t = data
    for kind, function in (("uplift", uplift_curve), ("qini", qini_curve)):
        x, h = function(y, u, t)
        rx, rh = ref_curve(kind, y, u, t)
        assert x.tolist() == rx
        np.testing.assert_allclose(h, rh, rtol=1e-9, atol=1e-9)


@FAST
@given(data=logged())
def test_scores_equal_the_definition(data: Any) -> None:
    y, u, t = data
    for kind, function in (("uplift", uplift_auc_score), ("qini", qini_auc_score)):
        try:
            expected = ref_auc_score(kind, y, u, t)
        except ZeroDivisionError:
            with pytest.raises(ValidationError, match="undefined"):
                function(y, u, t)
            continue
        assert function(y, u, t) == pytest.approx(expected, rel=1e-9, abs=1e-12)


@FAST
@given(
    data=logged(min_size=4, binary=False),
    strategy=st.sampled_from(["overall", "by_group"]),
    k=st.one_of(st.floats(0.01, 0.99), st.integers(1, 3)),
)
def test_uplift_at_k_equals_the_definition(data: Any, strategy: str, k: Any) -> None:
    y, u, t = data
    try:
        expected = ref_uplift_at_k(y, u, t, strategy, k)
    except ZeroDivisionError:  # an arm without rows among the top: undefined
        with pytest.raises(ValidationError):
            uplift_at_k(y, u, t, strategy, k)
        return
    if strategy == "by_group" and isinstance(k, int) and k > min(t.sum(), (1 - t).sum()):
        with pytest.raises(ValidationError, match="more than"):
            uplift_at_k(y, u, t, strategy, k)
        return
    assert uplift_at_k(y, u, t, strategy, k) == pytest.approx(expected, rel=1e-12, abs=1e-12)


# ---------------------------------------------------------------------- properties
@FAST
@given(data=logged(min_size=6, ties=False), seed=st.integers(0, 2**32 - 1))
def test_metrics_do_not_depend_on_row_order_without_ties(data: Any, seed: int) -> None:
    y, u, t = data
    perm = np.random.default_rng(seed).permutation(y.size)
    for function, kwargs in (
        (uplift_auc_score, {}),
        (qini_auc_score, {}),
        (uplift_at_k, {"strategy": "overall", "k": 0.5}),
        (uplift_at_k, {"strategy": "by_group", "k": 0.5}),
    ):
        try:
            before = function(y, u, t, **kwargs)
        except ValidationError:
            with pytest.raises(ValidationError):
                function(y[perm], u[perm], t[perm], **kwargs)
            continue
        after = function(y[perm], u[perm], t[perm], **kwargs)
        assert after == pytest.approx(before, rel=1e-9, abs=1e-12)


@FAST
@given(
    data=logged(min_size=4),
    strategy=st.sampled_from(["overall", "by_group"]),
    k=st.floats(0.05, 0.95),
)
def test_uplift_at_k_is_a_difference_of_rates(data: Any, strategy: str, k: float) -> None:
    y, u, t = data
    try:
        value = uplift_at_k(y, u, t, strategy, k)
    except ValidationError:
        return
    assert -1.0 <= value <= 1.0


@FAST
@given(data=logged(min_size=4))
def test_the_perfect_ranking_scores_one(data: Any) -> None:
    y, _, t = data
    for kind, function in (("uplift", uplift_auc_score), ("qini", qini_auc_score)):
        perfect = ref_perfect_score(kind, y, t).astype(float)
        try:
            score = function(y, perfect, t)
        except ValidationError:  # nothing to rank: every row's outcome alike
            assert y.min() == y.max() or kind == "uplift"
            continue
        assert score == pytest.approx(1.0)


@FAST
@given(data=logged(binary=False))
def test_curves_start_at_the_origin_and_end_at_every_row(data: Any) -> None:
    y, u, t = data
    for function in (uplift_curve, qini_curve):
        x, h = function(y, u, t)
        assert x[0] == 0
        assert h[0] == 0
        assert x[-1] == y.size
        assert np.all(np.diff(x) > 0)
    # the uplift curve ends at n times the difference of the arms' mean outcomes
    _, h = uplift_curve(y, u, t)
    expected = (y[t == 1].mean() - y[t == 0].mean()) * y.size
    assert h[-1] == pytest.approx(expected, rel=1e-9, abs=1e-6)


def test_types_of_input_are_all_one() -> None:
    y, u, t = dataset(12, *DATASETS[12])
    expected = qini_auc_score(y, u, t)
    assert qini_auc_score(y.astype(bool), u.tolist(), t.astype(bool)) == expected
    assert qini_auc_score(y.astype(float), u.astype(np.float32).astype(float), t * 1.0) == (
        pytest.approx(qini_auc_score(y, u.astype(np.float32).astype(float), t))
    )


# ---------------------------------------------------------------------- bad input
GOOD = (
    np.array([0, 1, 1, 0, 1, 0]),
    np.array([0.3, 0.2, 0.9, 0.1, 0.5, 0.4]),
    np.array([0, 1, 1, 0, 0, 1]),
)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"y_true": [0, 1, 1]}, "rows"),
        ({"uplift": [0.1] * 5}, "rows"),
        ({"treatment": [0, 1, 1, 0, 1, 0, 1]}, "rows"),
        ({"uplift": [0.3, np.nan, 0.9, 0.1, 0.5, 0.4]}, "finite"),
        ({"uplift": [0.3, np.inf, 0.9, 0.1, 0.5, 0.4]}, "finite"),
        ({"y_true": [0, 1, np.nan, 0, 1, 0]}, "finite"),
        ({"treatment": [0, 1, 2, 0, 0, 1]}, "binary"),
        ({"treatment": [0, 0, 0, 0, 0, 0]}, "both treated and control"),
        ({"treatment": [1, 1, 1, 1, 1, 1]}, "both treated and control"),
        ({"y_true": [0, 1, 2, 0, 1, 0]}, "binary outcome"),
        ({"y_true": ["a"] * 6}, "numbers"),
        ({"uplift": [[0.1, 0.2]] * 6}, "1-D"),
        ({"y_true": [], "uplift": [], "treatment": []}, "at least one row"),
        ({"uplift": [None] * 6}, "numbers"),
        ({"uplift": [[1], [2, 3]]}, "1-D array of numbers"),
    ],
)
def test_bad_input_is_refused_with_a_reason(change: dict[str, Any], message: str) -> None:
    args = dict(zip(("y_true", "uplift", "treatment"), GOOD, strict=True))
    args.update(change)
    for function in (uplift_auc_score, qini_auc_score):
        with pytest.raises(ValidationError, match=message):
            function(**args)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"k": 0.0}, "open interval"),
        ({"k": 1.0}, "open interval"),
        ({"k": 0}, "positive"),
        ({"k": 6}, "smaller"),
        ({"k": True}, "share"),
        ({"k": "0.3"}, "share"),
        ({"strategy": "first"}, "strategy"),
        ({"strategy": "by_group", "k": 4}, "more than"),
        ({"strategy": "overall", "k": 1}, "undefined"),
    ],
)
def test_bad_k_and_strategy_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        uplift_at_k(*GOOD, **kwargs)


def test_qini_without_negative_effects_needs_a_positive_overall_effect() -> None:
    y, t = np.array([0, 0, 1, 1]), np.array([1, 1, 0, 0])
    with pytest.raises(ValidationError, match="responded less"):
        qini_auc_score(y, [1.0, 2.0, 3.0, 4.0], t, negative_effect=False)
    with pytest.raises(ValidationError, match="responded less"):
        perfect_qini_curve(y, t, negative_effect=False)
    with pytest.raises(ValidationError, match="bool"):
        qini_auc_score(y, [1.0, 2.0, 3.0, 4.0], t, negative_effect=1)


def test_a_score_with_nothing_to_rank_is_undefined() -> None:
    with pytest.raises(ValidationError, match="undefined"):
        uplift_auc_score([0, 0, 0, 0], [0.1, 0.2, 0.3, 0.4], [0, 1, 0, 1])


garbage = st.one_of(
    st.none(),
    st.text(max_size=3),
    st.lists(
        st.one_of(st.floats(), st.integers(-3, 3), st.text(max_size=1), st.none()), max_size=6
    ),
    st.lists(st.lists(st.integers(0, 1), max_size=2), max_size=3),
    st.floats(),
)


@FAST
@given(
    y=garbage,
    u=garbage,
    t=garbage,
    k=st.one_of(st.floats(), st.integers(-2, 8), st.text(max_size=2)),
)
def test_garbage_gets_a_validation_error_never_a_numpy_error(
    y: Any, u: Any, t: Any, k: Any
) -> None:
    for call in (
        lambda: uplift_curve(y, u, t),
        lambda: qini_curve(y, u, t),
        lambda: uplift_auc_score(y, u, t),
        lambda: qini_auc_score(y, u, t),
        lambda: perfect_uplift_curve(y, t),
        lambda: uplift_at_k(y, u, t, "by_group", k),
        lambda: uplift_at_k(y, u, t, "overall", k),
    ):
        with contextlib.suppress(ValidationError):
            call()


# ---------------------------------------------------------------------- bootstrap
def reference_resamples(
    metric: Any, y: Any, u: Any, t: Any, n_resamples: int, seed: int, stratify: bool, **kw: Any
) -> Any:
    """The documented resampling, done one resample at a time: rows drawn with replacement
    (within each arm when stratified), kept in row order."""
    rng = np.random.default_rng(seed)
    n = y.size
    if stratify:
        treated, control = np.flatnonzero(t == 1), np.flatnonzero(t == 0)
        drawn = np.concatenate(
            [
                treated[rng.integers(0, treated.size, size=(n_resamples, treated.size))],
                control[rng.integers(0, control.size, size=(n_resamples, control.size))],
            ],
            axis=1,
        )
    else:
        drawn = rng.integers(0, n, size=(n_resamples, n))
    out = []
    for rows in drawn:
        rows = np.sort(rows)
        try:
            out.append(metric(y[rows], u[rows], t[rows], **kw))
        except ValidationError:
            out.append(math.nan)
    return np.array(out)


@pytest.mark.parametrize("stratify", [True, False])
@pytest.mark.parametrize(
    ("metric", "kwargs"),
    [
        (uplift_auc_score, {}),
        (qini_auc_score, {}),
        (qini_auc_score, {"negative_effect": False}),
        (uplift_at_k, {"strategy": "overall", "k": 0.3}),
        (uplift_at_k, {"strategy": "by_group", "k": 0.2}),
        (uplift_at_k, {"strategy": "overall", "k": 25}),
        (uplift_at_k, {"strategy": "by_group", "k": 9}),
    ],
)
def test_bootstrap_equals_resampling_one_by_one(
    metric: Any, kwargs: dict[str, Any], stratify: bool
) -> None:
    y, u, t = dataset(11, 300, 1)  # many ties: copies of a row tie with it and its equals
    fast = bootstrap(metric, y, u, t, n_resamples=40, seed=7, stratify=stratify, **kwargs)
    slow = reference_resamples(metric, y, u, t, 40, 7, stratify, **kwargs)
    np.testing.assert_allclose(fast.resamples, slow, rtol=1e-9, atol=1e-12)
    assert fast.estimate == metric(y, u, t, **kwargs)
    # a callable that is not one of the library's runs resample by resample: same values
    generic = bootstrap(
        lambda *a, **k: metric(*a, **k),
        y,
        u,
        t,
        n_resamples=40,
        seed=7,
        stratify=stratify,
        **kwargs,
    )
    np.testing.assert_allclose(generic.resamples, slow, rtol=1e-9, atol=1e-12)


def test_bootstrap_interval() -> None:
    y, u, t = dataset(12, *DATASETS[12])
    result = bootstrap("qini_auc_score", y, u, t, n_resamples=300, seed=3)
    assert isinstance(result, MetricInterval)
    assert result.low < result.estimate < result.high
    assert result.undefined == 0
    assert result.resamples.size == 300
    assert result.std_error == pytest.approx(np.std(result.resamples, ddof=1))
    lo, hi = np.quantile(result.resamples, [0.025, 0.975])
    assert (result.low, result.high) == (pytest.approx(lo), pytest.approx(hi))
    again = bootstrap(qini_auc_score, y, u, t, n_resamples=300, seed=np.random.default_rng(3))
    np.testing.assert_array_equal(again.resamples, result.resamples)
    narrow = bootstrap("qini_auc_score", y, u, t, n_resamples=300, seed=3, level=0.5)
    assert result.low < narrow.low < narrow.high < result.high
    assert "qini_auc_score" in str(result)
    assert "95% CI" in str(result)


def test_bootstrap_interval_covers_the_truth_on_simulations() -> None:
    """uplift at k=0.5 of a score with a known effect: the top half's true uplift is known."""
    covered = 0
    trials = 20
    for seed in range(trials):
        rng = np.random.default_rng(1000 + seed)
        n = 3000
        u = rng.random(n)
        t = rng.random(n) < 0.5
        lift = np.where(u > 0.5, 0.2, 0.0)  # the top half gains 20 points, the rest nothing
        y = (rng.random(n) < 0.3 + t * lift).astype(float)
        result = bootstrap(
            uplift_at_k, y, u, t, n_resamples=150, seed=seed, strategy="by_group", k=0.5
        )
        covered += result.low <= 0.2 <= result.high
    assert covered >= 0.8 * trials


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_resamples": 1}, "n_resamples"),
        ({"n_resamples": 2.5}, "n_resamples"),
        ({"level": 1.0}, "level"),
        ({"level": "95%"}, "level"),
        ({"seed": -1}, "seed"),
        ({"seed": 1.5}, "seed"),
        ({"stratify": "yes"}, "stratify"),
        ({"k": 2.0}, "open interval"),
    ],
)
def test_bootstrap_refuses_bad_parameters(kwargs: dict[str, Any], message: str) -> None:
    y, u, t = dataset(11, 100, 1)
    with pytest.raises(ValidationError, match=message):
        bootstrap("uplift_at_k", y, u, t, n_resamples=kwargs.pop("n_resamples", 10), **kwargs)


def test_bootstrap_refuses_unknown_metrics() -> None:
    y, u, t = dataset(11, 100, 1)
    with pytest.raises(ValidationError, match="metric"):
        bootstrap("auc", y, u, t)
    with pytest.raises(ValidationError, match="metric"):
        bootstrap(3, y, u, t)


# ---------------------------------------------------------------------- off-policy value
def simulate_logs(seed: int, n: int = 4000) -> dict[str, Any]:
    """A logging policy that contacted with known, varying probabilities; potential outcomes
    with a known mean under any target policy."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    p = 1.0 / (1.0 + np.exp(-0.8 * x))  # more active customers were contacted more
    p = np.clip(p, 0.1, 0.9)
    a = rng.random(n) < p
    mu0 = 10.0 + 5.0 * x
    tau = 3.0 + 2.0 * x  # the nudge helps active customers, hurts the most passive
    noise = rng.normal(scale=4.0, size=n)
    reward = mu0 + a * tau + noise
    target = (tau > 0).astype(float)  # contact whoever gains
    truth = float(np.mean(mu0 + target * tau))  # of this sample's own customers
    return {
        "reward": reward,
        "a": a,
        "p": p,
        "target": target,
        "mu0": mu0,
        "mu1": mu0 + tau,
        "truth": truth,
        "x": x,
    }


@pytest.mark.parametrize("method", ["ips", "snips", "dr"])
def test_off_policy_value_covers_the_truth(method: str) -> None:
    trials, covered, errors = 40, 0, []
    for seed in range(trials):
        s = simulate_logs(seed)
        outcomes = (s["mu0"] + 0.5, s["mu1"] - 0.5) if method == "dr" else None  # a biased model
        result = off_policy_value(
            s["reward"], s["a"], s["p"], s["target"], method=method, outcomes=outcomes
        )
        covered += result.low <= s["truth"] <= result.high
        errors.append(result.value - s["truth"])
    assert covered >= 0.85 * trials  # 95% intervals
    assert abs(np.mean(errors)) < 3 * np.std(errors) / math.sqrt(trials) + 0.05  # unbiased


def test_doubly_robust_has_less_variance_with_a_good_model() -> None:
    s = simulate_logs(1, n=20000)
    ips = off_policy_value(s["reward"], s["a"], s["p"], s["target"], method="ips")
    snips = off_policy_value(s["reward"], s["a"], s["p"], s["target"], method="snips")
    dr = off_policy_value(
        s["reward"], s["a"], s["p"], s["target"], method="dr", outcomes=(s["mu0"], s["mu1"])
    )
    assert dr.std_error < snips.std_error < ips.std_error
    # with the exact outcome model, what is left is the spread of the customers' values under
    # the policy and the noise (sd 4) scaled by the importance weights
    a, p, target = s["a"], s["p"], s["target"]
    w = np.where(a, target / p, (1 - target) / (1 - p))
    direct = target * s["mu1"] + (1 - target) * s["mu0"]
    expected = math.sqrt(np.var(direct) + np.mean(w**2) * 16.0) / math.sqrt(a.size)
    assert dr.std_error == pytest.approx(expected, rel=0.05)


def test_ips_and_dr_equal_closed_forms() -> None:
    reward = np.array([1.0, 0.0, 2.0, 3.0])
    a = np.array([1, 0, 1, 0])
    p = np.array([0.5, 0.25, 0.8, 0.5])
    target = np.array([1.0, 1.0, 0.0, 0.5])
    w = np.array([1 / 0.5, 0.0, 0.0, 0.5 / 0.5])
    ips = off_policy_value(reward, a, p, target, method="ips")
    assert ips.value == pytest.approx(np.mean(w * reward))
    assert ips.std_error == pytest.approx(np.std(w * reward, ddof=1) / 2)
    assert ips.effective_sample_size == pytest.approx(w.sum() ** 2 / (w**2).sum())
    snips = off_policy_value(reward, a, p, target, method="snips")
    assert snips.value == pytest.approx((w * reward).sum() / w.sum())
    mu0, mu1 = np.array([0.5, 0.5, 1.0, 2.0]), np.array([1.5, 1.0, 1.0, 2.5])
    dr = off_policy_value(reward, a, p, target, method="dr", outcomes=(mu0, mu1))
    direct = target * mu1 + (1 - target) * mu0
    logged = np.where(a == 1, mu1, mu0)
    assert dr.value == pytest.approx(np.mean(direct + w * (reward - logged)))
    assert isinstance(dr, PolicyValue)
    assert (dr.n, dr.method) == (4, "dr")
    z = 1.959963984540054
    assert (dr.low, dr.high) == (
        pytest.approx(dr.value - z * dr.std_error),
        pytest.approx(dr.value + z * dr.std_error),
    )
    assert "DR value" in str(dr)


def test_the_logging_policy_is_worth_what_it_earned() -> None:
    s = simulate_logs(3)
    own = off_policy_value(s["reward"], s["a"], s["p"], s["a"].astype(float), method="snips")
    # evaluating the logging policy's own decisions reweights nothing away
    assert own.value == pytest.approx(
        np.sum(s["reward"] / np.where(s["a"], s["p"], 1 - s["p"]))
        / np.sum(1 / np.where(s["a"], s["p"], 1 - s["p"]))
    )
    same = off_policy_value(s["reward"], s["a"], s["p"], s["p"], method="ips")
    assert same.value == pytest.approx(np.mean(s["reward"]))  # w = 1 everywhere


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"propensity": 0.0}, "positivity"),
        ({"propensity": 1.0}, "positivity"),
        ({"propensity": [0.5, 0.5, 1.0, 0.5, 0.5, 0.5]}, "positivity"),
        ({"propensity": [0.5, np.nan, 0.5, 0.5, 0.5, 0.5]}, "finite"),
        ({"propensity": [0.5] * 5}, "rows"),
        ({"propensity": "0.5"}, "propensity"),
        ({"propensity": None}, "propensity"),
        ({"treatment": [1, 0, 1]}, "rows"),
        ({"treatment": [1, 0, 2, 0, 1, 0]}, "binary"),
        ({"reward": [1.0, np.nan, 0, 0, 1, 0]}, "finite"),
        ({"target": [0.5, 1.2, 0, 0, 1, 0]}, r"\[0, 1\]"),
        ({"target": [0.5] * 7}, "rows"),
        ({"target": -0.1}, r"\[0, 1\]"),
        ({"method": "direct"}, "method"),
        ({"method": "dr"}, "needs outcomes"),
        ({"method": "ips", "outcomes": ([0.0] * 6, [0.0] * 6)}, "dr' only"),
        ({"outcomes": ([0.0] * 6, [0.0] * 5)}, "rows"),
        ({"outcomes": ([0.0] * 6,)}, "pair"),
        ({"outcomes": ([0.0] * 6, [np.inf] * 6)}, "finite"),
        ({"level": 0.0}, "level"),
        ({"reward": [1.0], "treatment": [1], "target": [1.0]}, "two"),
        ({"propensity": 0.01, "treatment": [1, 1, 1, 1, 1, 1]}, "randomised"),
    ],
)
def test_off_policy_bad_input(change: dict[str, Any], message: str) -> None:
    args: dict[str, Any] = {
        "reward": [1.0, 0.0, 0.0, 1.0, 1.0, 0.0],
        "treatment": [1, 0, 1, 0, 1, 0],
        "propensity": 0.5,
        "target": [1.0, 1.0, 0.0, 0.0, 1.0, 0.0],
        "method": "ips",
    }
    args.update(change)
    if args["method"] == "dr" and "outcomes" not in change and change.get("method") != "dr":
        args["outcomes"] = ([0.0] * 6, [0.0] * 6)
    if "outcomes" in change and "method" not in change:
        args["method"] = "dr"
    reward, treatment, propensity, target = (
        args.pop(k) for k in ("reward", "treatment", "propensity", "target")
    )
    with pytest.raises(ValidationError, match=message):
        off_policy_value(reward, treatment, propensity, target, **args)


@pytest.mark.parametrize("method", ["ips", "snips", "dr"])
def test_gain_over_a_baseline_covers_the_true_gain(method: str) -> None:
    trials, covered = 40, 0
    for seed in range(trials):
        s = simulate_logs(100 + seed)
        outcomes = (s["mu0"] + 0.5, s["mu1"] - 0.5) if method == "dr" else None
        gain = off_policy_value(
            s["reward"], s["a"], s["p"], s["target"], method=method, outcomes=outcomes, baseline=1.0
        )
        tau = s["mu1"] - s["mu0"]
        truth = float(np.mean((s["target"] - 1.0) * tau))  # versus contacting everyone
        covered += gain.low <= truth <= gain.high
        assert gain.versus_baseline
    assert covered >= 0.85 * trials


def test_gain_is_the_paired_difference() -> None:
    s = simulate_logs(5, n=3000)
    args = (s["reward"], s["a"], s["p"])
    for method, outcomes in (("ips", None), ("dr", (s["mu0"], s["mu1"]))):
        plan = off_policy_value(*args, s["target"], method=method, outcomes=outcomes)
        nobody = off_policy_value(*args, 0.0, method=method, outcomes=outcomes)
        gain = off_policy_value(*args, s["target"], method=method, outcomes=outcomes, baseline=0.0)
        assert gain.value == pytest.approx(plan.value - nobody.value)
        # by hand: the per-customer difference of the two estimators' terms
        a, p, pi = s["a"], s["p"], s["target"]
        w1 = np.where(a, pi / p, (1 - pi) / (1 - p))
        w0 = np.where(a, 0.0, 1 / (1 - p))
        if method == "ips":
            diff = (w1 - w0) * s["reward"]
        else:
            mu0, mu1 = outcomes  # type: ignore[misc]
            logged = np.where(a, mu1, mu0)
            diff = pi * mu1 + (1 - pi) * mu0 + w1 * (s["reward"] - logged)
            diff = diff - (mu0 + w0 * (s["reward"] - logged))
        assert gain.std_error == pytest.approx(np.std(diff, ddof=1) / math.sqrt(a.size))
        if method == "dr":  # the customers' own spread cancels in the paired difference
            assert gain.std_error < math.hypot(plan.std_error, nobody.std_error)
    with pytest.raises(ValidationError, match="baseline"):
        off_policy_value(*args, s["target"], method="ips", baseline=np.ones(5))
    with pytest.raises(ValidationError, match="baseline"):
        off_policy_value(*args, s["target"], method="ips", baseline=2.0)


@FAST
@given(
    reward=garbage,
    treatment=garbage,
    propensity=st.one_of(garbage, st.floats(-1, 2)),
    target=st.one_of(garbage, st.floats(-1, 2), st.booleans()),
    method=st.sampled_from(["ips", "snips", "dr", "x"]),
)
def test_off_policy_garbage_gets_a_validation_error(
    reward: Any, treatment: Any, propensity: Any, target: Any, method: str
) -> None:
    outcomes = (reward, reward) if method == "dr" else None
    with contextlib.suppress(ValidationError):
        result = off_policy_value(
            reward, treatment, propensity, target, method=method, outcomes=outcomes
        )
        assert math.isfinite(result.value)


@FAST
@given(
    data=logged(min_size=2),
    metric=st.sampled_from(
        [
            ("uplift_auc_score", {}),
            ("qini_auc_score", {}),
            ("qini_auc_score", {"negative_effect": False}),
            ("uplift_at_k", {}),
            ("uplift_at_k", {"strategy": "by_group", "k": 1}),
        ]
    ),
    stratify=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_bootstrap_on_small_logs_is_a_number_or_a_clear_refusal(
    data: Any, metric: tuple[str, dict[str, Any]], stratify: bool, seed: int
) -> None:
    y, u, t = data
    name, kwargs = metric
    try:
        result = bootstrap(name, y, u, t, n_resamples=5, seed=seed, stratify=stratify, **kwargs)
    except ValidationError:
        return
    assert result.resamples.shape == (5,)
    finite = result.resamples[~np.isnan(result.resamples)]
    if name == "uplift_at_k":
        assert np.all(np.abs(finite) <= 1.0)


@FAST
@given(
    values=st.lists(
        st.one_of(
            st.floats(allow_nan=False, allow_infinity=False),
            st.sampled_from([0.0, -0.0, 1.0, -1.0, 5e-324, -5e-324]),
        ),
        max_size=60,
    )
)
def test_the_radix_ranking_is_numpys_stable_argsort(values: list[float]) -> None:
    from privdomain.nudges.evaluation import _stable_argsort

    arr = np.array(values, dtype=np.float64)
    np.testing.assert_array_equal(_stable_argsort(arr), np.argsort(arr, kind="stable"))


# ---------------------------------------------------------------------- the float32 radix ranking
@st.composite
def crowded(draw: Any, min_size: int = 1) -> Any:
    """0/1 outcomes, treatment and scores crowded together: distinct float64 scores that
    round to one float32 (a few float64 steps apart), exact ties, -0.0 and 0.0, subnormals,
    scores beyond float32's range (they round to infinity), or all equal."""
    n = draw(st.integers(min_size, 60))
    ints = st.lists(st.integers(0, 1), min_size=n, max_size=n)
    y, t = np.array(draw(ints), dtype=float), np.array(draw(ints))
    bases = st.sampled_from(
        [0.0, -0.0, 1.0, -1.0, 0.1, -0.3, 1e-40, 5e-324, -5e-324, 3.4e38, 4e38, -1e300, 1e300]
    )
    base = np.array(draw(st.lists(bases, min_size=1, max_size=4)))
    which = np.array(draw(st.lists(st.integers(0, base.size - 1), min_size=n, max_size=n)))
    steps = np.array(draw(st.lists(st.integers(-3, 3), min_size=n, max_size=n)), dtype=float)
    # 1: next float64; 2**20: still one float32 near 1; 2**30: another float32
    scale = draw(st.sampled_from([0.0, 1.0, 2.0**20, 2.0**30]))
    u = base[which] + steps * scale * np.spacing(base[which])
    return y, u, t


def ref_ranked_counts(y: Any, u: Any, t: Any) -> list[tuple[int, int, int, int]]:
    """(N, Nt, Yt, Yc) at the end of each step of equal scores, highest first, one distinct
    score at a time."""
    out = []
    for v in sorted(set(u.tolist()), reverse=True):
        top = [i for i in range(len(u)) if u[i] >= v]
        out.append(
            (
                len(top),
                sum(1 for i in top if t[i] == 1),
                sum(1 for i in top if t[i] == 1 and y[i] == 1),
                sum(1 for i in top if t[i] == 0 and y[i] == 1),
            )
        )
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=crowded())
def test_the_float32_radix_ranking_counts_every_step_exactly(data: Any) -> None:
    from privdomain.nudges.evaluation import _ranked_counts

    y, u, t = data
    n_all, n_t, y_t, y_c, unit_steps = _ranked_counts(y, t.astype(bool), u)
    got = list(zip(n_all.tolist(), n_t.tolist(), y_t.tolist(), y_c.tolist(), strict=True))
    assert got == ref_ranked_counts(y, u, t)
    assert unit_steps == (len(set(u.tolist())) == u.size)
    assert n_all.dtype == n_t.dtype == y_t.dtype == y_c.dtype == np.int32


def float64_argsort_scores(kind: str, y: Any, u: Any, t: Any) -> float:
    """The scores the float64 way (a stable argsort of the scores, float cumulative sums):
    the path checked against scikit-uplift's own numbers above."""
    from privdomain.nudges.evaluation import _auc_scores, _step_ends

    yy, uu, tt = np.asarray(y, dtype=float), np.asarray(u, dtype=float), np.asarray(t) == 1
    order = np.argsort(uu, kind="stable")[::-1]
    return float(_auc_scores(kind, yy, uu, tt, True, order, _step_ends(uu[order]), None)[0])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=crowded(min_size=2), seed=st.integers(0, 2**32 - 1))
def test_scores_are_bit_for_bit_the_float64_ranking(data: Any, seed: int) -> None:
    y, u, t = data
    if t.min() == t.max():
        t[0] = 1 - t[0]
    rows = np.random.default_rng(seed).permutation(y.size)  # any row order
    y, u, t = y[rows], u[rows], t[rows]
    for kind, function in (("uplift", uplift_auc_score), ("qini", qini_auc_score)):
        expected = float64_argsort_scores(kind, y, u, t)
        if math.isnan(expected):
            with pytest.raises(ValidationError, match="undefined"):
                function(y, u, t)
            continue
        assert function(y, u, t) == expected  # bit for bit, not approximately
        assert function(y, u, t) == pytest.approx(ref_auc_score(kind, y, u, t), rel=1e-9, abs=1e-9)


def test_scores_of_one_float32_run_of_many_distinct_scores() -> None:
    """Thousands of distinct scores within one float32 (all re-sorted exactly), next to exact
    ties and scores far apart; the numbers scikit-uplift's definition gives."""
    rng = np.random.default_rng(7)
    n = 5000
    t = (rng.random(n) < 0.5).astype(np.int64)
    steps = rng.integers(0, 3000, n)
    u = np.where(rng.random(n) < 0.5, 1.0 + steps * 2.0**-52, rng.normal(size=n).round(2))
    y = (rng.random(n) < 0.3 + 0.2 * t * (steps > 1500)).astype(np.int64)
    for kind, function in (("uplift", uplift_auc_score), ("qini", qini_auc_score)):
        assert function(y, u, t) == float64_argsort_scores(kind, y, u, t)
