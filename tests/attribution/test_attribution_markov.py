"""Markov removal effects: equal to a dense absorbing-chain solve and to simulated walks."""

from __future__ import annotations

import numpy as np
import pytest
from attribution_helpers import dense_markov, journey_sets, paths_of
from hypothesis import given, settings
from hypothesis import strategies as st

from privdomain.attribution import Journeys, markov, transition_counts
from privdomain.errors import ValidationError
from privdomain.simulate import simulate_journeys


@pytest.mark.parametrize("order", [1, 2, 3])
def test_removal_effects_equal_a_dense_solve(order: int) -> None:
    journeys = simulate_journeys(2_000, n_channels=5, seed=order).journeys
    base, effects = dense_markov(paths_of(journeys), journeys.converted.tolist(), 5, order)
    transitions = transition_counts(journeys, order=order)
    assert transitions.conversion_probability() == pytest.approx(base, rel=1e-12)
    np.testing.assert_allclose(transitions.removal_effects(), effects, rtol=1e-10, atol=1e-13)
    credit = markov(journeys, order=order)
    np.testing.assert_allclose(
        credit.credit, np.array(effects) / sum(effects) * journeys.conversions, rtol=1e-10
    )


def test_tiny_graph_against_simulated_walks() -> None:
    # A -> B -> conv, A -> null, B -> A loops, C -> conv: the chain has a cycle
    paths = [("A", "B"), ("A",), ("B", "A", "B"), ("C",), ("C", "A"), ("B",)]
    converted = [True, False, True, True, False, False]
    journeys = Journeys.from_paths(paths, converted)
    t = transition_counts(journeys)
    p = t.probabilities().toarray()
    rng = np.random.default_rng(7)
    walks = 200_000
    for removed in [None, "A", "B", "C"]:
        state = np.zeros(walks, dtype=np.int64)
        blocked = (
            np.zeros(p.shape[0], bool)
            if removed is None
            else np.concatenate([[False], t.contains[:, t.channel_names.index(removed)], [0, 0]])
        )
        for _ in range(200):
            moving = state < t.conversion_state
            cumulative = p[state[moving]].cumsum(axis=1)
            step = (rng.random(moving.sum())[:, None] > cumulative).sum(axis=1)
            state[moving] = np.where(blocked[step], t.null_state, step)
        estimate = float((state == t.conversion_state).mean())
        exact = t.conversion_probability(removed)
        assert abs(estimate - exact) < 4 * np.sqrt(exact * (1 - exact) / walks) + 1e-9


def test_transition_counts_and_state_names() -> None:
    journeys = Journeys.from_paths([("a", "b", "b"), ("b",)], [True, False])
    t = transition_counts(journeys)
    assert t.state_names() == ("(start)", "a", "b", "(conversion)", "(null)")
    assert t.counts.toarray().tolist() == [
        [0, 1, 1, 0, 0],
        [0, 0, 1, 0, 0],
        [0, 0, 1, 1, 1],
        [0, 0, 0, 0, 0],
        [0, 0, 0, 0, 0],
    ]
    second = transition_counts(journeys, order=2)
    assert second.state_names()[1:-2] == ("a", "b", "a > b", "b > b")


def test_removing_a_channel_on_every_converting_path_removes_everything() -> None:
    journeys = Journeys.from_paths([("a", "b"), ("a",), ("c",)], [True, True, False])
    credit = markov(journeys)
    assert credit.removal_effect is not None
    assert credit.removal_effect[0] == pytest.approx(1.0)
    assert credit.credit.sum() == pytest.approx(2.0)


@settings(max_examples=40, deadline=None)
@given(journey_sets(), st.integers(1, 3))
def test_credits_sum_to_conversions(journeys: Journeys, order: int) -> None:
    credit = markov(journeys, order=order)
    assert credit.credit.sum() == pytest.approx(journeys.conversions, abs=1e-9)
    assert (credit.credit >= -1e-12).all()
    _base, effects = dense_markov(
        paths_of(journeys), journeys.converted.tolist(), journeys.n_channels, order
    )
    np.testing.assert_allclose(credit.removal_effect, effects, atol=1e-9)
    # deterministic: the same journeys give the same credit, bit for bit
    assert np.array_equal(markov(journeys, order=order).credit, credit.credit)


@pytest.mark.parametrize("order", [0, 7, 1.5, True, "1"])
def test_bad_orders(order: object) -> None:
    journeys = Journeys.from_paths([("a",)], [True])
    with pytest.raises(ValidationError, match="order"):
        markov(journeys, order=order)  # type: ignore[arg-type]


def test_unknown_channel_removed() -> None:
    t = transition_counts(Journeys.from_paths([("a",)], [True]))
    with pytest.raises(ValidationError, match="unknown channel"):
        t.conversion_probability("zzz")


@pytest.mark.parametrize("order", [1, 3])
def test_sparse_counting_and_sorted_states_equal_the_dense_solve(
    order: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # with a tiny threshold, transition pairs are counted sparsely and states numbered by
    # sorting (what very many channels or a high order do)
    import importlib

    markov_module = importlib.import_module("privdomain.attribution.markov")
    journeys = simulate_journeys(2_000, n_channels=6, seed=9).journeys
    dense = transition_counts(journeys, order=order)
    monkeypatch.setattr(markov_module, "_DENSE_PAIRS", 4)
    sparse = transition_counts(journeys, order=order)
    assert (sparse.counts != dense.counts).nnz == 0
    assert sparse.states == dense.states
    _, effects = dense_markov(paths_of(journeys), journeys.converted.tolist(), 6, order)
    np.testing.assert_allclose(sparse.removal_effects(), effects, rtol=1e-9, atol=1e-12)
