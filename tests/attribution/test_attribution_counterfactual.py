"""Model-based counterfactual credit: it finds the channels' true incremental conversions."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr
from sklearn.neighbors import KNeighborsClassifier

from privdomain.attribution import Journeys, counterfactual, markov, shapley
from privdomain.errors import ValidationError
from privdomain.simulate import simulate_journeys


def test_ranks_true_incremental_conversions_where_path_credit_does_not() -> None:
    sim = simulate_journeys(100_000, seed=0)
    credit = counterfactual(sim.journeys, n_bootstrap=0)
    rho = spearmanr(credit.credit, sim.true_incremental).statistic
    assert rho >= 0.95
    # path-based credit follows exposure instead (the simulator makes the two disagree)
    for path_based in (markov(sim.journeys), shapley(sim.journeys)):
        assert spearmanr(path_based.credit, sim.true_incremental).statistic < 0.5
        assert spearmanr(path_based.credit, sim.exposure).statistic > 0.95
    # and the amounts, not only the ranks, are close to the truth
    np.testing.assert_allclose(credit.credit.sum(), sim.true_incremental.sum(), rtol=0.1)


def test_bootstrap_intervals_are_seeded_and_cover_the_truth() -> None:
    sim = simulate_journeys(30_000, n_channels=5, seed=4)
    a = counterfactual(sim.journeys, n_bootstrap=40, seed=11)
    b = counterfactual(sim.journeys, n_bootstrap=40, seed=11)
    assert a.lower is not None
    assert a.upper is not None
    assert np.array_equal(a.lower, b.lower)
    assert np.array_equal(a.upper, b.upper)
    assert (a.lower <= a.credit).all()
    assert (a.credit <= a.upper).all()
    covered = (a.lower <= sim.true_incremental) & (sim.true_incremental <= a.upper)
    assert covered.sum() >= 4  # a 90% interval: most of the five channels
    assert a.removal_effect is not None
    np.testing.assert_allclose(a.removal_effect, a.credit / sim.journeys.converted.sum())


def test_grouping_into_patterns_equals_a_fit_on_every_journey() -> None:
    # a model without sample weights sees every journey; with weights, one row per pattern
    sim = simulate_journeys(3_000, n_channels=4, seed=2)
    knn = counterfactual(sim.journeys, n_bootstrap=2, model=KNeighborsClassifier(50))
    assert np.isfinite(knn.credit).all()
    from sklearn.linear_model import LogisticRegression

    from privdomain.attribution import path_features

    touches = sim.journeys.touched()
    model = LogisticRegression(C=10.0, max_iter=2000).fit(
        path_features(touches), sim.journeys.converted
    )
    full = model.predict_proba(path_features(touches))[:, 1]
    expected = []
    for c in range(4):
        without = touches.copy()
        without[:, c] = 0
        drop = full - model.predict_proba(path_features(without))[:, 1]
        expected.append(float(drop[touches[:, c] > 0].sum()))
    np.testing.assert_allclose(
        counterfactual(sim.journeys, n_bootstrap=0).credit, expected, rtol=1e-3, atol=1e-3
    )


@pytest.mark.parametrize(
    ("journeys", "kwargs", "match"),
    [
        (Journeys.from_paths([("a",), ("b",)], [True, True]), {}, "unconverted"),
        (Journeys.from_paths([("a",), ("b",)], [False, False]), {}, "converted"),
        (Journeys.from_paths([("a",), ("b",)], [True, False]), {"n_bootstrap": -1}, "n_bootstrap"),
        (Journeys.from_paths([("a",), ("b",)], [True, False]), {"confidence": 1.0}, "confidence"),
        (
            Journeys.from_paths([("a",), ("b",)], [True, False]),
            {"model": object()},
            "predict_proba",
        ),
        (Journeys.from_csr([0], [], [], channels=["a"]), {}, "no journeys"),
    ],
)
def test_bad_input(journeys: Journeys, kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        counterfactual(journeys, **kwargs)  # type: ignore[arg-type]


def test_shapley_on_the_model_equals_subset_enumeration_and_splits_the_lift() -> None:
    import itertools
    import math

    from sklearn.linear_model import LogisticRegression

    from privdomain.attribution import path_features

    sim = simulate_journeys(3_000, n_channels=4, seed=5)
    touches = sim.journeys.touched()
    model = LogisticRegression(C=10.0, max_iter=2000).fit(
        path_features(touches), sim.journeys.converted
    )

    def p(rows: np.ndarray) -> np.ndarray:
        return model.predict_proba(path_features(rows))[:, 1]

    expected = np.zeros(4)
    distinct, times = np.unique(touches, axis=0, return_counts=True)
    for row, n in zip(distinct, times, strict=True):  # every subset of every distinct path
        members = np.flatnonzero(row).tolist()
        m = len(members)
        for c in members:
            others = [o for o in members if o != c]
            for size in range(m):
                w = math.factorial(size) * math.factorial(m - size - 1) / math.factorial(m)
                for s in itertools.combinations(others, size):
                    keep = np.zeros(4, bool)
                    keep[list(s)] = True
                    base = np.where(keep, row, 0)
                    keep[c] = True
                    gain = p(np.where(keep, row, 0)[None])[0] - p(base[None])[0]
                    expected[c] += n * w * gain
    credit = counterfactual(sim.journeys, credit="shapley", n_bootstrap=0)
    np.testing.assert_allclose(credit.credit, expected, rtol=2e-3, atol=1e-2)
    lift = (p(touches) - p(np.zeros((1, 4), np.int64))[0]).sum()
    assert credit.credit.sum() == pytest.approx(lift, rel=2e-3)
    assert "credit='shapley'" in credit.method


def test_shapley_on_the_model_refuses_bad_arguments() -> None:
    journeys = Journeys.from_paths([("a",), ("b",)], [True, False])
    with pytest.raises(ValidationError, match="credit"):
        counterfactual(journeys, credit="share")  # type: ignore[arg-type]
    names = [f"c{i}" for i in range(13)]
    wide = Journeys.from_paths([tuple(names), ("c0",)], [True, False], channels=names)
    with pytest.raises(ValidationError, match="at most 12 channels per journey"):
        counterfactual(wide, credit="shapley")
