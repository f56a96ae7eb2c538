"""The journey simulator: its truth is what it says, and exposure and effect disagree."""

from __future__ import annotations

import math

import numpy as np
import pytest
from attribution_helpers import paths_of
from scipy.stats import spearmanr

from privdomain._simulate_journeys import MAX_EFFECT
from privdomain.errors import ValidationError
from privdomain.simulate import simulate_journeys


def test_truth_equals_a_journey_by_journey_count() -> None:
    sim = simulate_journeys(800, n_channels=4, seed=3)
    truth = np.zeros(4)
    for j, path in enumerate(paths_of(sim.journeys)):
        touched = set(path)
        eta = sim.base_log_odds + sum(sim.effect[c] for c in touched)
        assert sim.conversion_probability[j] == pytest.approx(1 / (1 + math.exp(-eta)))
        for c in touched:
            truth[c] += 1 / (1 + math.exp(-eta)) - 1 / (1 + math.exp(-(eta - sim.effect[c])))
    np.testing.assert_allclose(sim.true_incremental, truth, rtol=1e-12)


def test_draws_follow_the_stated_parameters() -> None:
    sim = simulate_journeys(100_000, n_channels=6, mean_touches=2.5, base_rate=0.05, seed=1)
    journeys = sim.journeys
    share = np.bincount(journeys.channel, minlength=6) / journeys.channel.size
    np.testing.assert_allclose(share, sim.exposure, atol=0.005)
    assert journeys.lengths.mean() == pytest.approx(2.5, abs=0.02)
    assert journeys.converted.mean() == pytest.approx(sim.conversion_probability.mean(), abs=0.004)
    assert sim.base_log_odds == pytest.approx(math.log(0.05 / 0.95))
    assert sim.effect.max() == pytest.approx(MAX_EFFECT)
    assert (journeys.age >= 0).all()
    # the totals follow evenly spaced levels, in an order drawn apart from popularity
    ranks = np.sort(sim.true_incremental / sim.true_incremental.min())
    np.testing.assert_allclose(ranks, np.linspace(1, 3, 6), rtol=0.05)
    same = simulate_journeys(100_000, n_channels=6, mean_touches=2.5, base_rate=0.05, seed=1)
    assert np.array_equal(same.journeys.channel, journeys.channel)


def test_exposure_says_little_about_the_truth_on_average() -> None:
    rho = [
        spearmanr(s.exposure, s.true_incremental).statistic
        for s in (simulate_journeys(2_000, seed=seed) for seed in range(12))
    ]
    assert abs(float(np.mean(rho))) < 0.3


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_journeys": 0}, "n_journeys"),
        ({"n_channels": 1}, "n_channels"),
        ({"n_channels": 13}, "n_channels"),
        ({"mean_touches": 0.5}, "mean_touches"),
        ({"base_rate": 1.0}, "base_rate"),
    ],
)
def test_bad_parameters(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        simulate_journeys(**kwargs)  # type: ignore[arg-type]
