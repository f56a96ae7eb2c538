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
    assert credit.lift == pytest.approx(lift, rel=2e-3)
    assert "credit='shapley'" in credit.method


def _no_effect_log(seed: int) -> Journeys:
    """An event log where buying does not depend on the channels at all."""
    rng = np.random.default_rng(seed)
    n = 20_000
    return Journeys.from_events(
        rng.integers(0, 2_000, n),
        rng.uniform(0, 200, n),
        rng.choice(["WECOM", "SMS", "APP"], n),
        rng.random(n) < 0.1,
        as_of=200.0,
    )


def test_no_effect_gives_no_credit_and_says_so() -> None:
    journeys = _no_effect_log(0)
    assert journeys.unattributed > 0  # purchases without a touch: all converted, by construction
    cf = counterfactual(journeys, n_bootstrap=30, seed=3)
    assert cf.lower is not None
    assert cf.upper is not None
    assert cf.lift_interval is not None
    # fitted on the touchless converted journeys every credit was about -240 (of ~1,300)
    assert (np.abs(cf.credit) < 0.05 * journeys.conversions).all()
    assert ((cf.lower <= 0) & (cf.upper >= 0)).sum() >= 2  # 90% intervals, three channels
    assert cf.lift_interval[0] <= 0 <= cf.lift_interval[1]
    assert len(cf.notes) == 2
    assert "left out of the fit" in cf.notes[0]
    assert "no clear lift" in cf.notes[1]
    assert cf.explain("SMS").count("\nNote: ") == 2
    # the result still counts every conversion, those without a touch as unattributed
    assert (cf.conversions, cf.unattributed) == (journeys.conversions, journeys.unattributed)


def test_a_real_lift_has_no_notes_and_matches_the_truth() -> None:
    sim = simulate_journeys(30_000, n_channels=5, seed=4)
    cf = counterfactual(sim.journeys, n_bootstrap=20, seed=1)
    assert cf.notes == ()
    assert cf.lift_interval is not None
    assert cf.lift_interval[0] > 0
    # the truth: every journey's conversion probability minus the one without any channel
    true_lift = (sim.conversion_probability - 1 / (1 + np.exp(-sim.base_log_odds))).sum()
    assert cf.lift == pytest.approx(true_lift, rel=0.1)
    assert cf.lift_interval[0] <= true_lift <= cf.lift_interval[1]
    assert "Note" not in cf.explain(cf.channels[0])


def test_observed_journeys_without_touches_are_kept() -> None:
    # a randomised holdout: journeys with no channel that did and did not convert
    rng = np.random.default_rng(2)
    n = 4_000
    touched = rng.random(n) < 0.7
    converted = rng.random(n) < np.where(touched, 0.3, 0.1)  # the channel adds 0.2 per journey
    offsets = np.concatenate([[0], np.cumsum(touched)])
    journeys = Journeys.from_csr(
        offsets, np.zeros(int(touched.sum()), np.int64), converted, channels=["SMS"]
    )
    cf = counterfactual(journeys, n_bootstrap=20, seed=0)
    assert cf.notes == ()
    # with one channel the credit is the observed difference of rates times the touched
    rate = converted[touched].mean() - converted[~touched].mean()
    assert cf["SMS"] == pytest.approx(rate * touched.sum(), rel=0.02)
    assert cf.lift == pytest.approx(cf["SMS"], rel=1e-6)
    # a channel that lowers buying: a lift that is not positive, said so even without resamples
    harmful = Journeys.from_csr(
        offsets, np.zeros(int(touched.sum()), np.int64), ~converted, channels=["SMS"]
    )
    worse = counterfactual(harmful, n_bootstrap=0)
    assert worse.lift is not None
    assert worse.lift < 0
    assert worse.lift_interval is None
    assert "not positive" in worse.notes[-1]


def test_shapley_on_the_model_refuses_bad_arguments() -> None:
    journeys = Journeys.from_paths([("a",), ("b",)], [True, False])
    with pytest.raises(ValidationError, match="credit"):
        counterfactual(journeys, credit="share")  # type: ignore[arg-type]
    names = [f"c{i}" for i in range(13)]
    wide = Journeys.from_paths([tuple(names), ("c0",)], [True, False], channels=names)
    with pytest.raises(ValidationError, match="at most 12 channels per journey"):
        counterfactual(wide, credit="shapley")
